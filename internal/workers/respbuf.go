package workers

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Budget bounds a quantity shared by many requests together: bytes held in
// memory (request bodies, responses), bytes on disk, open spool files. The
// zero value has no room; a nil *Budget has unlimited room.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit units.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// TryAcquire takes n if it fits.
func (b *Budget) TryAcquire(n int64) bool {
	if b == nil {
		return true
	}
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

// Charge takes n whether it fits or not: what it counts is already there
// (bytes read into memory). Over then reports the overdraft.
func (b *Budget) Charge(n int64) {
	if b != nil && n != 0 {
		b.used.Add(n)
	}
}

// Over reports whether more is taken than the limit allows.
func (b *Budget) Over() bool { return b != nil && b.used.Load() > b.limit }

// Release gives back n taken with TryAcquire or Charge.
func (b *Budget) Release(n int64) {
	if b != nil && n != 0 {
		b.used.Add(-n)
	}
}

// InUse reports what is taken now.
func (b *Budget) InUse() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Limit reports the budget's limit (0 for a nil one).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// ErrResponseMemory: the responses already held in memory are over
// --response-memory-total and could go to no spool; new requests are
// refused (503) until clients take them or they are cut off.
var ErrResponseMemory = errors.New("response memory full (--response-memory-total) and no room to spool")

// ErrCutOff: the response's client took nothing while the response had
// no room left, in memory or on disk, for --timeout; the response was
// dropped and its worker slot freed.
var ErrCutOff = errors.New("the client did not read the response for --timeout, with no room left to buffer it")

// respStore is what all responses share: the memory and disk bounds and
// the spool file.
type respStore struct {
	mem      *Budget       // response bytes in memory, all requests (--response-memory-total)
	disk     *Budget       // response bytes spooled, all requests (--response-spool-total)
	perMem   int64         // one response's bytes in memory (--response-buffer)
	perSpool int64         // one response's bytes spooled (--response-spool)
	cutAfter time.Duration // how long a response may wait for room (--timeout)
	arena    *spoolArena
}

func newRespStore(o *Options) *respStore {
	var disk *Budget
	if o.ResponseSpoolTotal > 0 {
		disk = NewBudget(o.ResponseSpoolTotal)
	}
	return &respStore{mem: NewBudget(o.ResponseMemory), disk: disk, perMem: o.ResponseBuffer, perSpool: o.ResponseSpool,
		cutAfter: o.Timeout, arena: &spoolArena{dir: o.TempDir, files: o.SpoolFiles}}
}

// SpoolFiles is the count of spool files open (Options.SpoolFiles), which
// the front's request body spools share.
func (p *Pool) SpoolFiles() *Budget { return p.opts.SpoolFiles }

func (s *respStore) budget() *Budget {
	if s == nil {
		return nil
	}
	return s.mem
}

// full reports whether new requests must be refused: responses hold more
// memory than the bound, which happens only when the spool had no room.
func (s *respStore) full() bool { return s.budget().Over() }

// spoolArena is the one spool file of all responses: an unlinked temp
// file, written at the end, whose regions are handed back as they are
// read (their pages punched out, so the disk space goes at once); when no
// region is in use it starts again from the beginning. One descriptor
// serves every spooled response, however many clients stall. Regions are
// page-aligned, so a punched region frees whole pages.
type spoolArena struct {
	dir   string
	files *Budget // the descriptor counts under --max-spool-files

	mu   sync.Mutex
	f    *os.File
	end  int64 // the next region's offset
	live int64 // bytes of regions in use
	err  error // the file could not be made: no spooling
}

const arenaPage = 4096

// reserve takes a region for n bytes and returns its offset and size.
func (a *spoolArena) reserve(n int64) (f *os.File, off, size int64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return nil, 0, 0, false
	}
	if a.f == nil {
		if !a.files.TryAcquire(1) {
			return nil, 0, 0, false // try again later
		}
		f, err := os.CreateTemp(a.dir, "gowsgi-response-")
		if err != nil {
			a.files.Release(1)
			a.err = err
			return nil, 0, 0, false
		}
		os.Remove(f.Name())
		a.f = f
	}
	if a.live == 0 && a.end > 0 {
		a.f.Truncate(0) // nothing in use: start over
		a.end = 0
	}
	size = (n + arenaPage - 1) &^ (arenaPage - 1)
	off = a.end
	a.end += size
	a.live += size
	return a.f, off, size, true
}

// release hands back a region taken with reserve.
func (a *spoolArena) release(off, size int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.live -= size
	if a.live > 0 {
		// Where punching holes is not supported, the space comes back
		// when nothing is in use (the truncate in reserve).
		punchHole(int(a.f.Fd()), off, size)
	}
}

