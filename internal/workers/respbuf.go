package workers

import (
	"errors"
	"log/slog"
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

// ErrCutOff: the response's client took nothing while responses had no
// room left, in memory or on disk: for evictGrace, when another response
// needed the room (evicted), or for --timeout; the response was dropped,
// its worker told to stop and its slot freed. The front cuts the
// connection (or HTTP/2 stream) at once, without flushing.
var ErrCutOff = errors.New("the client read nothing while responses were out of room")

// evictGrace is how long a response's client may take nothing before its
// response may be evicted for room another response needs. A client that
// takes a piece (progressStep bytes, at most) per grace is moving and is
// never evicted: with pieces of 16 KiB, a client reading at 16 KB/s or
// faster. A second, not a fraction of --write-timeout: what the eviction
// protects is the legitimate clients' latency, and the issue asks that
// they be answered within a second while stalled readers fill the bounds.
const evictGrace = time.Second

// progressStep is the most pop returns of a response at once, so that the
// consumer's progress (each pop) is seen at least every 16 KiB its client
// takes, whatever the size of the worker's frames; a spooled response is
// read back in pieces of this size already (spoolScratch), and HTTP/2
// frames carry 16 KiB by default.
const progressStep = 16 << 10

// evictRetry is how often a producer with no room, and no response it
// may evict yet, looks again (room freed by other responses wakes no one:
// each waits on its own buffer).
const evictRetry = 50 * time.Millisecond

// respStore is what all responses share: the memory and disk bounds, the
// spool file, and the buffers that hold responses, from which it evicts.
//
// Eviction: when a response needs room and memory and disk are both full,
// the response whose client has taken nothing for the longest, and for
// more than evictGrace, is cut off and its room given to the new one,
// rather than the new one waiting (holding a worker slot) or being
// refused. Clients that stall only ever hold the room until someone
// needs it; clients that read, however many stall beside them, are
// served. Fairness per connection (a share of the budget for each HTTP/2
// connection) was the other way considered: it bounds what a few
// connections take, but not many connections of one stream each, and it
// refuses a connection's new streams while its old ones may be reading;
// eviction bounds both shapes with one rule.
type respStore struct {
	mem      *Budget       // response bytes in memory, all requests (--response-memory-total)
	disk     *Budget       // response bytes spooled, all requests (--response-spool-total)
	perMem   int64         // one response's bytes in memory (--response-buffer)
	perSpool int64         // one response's bytes spooled (--response-spool)
	cutAfter time.Duration // how long a response may wait for room (--timeout)
	arena    *spoolArena
	log      *slog.Logger

	mu   sync.Mutex
	live map[*respBuffer]struct{} // buffers not yet closed

	// pending is the bytes of finished responses read off their slots
	// that wait in place for room: awaitRoom counts them as taken, so
	// that slots do not go on reading responses that have nowhere to go.
	pending atomic.Int64

	evicted  atomic.Int64 // responses evicted, all told
	unlogged atomic.Int64 // evictions since the last log line
	lastLog  atomic.Int64 // when that line was written (monotonic ns)
	flushing atomic.Bool  // a line for those held back is due
}

func newRespStore(o *Options) *respStore {
	var disk *Budget
	if o.ResponseSpoolTotal > 0 {
		disk = NewBudget(o.ResponseSpoolTotal)
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	return &respStore{mem: NewBudget(o.ResponseMemory), disk: disk, perMem: o.ResponseBuffer, perSpool: o.ResponseSpool,
		cutAfter: o.Timeout, arena: &spoolArena{dir: o.TempDir, files: o.SpoolFiles}, log: log}
}

// epoch is the origin of the monotonic clock that respBuffer's progress
// times are kept in (nanoseconds since epoch, in an int64).
var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) }

// add and remove keep s.live: the buffers eviction chooses from.
func (s *respStore) add(b *respBuffer) {
	s.mu.Lock()
	if s.live == nil {
		s.live = make(map[*respBuffer]struct{})
	}
	s.live[b] = struct{}{}
	s.mu.Unlock()
}

func (s *respStore) remove(b *respBuffer) {
	s.mu.Lock()
	delete(s.live, b)
	s.mu.Unlock()
}

// stalledLongest returns the live buffer whose client has taken nothing
// for the longest, longer than evictGrace, among those that hold room; nil
// when there is none. A buffer busy at the moment (its lock taken) is
// passed over: it is being used, so probably not stalled.
func (s *respStore) stalledLongest() *respBuffer {
	var best *respBuffer
	bestDue := monoNow()
	s.mu.Lock()
	defer s.mu.Unlock()
	for b := range s.live {
		if !b.mu.TryLock() {
			continue
		}
		if due := b.due(); !b.waiting && !b.discard && due < bestDue && b.holds() > 0 {
			best, bestDue = b, due
		}
		b.mu.Unlock()
	}
	return best
}

