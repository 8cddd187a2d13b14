package workers

import (
	"errors"
	"io"
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
// --response-memory-total and could go to no spool file; new requests are
// refused (503) until clients take them or they are cut off.
var ErrResponseMemory = errors.New("response memory full (--response-memory-total) and no room to spool")

// ErrCutOff: the response's client took nothing while the response had
// no room left, in memory or on disk, for --timeout; the response was
// dropped and its worker slot freed.
var ErrCutOff = errors.New("the client did not read the response for --timeout, with no room left to buffer it")

// respStore is what all responses share: the memory and disk bounds, and
// the spool files (shared with request bodies' spools).
type respStore struct {
	mem      *Budget // response bytes in memory, all requests (--response-memory-total)
	disk     *Budget // response bytes in spool files (--response-spool-total)
	files    *Budget // spool files open, requests' and responses' (--max-spool-files)
	perMem   int64   // one response's bytes in memory (--response-buffer)
	perSpool int64   // one response's bytes spooled (--response-spool)
	dir      string
	cutAfter time.Duration // how long a response may wait for room (--timeout)
}

func newRespStore(o *Options) *respStore {
	var disk *Budget
	if o.ResponseSpoolTotal > 0 {
		disk = NewBudget(o.ResponseSpoolTotal)
	}
	return &respStore{mem: NewBudget(o.ResponseMemory), disk: disk, files: o.SpoolFiles,
		perMem: o.ResponseBuffer, perSpool: o.ResponseSpool, dir: o.TempDir, cutAfter: o.Timeout}
}

// full reports whether new requests must be refused: responses hold more
// memory than the bound, which happens only when the spool had no room.
func (s *respStore) full() bool { return s.budget().Over() }

// spoolScratch is the buffer a spooled response is read back through; it
// counts as response memory while the response lives.
const spoolScratch = 32 << 10

// respBuffer holds the rest of a streamed response between the goroutine
// that reads it off the worker's slot (as fast as the worker produces it)
// and the one that sends it to the client (as fast as the client reads), so
// a slow client costs memory or disk, never a worker thread. Every byte in
// memory counts in the shared budget from the moment it is read off the
// slot until the consumer is done with it (the popped piece counts until
// the next pop). Up to memLimit bytes (and what the shared budget allows)
// stay in memory; beyond, bytes go to an unlinked spool file of up to
// spoolMax bytes (and what the shared disk budget and the spool file count
// allow); beyond that the producer waits for the consumer, for cutAfter at
// most: then the response is cut off (ErrCutOff) and the slot goes free.
type respBuffer struct {
	mu       sync.Mutex
	cond     sync.Cond
	segs     []segment
	mem      int64 // bytes of memory segments held
	memLimit int64
	budget   *Budget // all responses' memory
	disk     *Budget // all responses' spool bytes
	files    *Budget // open spool files
	spool    *os.File
	spoolDir string
	spoolMax int64
	spoolW   int64 // bytes written to the spool
	spoolR   int64 // bytes of it consumed
	popped   int64 // memory of the piece pop last returned, still counted
	ended    bool  // the producer is done; err says how
	err      error // io.EOF for a complete response
	discard  bool  // the consumer wants no more
	scratch  []byte
	cutAfter time.Duration
	expired  bool // the producer waited cutAfter for room
}

// segment is a run of body bytes: in memory, or n bytes of the spool file
// at off.
type segment struct {
	mem []byte
	off int64
	n   int64
}

// newRespBuffer returns a buffer under s's bounds; a nil s: one that
// holds nothing (after close) and counts nothing.
func newRespBuffer(s *respStore) *respBuffer {
	b := &respBuffer{}
	if s != nil {
		b.memLimit, b.budget, b.disk, b.files = s.perMem, s.mem, s.disk, s.files
		b.spoolDir, b.spoolMax, b.cutAfter = s.dir, s.perSpool, s.cutAfter
	}
	b.cond.L = &b.mu
	return b
}

// push appends data (which the buffer may keep: the caller must not reuse
// it); from now on data counts as response memory until it is spooled or
// consumed. It waits while neither memory nor spool has room, cutAfter at
// most; it reports whether it cut the response off then: the producer
// should tell the worker to stop.
func (b *respBuffer) push(data []byte) (cut bool) {
	n := int64(len(data))
	b.mu.Lock()
	defer b.mu.Unlock()
	b.budget.Charge(n)
	var timer *time.Timer
	for {
		if b.discard {
			b.budget.Release(n)
			return false
		}
		if (b.mem == 0 || b.mem+n <= b.memLimit) && !b.budget.Over() {
			b.segs = append(b.segs, segment{mem: data})
			b.mem += n
			b.cond.Broadcast()
			return false
		}
		if b.spoolMax > 0 && b.spoolW+n <= b.spoolMax && b.spoolWrite(data) {
			b.budget.Release(n) // on disk now
			b.cond.Broadcast()
			return false
		}
		if b.expired {
			// Nowhere to go and nobody reading: cut the response off.
			b.budget.Release(n)
			b.dropLocked()
			b.ended, b.err = true, ErrCutOff
			return true
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

// spoolWrite appends data to the spool file. b.mu is held; the write
// happens without it would be nicer, but the consumer only reads regions
// already recorded, so holding it is merely slower, never wrong.
func (b *respBuffer) spoolWrite(data []byte) bool {
	n := int64(len(data))
	if !b.disk.TryAcquire(n) {
		return false // all spools together are full: wait for room
	}
	if b.spool == nil {
		if !b.files.TryAcquire(1) {
			b.disk.Release(n)
			return false
		}
		f, err := os.CreateTemp(b.spoolDir, "gowsgi-response-")
		if err != nil {
			b.files.Release(1)
			b.disk.Release(n)
			b.spoolMax = 0 // no disk: fall back to backpressure
			return false
		}
		os.Remove(f.Name())
		b.spool = f
	}
	if _, err := b.spool.WriteAt(data, b.spoolW); err != nil {
		b.disk.Release(n)
		b.spoolMax = 0
		return false
	}
	if k := len(b.segs); k > 0 && b.segs[k-1].mem == nil && b.segs[k-1].off+b.segs[k-1].n == b.spoolW {
		b.segs[k-1].n += int64(len(data))
	} else {
		b.segs = append(b.segs, segment{off: b.spoolW, n: int64(len(data))})
	}
	b.spoolW += int64(len(data))
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
	b.budget.Release(b.popped) // the caller is done with the last piece
	b.popped = 0
	for len(b.segs) == 0 {
		if b.ended {
			return nil, false, b.err
		}
		b.cond.Wait()
	}
	s := &b.segs[0]
	if s.mem != nil {
		data = s.mem
		b.mem -= int64(len(data))
		b.popped = int64(len(data)) // counted until the next pop
		b.segs = b.segs[1:]
	} else {
		if b.scratch == nil {
			b.scratch = make([]byte, spoolScratch)
			b.budget.Charge(spoolScratch)
		}
		k := min(s.n, int64(len(b.scratch)))
		m, rerr := b.spool.ReadAt(b.scratch[:k], s.off)
		if m == 0 && rerr != nil {
			b.discard = true
			b.cond.Broadcast()
			return nil, false, rerr
		}
		data = b.scratch[:m]
		s.off += int64(m)
		s.n -= int64(m)
		b.spoolR += int64(m)
		if s.n == 0 {
			b.segs = b.segs[1:]
		}
	}
	b.cond.Broadcast() // room for the producer
	return data, len(b.segs) > 0, nil
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
	b.budget.Release(b.popped)
	b.popped = 0
	if b.scratch != nil {
		b.budget.Release(spoolScratch)
		b.scratch = nil
	}
	b.mu.Unlock()
}

// dropLocked discards what is buffered and frees its memory, disk and
// spool file; b.mu is held.
func (b *respBuffer) dropLocked() {
	b.discard = true
	b.budget.Release(b.mem)
	b.mem = 0
	b.segs = nil
	if b.spool != nil {
		b.spool.Close()
		b.spool = nil
		b.files.Release(1)
		b.disk.Release(b.spoolW)
		b.spoolW = 0
	}
	b.cond.Broadcast()
}

// charge counts n bytes (negative: gives them back) of the response that
// x holds itself (Response.Body, collected chunks) as response memory.
func (x *Exchange) charge(n int64) {
	x.charged += n
	x.p.resp.budget().Charge(n)
}

func (s *respStore) budget() *Budget {
	if s == nil {
		return nil
	}
	return s.mem
}

// spoolWhole moves a whole response's body to a spool file when holding it
// put response memory over its bound, so that a client that does not read
// it holds disk, not memory. Without room on disk it stays where it is,
// and new requests are refused until memory is back under the bound.
func (x *Exchange) spoolWhole() {
	resp := &x.resp
	n := int64(len(resp.Body))
	if n == 0 || !x.p.resp.full() {
		return
	}
	rb := newRespBuffer(x.p.resp)
	rb.mu.Lock()
	ok := rb.spoolMax >= n && rb.spoolWrite(resp.Body)
	rb.mu.Unlock()
	if !ok {
		rb.close()
		return
	}
	rb.end(io.EOF)
	x.charge(-n)
	resp.Body, resp.Complete = nil, false
	if x.recycle != nil {
		putPayload(x.recycle)
		x.recycle = nil
	}
	x.rb = rb
}