// spoolScratch is the buffer a spooled response is read back through, one
// per response reading from the spool: a small, fixed cost per response
// (like the engines' own per-stream buffers), not counted in the memory
// budget.
const spoolScratch = 16 << 10

// respBuffer holds the rest of a streamed response between the goroutine
// that reads it off the worker's slot (as fast as the worker produces it)
// and the one that sends it to the client (as fast as the client reads), so
// a slow client costs memory or disk, never a worker thread. Up to memLimit
// bytes, and what the shared memory budget allows, stay in memory, counted
// until the consumer is done with them (the piece pop returned counts
// until the next pop); beyond, bytes go to the shared spool, up to
// spoolMax bytes and what the shared disk budget allows; beyond that the
// producer waits for the consumer, for cutAfter at most: then the response
// is cut off (ErrCutOff) and the worker's slot goes free.
type respBuffer struct {
	mu       sync.Mutex
	cond     sync.Cond
	segs     []segment
	mem      int64 // bytes of memory segments held
	memLimit int64
	budget   *Budget // all responses' memory
	disk     *Budget // all responses' spooled bytes
	arena    *spoolArena
	spoolMax int64
	spooled  int64  // bytes of regions of the spool held
	popped   []byte // the memory piece pop last returned, still counted
	ended    bool   // the producer is done; err says how
	err      error  // io.EOF for a complete response
	discard  bool   // the consumer wants no more
	scratch  []byte
	cutAfter time.Duration
	expired  bool // the producer waited cutAfter for room
}

// segment is a run of body bytes: in memory, or n bytes of the spool at
// off, in the region [base, base+size) to release once read.
type segment struct {
	mem        []byte
	off, n     int64
	base, size int64
}

// newRespBuffer returns a buffer under s's bounds; a nil s: one that
// holds nothing (after close) and counts nothing.
func newRespBuffer(s *respStore) *respBuffer {
	b := &respBuffer{}
	if s != nil {
		b.memLimit, b.budget, b.disk, b.arena = s.perMem, s.mem, s.disk, s.arena
		b.spoolMax, b.cutAfter = s.perSpool, s.cutAfter
	}
	b.cond.L = &b.mu
	return b
}

// push appends data. It waits while neither memory nor spool has room,
// cutAfter at most. kept reports that the buffer keeps data (the caller
// must not reuse it; else it was copied to the spool, or dropped); cut,
// that it cut the response off: the producer should tell the worker to
// stop. While it waits, data is held by the producer, which holds a worker
// slot: there are no more of those than slots.
func (b *respBuffer) push(data []byte) (kept, cut bool) {
	n := int64(cap(data)) // the memory it takes, which the budget counts
	b.mu.Lock()
	defer b.mu.Unlock()
	var timer *time.Timer
	for {
		if b.discard {
			return false, false
		}
		if (b.mem == 0 || b.mem+n <= b.memLimit) && b.budget.TryAcquire(n) {
			b.segs = append(b.segs, segment{mem: data})
			b.mem += n
			b.cond.Broadcast()
			return true, false
		}
		if b.spoolWrite(data) {
			b.cond.Broadcast()
			return false, false
		}
		if b.expired {
			// Nowhere to go and nobody reading: cut the response off.
			b.dropLocked()
			b.ended, b.err = true, ErrCutOff
			return false, true
		}
		if timer == nil && b.cutAfter > 0 {
			timer = time.AfterFunc(b.cutAfter, func() {
				b.mu.Lock()
				b.expired = true
				b.cond.Broadcast()
				b.mu.Unlock()
			})
			defer timer.Stop()
		}
		b.cond.Wait() // backpressure: the worker waits for the client
	}
}

// spoolWrite appends data to the spool, if this response and all of them
// together have room. b.mu is held; the write happens under it, which is
// merely slower for the consumer, never wrong.
func (b *respBuffer) spoolWrite(data []byte) bool {
	n := int64(len(data))
	if b.arena == nil || b.spoolMax <= 0 || b.spooled+n > b.spoolMax {
		return false
	}
	size := (n + arenaPage - 1) &^ (arenaPage - 1)
	if !b.disk.TryAcquire(size) {
		return false // all spools together are full: wait for room
	}
	f, off, size, ok := b.arena.reserve(n)
	if !ok {
		b.disk.Release(size)
		return false
	}
	if _, err := f.WriteAt(data, off); err != nil {
		b.arena.release(off, size)
		b.disk.Release(size)
		return false
	}
	b.segs = append(b.segs, segment{off: off, n: n, base: off, size: size})
	b.spooled += size
	return true
}