// evict cuts off stalled responses, the longest-stalled first, until they
// held need bytes (memory and disk together; what a cut-off consumer
// still writes comes back when its write fails, moments later). It
// reports whether it cut any off.
func (s *respStore) evict(need int64) bool {
	if s == nil {
		return false
	}
	var freed int64
	cut := false
	for freed < need || !cut {
		b := s.stalledLongest()
		if b == nil {
			break
		}
		if n, ok := b.evict(); ok {
			freed += n
			cut = true
			s.logEviction()
		}
	}
	return cut
}

// logEviction logs evictions at most once a second, with their count: an
// attack of stalled readers must not write a line per response. Those
// held back are logged a second after the last line, if no eviction
// logged them before.
func (s *respStore) logEviction() {
	s.evicted.Add(1)
	s.unlogged.Add(1)
	now := monoNow()
	last := s.lastLog.Load()
	if wait := last + int64(time.Second) - now; last != 0 && wait > 0 || !s.lastLog.CompareAndSwap(last, now) {
		if s.flushing.CompareAndSwap(false, true) {
			time.AfterFunc(time.Duration(max(wait, 0)), func() {
				s.flushing.Store(false)
				if s.unlogged.Load() > 0 {
					s.lastLog.Store(monoNow())
					s.writeEvictions()
				}
			})
		}
		return
	}
	s.writeEvictions()
}

func (s *respStore) writeEvictions() {
	log := s.log
	if log == nil {
		log = slog.Default()
	}
	log.Warn("responses cut off: their clients took nothing for a second while responses were out of room (--response-memory-total, --response-spool-total), and newer responses needed it",
		"evicted", s.unlogged.Swap(0), "evicted_total", s.evicted.Load())
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
// memory than the bound, which happens only when one waited --timeout for
// room, with nothing to evict (place).
func (s *respStore) full() bool { return s.budget().Over() }

// spoolArena is the one spool file of all responses: an unlinked temp
// file, written at the end, whose regions are handed back as they are
// read (their pages punched out, so the disk space goes at once); when no
// region is in use it is closed, leaving nothing behind, and the next
// spooled response opens another. One descriptor serves every spooled
// response, however many clients stall. Regions are page-aligned, so a
// punched region frees whole pages.
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
		// when nothing is in use.
		punchHole(int(a.f.Fd()), off, size)
		return
	}
	// Nothing in use: the file goes, its space and descriptor with it.
	a.f.Close()
	a.files.Release(1)
	a.f, a.end = nil, 0
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
// spoolMax bytes and what the shared disk budget allows. Beyond that the
// producer evicts the response whose client has taken nothing for the
// longest (respStore.evict), this one included; while no response may be
// evicted yet it waits for the consumer, cutAfter at most: then the
// response is cut off (ErrCutOff) and the worker's slot goes free.
type respBuffer struct {
	mu       sync.Mutex
	cond     sync.Cond
	store    *respStore // nil: not one eviction sees
	segs     []segment
	mem      int64 // bytes of memory segments held
	memLimit int64
	budget   *Budget // all responses' memory
	disk     *Budget // all responses' spooled bytes
	arena    *spoolArena
	spoolMax int64
	spooled  int64 // bytes of regions of the spool held
	// heldMax, when set, bounds what b holds for its consumer, memory and
	// spool together (an ASGI stream: see Exchange.startPump): beyond it
	// the producer waits for the consumer, as uvicorn's send() does, and
	// the spool only takes what memory had no room for.
	heldMax  int64
	popped   []byte // the memory buffer whose last piece pop returned, still counted
	ended    bool   // the producer is done; err says how
	err      error  // io.EOF for a complete response
	discard  bool   // the consumer wants no more
	closed   bool   // close was called: the consumer is gone
	scratch  []byte
	cutAfter time.Duration
	expired  bool // the producer waited cutAfter for room
	cut      bool // cut off (evicted or expired); the producer has not yet been told

	// recycle, when set, is the frame buffer the memory segments are
	// slices of (a whole response's, see spill): it goes back to the
	// payload pool at close, and the pieces pop returns are not pooled.
	recycle []byte

	// The consumer's progress: since is when it last took a piece (or
	// when the buffer was made), waiting that it waits in pop for the
	// producer, which is not a stall. interrupt, set by the front, makes
	// a write blocked on the client fail at once.
	since     int64 // monoNow
	waiting   bool
	interrupt func()
}

// segment is a run of body bytes: in memory (mem, whose next piece starts
// at off), or n bytes of the spool file f at off, in the region [base,
// base+size) to release once read.
type segment struct {
	mem        []byte
	f          *os.File
	off, n     int64
	base, size int64
}

// pressured reports whether responses hold half of their memory or more:
// from there on, finished responses larger than directMax go through a
// respBuffer, where eviction sees them and their clients' progress.
// Below, a finished response of up to --response-buffer goes out as a
// whole from the exchange (one write of head and body), at no cost for
// watching it (Exchange.direct).
func (s *respStore) pressured() bool {
	return s != nil && 2*s.mem.InUse() >= s.mem.Limit()
}

// newRespBuffer returns a buffer under s's bounds; a nil s: one that
// holds nothing (after close) and counts nothing.
func newRespBuffer(s *respStore) *respBuffer {
	b := &respBuffer{since: monoNow()}
	if s != nil {
		b.memLimit, b.budget, b.disk, b.arena = s.perMem, s.mem, s.disk, s.arena
		b.spoolMax, b.cutAfter = s.perSpool, s.cutAfter
		b.store = s
		s.add(b)
	}
	b.cond.L = &b.mu
	return b
}

// due is when b's client, unless it takes more by then, counts as
// stalled (monoNow): evictGrace after it took its last piece. b.mu is held.
func (b *respBuffer) due() int64 { return b.since + int64(evictGrace) }

// holds reports the room b holds, memory and disk; b.mu is held.
func (b *respBuffer) holds() int64 {
	return b.mem + b.spooled + int64(cap(b.popped))
}

// push appends data. It waits while neither memory nor spool has room and
// no stalled response may be evicted, cutAfter at most. kept reports that
// the buffer keeps data (the caller must not reuse it; else it was copied
// to the spool, or dropped); cut, that the response was cut off: the
// producer should tell the worker to stop. While it waits, data is held
// by the producer, which holds a worker slot: there are no more of those
// than slots.
func (b *respBuffer) push(data []byte) (kept, cut bool) {
	kept, cut, _ = b.pushHeld(data)
	return kept, cut
}

// pushHeld is push, and also reports the bytes b holds for its consumer
// once data is in (what buffered says), read under the same lock.
func (b *respBuffer) pushHeld(data []byte) (kept, cut bool, held int64) {
	n := int64(cap(data)) // the memory it takes, which the budget counts
	b.mu.Lock()
	defer func() {
		held = b.mem + b.spooled
		b.mu.Unlock()
	}()
	var timer, retry *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		if b.discard {
			return false, b.tellCut(), 0
		}
		full := b.heldMax > 0 && b.mem+b.spooled > 0 && b.mem+b.spooled+n > b.heldMax
		if !full && (b.mem == 0 || b.mem+n <= b.memLimit) && b.budget.TryAcquire(n) {
			b.segs = append(b.segs, segment{mem: data})
			b.mem += n
			b.cond.Broadcast()
			return true, false, 0
		}
		if !full && b.spoolWrite(data) {
			b.cond.Broadcast()
			return false, false, 0
		}
		if b.expired {
			// Nowhere to go and nobody reading: cut the response off.
			b.cutOff()
			return false, b.tellCut(), 0
		}
		if !full && b.store != nil && b.roomFull(n) {
			// Out of room everywhere: make some by evicting a stalled
			// response (maybe this one), without b.mu, which eviction
			// takes.
			b.mu.Unlock()
			evicted := b.store.evict(n)
			b.mu.Lock()
			if evicted {
				continue
			}
			if retry == nil {
				retry = time.AfterFunc(evictRetry, b.wake)
			} else {
				retry.Reset(evictRetry)
			}
		}
		if timer == nil && b.cutAfter > 0 {
			timer = time.AfterFunc(b.cutAfter, func() {
				b.mu.Lock()
				b.expired = true
				b.cond.Broadcast()
				b.mu.Unlock()
			})
		}
		b.cond.Wait() // backpressure: the worker waits for the client
	}
}

// roomFull reports whether what keeps n more bytes out is all responses'
// room, memory and disk, rather than this response's own bounds (then it
// waits for its own client, as ever): that is, its own bounds would take
// them in memory or on disk. b.mu is held.
func (b *respBuffer) roomFull(n int64) bool {
	ownMem := b.mem == 0 || b.mem+n <= b.memLimit
	ownDisk := b.arena != nil && b.spoolMax > 0 && b.spooled+n <= b.spoolMax
	return ownMem || ownDisk
}