// end records that no more data comes: err is io.EOF for a complete
// response, else why it broke.
func (b *respBuffer) end(err error) {
	b.mu.Lock()
	if b.ended { // cut off already
		b.mu.Unlock()
		return
	}
	b.ended, b.err = true, err
	b.cond.Broadcast()
	b.mu.Unlock()
}

// pop returns the next bytes, waiting for them; after the last it returns
// the producer's error (io.EOF when complete). The bytes are valid until
// the next call. more reports that further bytes are already there.
func (b *respBuffer) pop() (data []byte, more bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.donePopped() // the caller is done with the last piece
	for len(b.segs) == 0 {
		if b.ended {
			return nil, false, b.err
		}
		b.cond.Wait()
	}
	s := &b.segs[0]
	if s.mem != nil {
		data = s.mem
		b.mem -= int64(cap(data))
		b.popped = data // counted until the next pop
		b.segs = b.segs[1:]
	} else {
		if b.scratch == nil {
			b.scratch = make([]byte, spoolScratch)
		}
		k := min(s.n, int64(len(b.scratch)))
		m, rerr := b.arena.f.ReadAt(b.scratch[:k], s.off)
		if m == 0 && rerr != nil {
			b.dropLocked()
			return nil, false, rerr
		}
		data = b.scratch[:m]
		s.off += int64(m)
		s.n -= int64(m)
		if s.n == 0 {
			b.freeRegion(*s)
			b.segs = b.segs[1:]
		}
	}
	b.cond.Broadcast() // room for the producer
	return data, len(b.segs) > 0, nil
}

// freeRegion gives back the spool region of s; b.mu is held.
func (b *respBuffer) freeRegion(s segment) {
	b.arena.release(s.base, s.size)
	b.disk.Release(s.size)
	b.spooled -= s.size
}

// ready reports whether pop would return without waiting.
func (b *respBuffer) ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.segs) > 0 || b.ended
}

// close drops what is buffered; a producer still pushing has its data
// discarded from now on.
func (b *respBuffer) close() {
	b.mu.Lock()
	b.dropLocked()
	b.donePopped()
	b.scratch = nil
	b.mu.Unlock()
}

// donePopped gives back the memory of the piece pop returned last, once
// the consumer is done with it: its count, and its buffer when it was a
// large frame's. b.mu is held.
func (b *respBuffer) donePopped() {
	if b.popped != nil {
		b.budget.Release(int64(cap(b.popped)))
		putPayload(b.popped)
		b.popped = nil
	}
}

// dropLocked discards what is buffered and frees its memory and spool
// regions; b.mu is held.
func (b *respBuffer) dropLocked() {
	b.discard = true
	b.budget.Release(b.mem)
	b.mem = 0
	for _, s := range b.segs {
		if s.mem == nil {
			b.freeRegion(s)
		}
	}
	b.segs = nil
	b.cond.Broadcast()
}

// hold counts n bytes of the response that x holds itself (its body's
// start, the chunks collected with it) as response memory, when they fit
// the budget; those that do not stay uncounted until spill decides where
// they go.
func (x *Exchange) hold(n int64) {
	if x.p.resp.budget().TryAcquire(n) {
		x.charged += n
	} else {
		x.uncounted += n
	}
}

// holding reports the bytes x holds itself.
func (x *Exchange) holding() int64 { return x.charged + x.uncounted }

// unhold gives back what hold counted: the bytes are gone, or a buffer
// counts them now.
func (x *Exchange) unhold() {
	x.p.resp.budget().Release(x.charged)
	x.charged, x.uncounted = 0, 0
}

func (s *respStore) perBuffer() int64 {
	if s == nil {
		return 1 << 20
	}
	return s.perMem
}

// spill decides where a finished response that x holds itself waits for
// its client, when it did not fit the memory budget: in the spool, so that
// a client that does not read it holds disk, not memory; else in memory
// anyway, counted over the budget, and new requests are refused until
// memory is back under it.
func (x *Exchange) spill() {
	if x.uncounted == 0 {
		return
	}
	rb := newRespBuffer(x.p.resp)
	rb.mu.Lock()
	ok := len(x.resp.Body) == 0 || rb.spoolWrite(x.resp.Body)
	for _, c := range x.chunks {
		ok = ok && (len(c) == 0 || rb.spoolWrite(c))
	}
	rb.mu.Unlock()
	if !ok {
		rb.close()
		x.p.resp.budget().Charge(x.uncounted)
		x.charged += x.uncounted
		x.uncounted = 0
		return
	}
	rb.end(x.end)
	x.unhold()
	x.resp.Body, x.resp.Complete, x.chunks = nil, false, nil
	if x.recycle != nil {
		putPayload(x.recycle)
		x.recycle = nil
	}
	x.rb = rb
}