func (b *respBuffer) wake() {
	b.mu.Lock()
	b.cond.Broadcast()
	b.mu.Unlock()
}

// tellCut reports, once, that the response was cut off; b.mu is held.
func (b *respBuffer) tellCut() bool {
	c := b.cut
	b.cut = false
	return c
}

// cutOff drops the response, ends it with ErrCutOff for the consumer, and
// interrupts the consumer's write to its client; b.mu is held.
func (b *respBuffer) cutOff() {
	b.dropLocked()
	b.ended, b.err, b.cut = true, ErrCutOff, true
	if b.interrupt != nil && !b.closed {
		b.interrupt()
	}
}

// timedOut reports whether the response was cut off after cutAfter, as
// opposed to evicted.
func (b *respBuffer) timedOut() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.expired
}

// evict cuts b off for another response's room, unless it moved or went
// meanwhile; it returns the room b held.
func (b *respBuffer) evict() (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.discard || b.waiting || monoNow() < b.due() {
		return 0, false
	}
	n := b.holds()
	b.cutOff()
	return n, true
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
	b.segs = append(b.segs, segment{f: f, off: off, n: n, base: off, size: size})
	b.spooled += size
	return true
}

// place adds data, a piece of a finished response (read off the slot, which
// has gone on to other requests): in memory when all responses' memory has
// room, else in the spool, else, after evicting stalled responses, in
// either. While there is no room and no response may be evicted yet, it
// waits, looking again every evictRetry, cutAfter at most; then it keeps
// data in memory anyway, counted over the budget (new requests are refused
// until memory is back under it). What waits here is bounded by the slots:
// each read a response only when there was room for one (awaitRoom). It
// reports whether the buffer keeps data. b is not yet shared.
func (b *respBuffer) place(data []byte) (kept bool) {
	n := int64(cap(data))
	b.mu.Lock()
	defer b.mu.Unlock()
	var start time.Time
	for {
		if b.budget.TryAcquire(n) {
			break
		}
		if b.spoolWrite(data) {
			return false
		}
		if start.IsZero() {
			start = time.Now()
			if b.store != nil {
				b.store.pending.Add(n)
				defer b.store.pending.Add(-n)
			}
		} else if b.store == nil || b.cutAfter > 0 && time.Since(start) > b.cutAfter {
			b.budget.Charge(n)
			break
		}
		b.mu.Unlock()
		if b.store == nil || !b.store.evict(n) {
			time.Sleep(evictRetry)
		}
		b.mu.Lock()
	}
	b.segs = append(b.segs, segment{mem: data})
	b.mem += n
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

// pop returns the next bytes, progressStep at most, waiting for them;
// after the last it returns the producer's error (io.EOF when complete).
// The bytes are valid until the next call. more reports that further
// bytes are already there. Each call records the consumer's progress.
func (b *respBuffer) pop() (data []byte, more bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.donePopped() // the caller is done with the last piece
	b.since = monoNow()
	for len(b.segs) == 0 {
		if b.ended {
			return nil, false, b.err
		}
		b.waiting = true
		b.cond.Wait()
		b.waiting = false
		b.since = monoNow()
	}
	s := &b.segs[0]
	if s.mem != nil {
		k := min(len(s.mem)-int(s.off), progressStep)
		data = s.mem[s.off : s.off+int64(k)]
		s.off += int64(k)
		if int(s.off) == len(s.mem) {
			b.mem -= int64(cap(s.mem))
			b.popped = s.mem // counted until the next pop
			b.segs = b.segs[1:]
		}
	} else {
		if b.scratch == nil {
			b.scratch = make([]byte, spoolScratch)
		}
		k := min(s.n, int64(len(b.scratch)))
		m, rerr := s.f.ReadAt(b.scratch[:k], s.off)
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

// setInterrupt records how to make the consumer's write to its client
// fail at once (see Exchange.OnCutOff); it is called under b.mu, never
// after close.
func (b *respBuffer) setInterrupt(f func()) {
	b.mu.Lock()
	b.interrupt = f
	b.mu.Unlock()
}

// close drops what is buffered; a producer still pushing has its data
// discarded from now on. The buffer leaves eviction's sight.
func (b *respBuffer) close() {
	b.mu.Lock()
	b.dropLocked()
	b.donePopped()
	b.scratch = nil
	b.closed, b.interrupt = true, nil
	if b.recycle != nil {
		putPayload(b.recycle)
		b.recycle = nil
	}
	b.mu.Unlock()
	if b.store != nil {
		b.store.remove(b)
	}
}

// donePopped gives back the memory of the piece pop returned last, once
// the consumer is done with it: its count, and its buffer when it was a
// large frame's. b.mu is held.
func (b *respBuffer) donePopped() {
	if b.popped != nil {
		b.budget.Release(int64(cap(b.popped)))
		if b.recycle == nil {
			putPayload(b.popped)
		}
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

// directMax is the largest finished response written from the exchange
// itself (Response.Body) while responses are under pressure
// (respStore.pressured); a larger one then goes through a respBuffer, so
// that eviction sees it and its client's progress, as it sees streamed
// ones. Without pressure every finished response that fit the budget is
// written from the exchange.
const directMax = progressStep

// direct reports whether x, a finished response that fit the memory
// budget, goes out from the exchange whatever its size: while responses
// are not under pressure (pressured), and for no more than one response's
// memory (--response-buffer), as much as a streamed one holds in memory.
// Those held so are not watched (eviction does not see them): they hold
// half the memory, and one response's, at most.
func (x *Exchange) direct() bool {
	s := x.p.resp
	if s == nil || s.pressured() {
		return s == nil
	}
	n := len(x.resp.Body)
	for _, c := range x.chunks {
		n += len(c)
	}
	return int64(n) <= s.perMem
}

// spill decides where a finished response that x holds itself waits for
// its client. One that fit the memory budget stays where it is when it is
// small (directMax) or responses are not under pressure (pressured).
// The others go to a buffer (place): in memory while the budget has room,
// else in the spool, so that a client that does not read it holds disk,
// not memory, else, after evicting stalled responses, in either, else in
// memory anyway, counted over the budget, and new requests are refused
// until memory is back under it.
func (x *Exchange) spill() {
	if x.uncounted == 0 && (x.holding() <= directMax || x.direct()) {
		return
	}
	rb := newRespBuffer(x.p.resp)
	rb.recycle, x.recycle = x.recycle, nil
	x.unhold()
	if len(x.resp.Body) > 0 && !rb.place(x.resp.Body) && rb.recycle != nil {
		putPayload(rb.recycle) // spooled: the frame's buffer is free now
		rb.recycle = nil
	}
	for _, c := range x.chunks {
		if len(c) > 0 {
			rb.place(c)
		}
	}
	rb.end(x.end)
	x.resp.Body, x.resp.Complete, x.chunks = nil, false, nil
	x.rb = rb
}

// awaitRoom waits, before a response is read off its worker's slot, until
// all responses together have room for another one (--response-buffer's
// worth, in memory or in the spool), evicting stalled responses to make
// it; meanwhile the response stays in the worker (which waits to send
// it), so that the front's memory holds no more than the bounds and one
// response per slot being read, however many requests were dispatched
// before the bounds filled. It looks again every evictRetry, as responses
// are read and room comes back, and gives up after cutAfter: the
// response is then read anyway (counted over the bound; new requests are
// refused until memory is back under it), as the worker would otherwise
// be judged stuck. It stops waiting when done closes (the client went
// away: what the worker sends is then dropped).
func (s *respStore) awaitRoom(done <-chan struct{}) {
	if s == nil || s.roomFor(s.perMem) {
		return
	}
	start := time.Now()
	var t *time.Timer
	for !s.roomFor(s.perMem) {
		if s.evict(s.perMem) {
			continue
		}
		if s.cutAfter > 0 && time.Since(start) > s.cutAfter {
			return
		}
		if t == nil {
			t = time.NewTimer(evictRetry)
			defer t.Stop()
		} else {
			t.Reset(evictRetry)
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

// roomFor reports whether n bytes, beyond those waiting in place, fit all
// responses' memory or their disk.
func (s *respStore) roomFor(n int64) bool {
	n += s.pending.Load()
	if s.mem.InUse()+n <= s.mem.Limit() {
		return true
	}
	if s.perSpool <= 0 || s.arena == nil {
		return false
	}
	return s.disk == nil || s.disk.InUse()+n <= s.disk.Limit()
}

// makeRoom evicts stalled responses until response memory is back under
// its bound, if it can; it reports whether it is.
func (s *respStore) makeRoom() bool {
	if s == nil {
		return true
	}
	if over := s.mem.InUse() - s.mem.Limit(); over > 0 {
		s.evict(over)
	}
	return !s.full()
}
