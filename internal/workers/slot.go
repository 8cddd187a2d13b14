package workers

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// Slot is the Go end of one worker thread's socketpair, or one of an ASGI
// worker's --limit-concurrency slots, whose bytes travel on the worker's
// one data socket (mux.go): a slot's frames and reading code are the
// same either way.
//
// Requests on a slot are served in order. Usually a slot has one request at
// a time; when every slot is busy, a request may be pipelined behind the
// one running on a slot that is answering fast (see Pool.dispatch), so that
// a worker under load reads several requests per wake-up. Each request holds
// a ticket that says when its turn to read the response comes. A request
// pipelined behind one that turns slow is revoked and served elsewhere.
type Slot struct {
	worker *Worker
	index  int           // its place among the worker's slots, for revocation and the mux
	conn   *net.UnixConn // its socket; nil on a mux
	mx     *mux          // an ASGI worker's slot: its bytes travel on the worker's one socket (mux.go)

	// Write side: frames are appended in dispatch order and written by
	// whichever dispatcher finds no write in progress, so requests that
	// arrive together leave in one system call.
	mu       sync.Mutex
	wbuf     []byte
	wspare   []byte
	fds      []pendingFD   // descriptors to attach at offsets of wbuf
	bodies   []pendingBody // large bodies to send at offsets of wbuf, uncopied
	iov      net.Buffers   // the writer's scratch for writev
	writing  bool
	queue    []*ticket     // issued, not yet released, in wire order
	qbytes   int           // their request bytes (ticket.size)
	inflight int32         // len(queue)
	nextID   uint32        // last request id given out
	watch    *time.Timer   // fires revokeAfter into a turn with requests queued behind (see watchTurn)
	watching bool          // watch is armed
	revoking uint32        // lowest id a revoke request is out for; 0: none
	answered chan struct{} // closed when the worker answers that request
	brokenAt uint32        // first request id that may have started when the stream broke
	hint     atomic.Int32  // inflight, readable without mu
	noPipe   atomic.Bool   // a request behind the current one was revoked: no pipelining until it ends
	turnAt   atomic.Int64  // when the response now being read began (unix ns)
	service  atomic.Int64  // moving average of the time a response takes (ns)

	// Read side, used by the ticket whose turn it is.
	rdl  time.Time // the read deadline in force on conn (zero: none)
	buf  []byte    // buf[r:w] is unread
	r, w int
	oob  [64]byte   // control messages of the last read
	rfds []*os.File // descriptors received, in order, not yet taken
	// A large frame being read into memory of its own (see readFrame).
	part     []byte
	partN    int
	partH    wire.Header
	owned    bool   // the last frame's payload is not in buf
	ownedBuf []byte // then, the buffer it is in (see getPayload)

	// Idle state (see Pool.pushIdle): idle says the slot has no request
	// and nobody has claimed it; inIdle that it has an entry in the
	// pool's idle channel.
	idle   atomic.Bool
	inIdle atomic.Bool

	broken      atomic.Bool // the worker is gone or the stream is out of step
	protocolErr atomic.Bool // the worker sent something invalid

	// On a mux: the inbox the mux's reader fills (in[inR:] unread), the
	// signal that wakes this slot's reader, and the error that ended the
	// mux (see muxRecv).
	inMu    sync.Mutex
	in      []byte
	inR     int
	inReady chan struct{}
	inErr   error
	want    []byte // the buffer its reader waits to have filled (see awaitBytes)
	wantN   int    // bytes the mux's reader put there
	wsWake  func() // a parked WebSocket relay's, run once on input or the end (see WSPark)
	// On a mux, the worker's window on this slot (see doneFrame, growth):
	// its size (what is above muxFloor is taken from the response memory
	// budget), the bytes the mux's reader delivered and the slot has not
	// yet acknowledged, and whether they reached half the window since it
	// last grew (guarded by inMu; window is written only by the reader).
	window      int
	outstanding int
	filled      bool
	// And, the reader's own: the bytes of frames consumed and not yet
	// acknowledged, the size of the frame it holds (consumed once it asks
	// for the next), the bytes consumed since the window last grew, and
	// what the response's buffer holds for its client after the pump's
	// last push (-1: no pump reads the slot; the window does not grow).
	consumed  int
	lastFrame int
	sinceGrow int
	lag       int64
	// On a mux, a WebSocket's credit: the cost of the messages sent to the
	// worker and not yet acknowledged, the part of it that went without
	// the worker's total (see awaitCredit), whether the sender may be in
	// the total's waiting list, and the channel a sender that ran out
	// waits on.
	credMu   sync.Mutex
	wsOut    int
	wsFree   int
	wsWaited bool
	credWait chan struct{}
	// wanted is the id of the last request whose application asked for
	// its streamed body (a G frame; see Exchange.AwaitBodyWanted), under
	// credMu; its waiter waits on credWait.
	wanted uint32
}

// pendingBody is a request body written in place, after wbuf[:off], so a
// large body is not copied into wbuf.
type pendingBody struct {
	off    int
	b      []byte
	pooled bool // a streamed body's piece from BodyBuf: back to its pool once written
}

// inlineBody is the largest request body copied into the write buffer;
// larger ones go out with writev from where the front read them. Those are
// never recycled by the front (see front.smallBody), so referring to them
// until the write is done is safe.
const inlineBody = 16 << 10

type pendingFD struct {
	off int // offset in wbuf of the frame the descriptor travels with
	fd  int // a dup, closed once sent
}

// slotBufSize is the size of a slot's read buffer. It is allocated on the
// slot's first read (see fill), not with the slot: an ASGI worker has
// --limit-concurrency slots (1,000 by default), most of which never carry
// a request, and 64 KiB each made an idle worker cost 64 MiB in the front.
const slotBufSize = 64 << 10

// slotBufs holds the read buffers of ASGI slots between their requests
// (see Slot.shedBuf): with a slot per request in flight, a buffer kept by
// every slot that ever served was 64 MiB of the front's heap after one
// burst of 1,000 requests, and stayed so while the connections idled.
var slotBufs sync.Pool

// shedBuf gives an idle ASGI slot's read buffer back to slotBufs, when
// nothing is left unread in it. It is called by the reader that released
// the slot's last request, before the slot is offered again. WSGI slots,
// a few per worker and busy, keep theirs.
func (s *Slot) shedBuf() {
	if s.worker.asgi && s.r == s.w && s.part == nil && len(s.buf) == slotBufSize {
		slotBufs.Put(s.buf) //nolint:staticcheck // a slice header per request is cheaper than a pointer dance
		s.buf, s.r, s.w = nil, 0, 0
	}
	if s.mx != nil {
		s.shedInbox()
	}
}

// newSlotBuf returns a read buffer of slotBufSize, from slotBufs if one
// is there.
func newSlotBuf() []byte {
	if b, ok := slotBufs.Get().([]byte); ok {
		return b
	}
	return make([]byte, slotBufSize)
}

func newSlot(w *Worker, index int, conn *net.UnixConn) *Slot {
	return &Slot{worker: w, index: index, conn: conn}
}

// ticket is one request's place on a slot.
type ticket struct {
	slot    *Slot
	id      uint32        // request id on the wire
	prev    chan struct{} // done of the ticket before it; nil when first
	done    chan struct{} // closed when its response has been read off the slot
	revoked chan struct{} // pipelined tickets: closed when the worker gave it back
	gone    bool          // revoked (guarded by slot.mu)
	turn    bool          // its turn to read has begun: it can no longer be revoked (guarded by slot.mu)
	stuck   bool          // ran past --timeout (guarded by slot.mu)
	size    int           // bytes of its request frame and inline body
	since   int64         // pipelined tickets: when it was queued on the slot (unix ns)
}

// fast reports whether s has been answering quickly enough for a request
// to queue behind the one it is on: its recent responses took less than
// pipelineMaxAge on average, and the current one began less than that ago.
// A slow app (a 10 ms sleep, a slow query) is never pipelined, nor is an
// ASGI worker's slot: a long response (SSE, a long poll) is normal there,
// and the worker has a slot for each request it serves at once.
func (s *Slot) fast(now int64) bool {
	return !s.worker.asgi && !s.noPipe.Load() && s.service.Load() < int64(pipelineMaxAge) && now-s.turnAt.Load() < int64(pipelineMaxAge)
}

// served records how long the response that just ended took.
func (s *Slot) served(now int64) {
	d := now - s.turnAt.Load()
	old := s.service.Load()
	s.service.Store(old + (d-old)/8)
}

// issue gives out the next ticket and queues its request: frame (a request
// frame whose id is filled in here) followed by body, and file's descriptor
// when file is not nil. Frames are queued under s.mu, so wire order is
// ticket order. s.mu is held.
func (s *Slot) issue(frame, body []byte, file *os.File, pipelined bool) (*ticket, error) {
	s.nextID++
	if s.nextID == 0 {
		s.nextID = 1 // 0 means "none" for revoking and brokenAt
	}
	t := &ticket{slot: s, id: s.nextID, done: make(chan struct{}), size: len(frame) + len(body)}
	s.qbytes += t.size
	if n := len(s.queue); n > 0 {
		t.prev = s.queue[n-1].done
	}
	if pipelined {
		t.revoked = make(chan struct{})
		t.since = time.Now().UnixNano()
		s.armWatchLocked(revokeAfter)
	}
	s.queue = append(s.queue, t)
	s.inflight++
	s.hint.Store(s.inflight)
	if s.inflight == 1 {
		s.turnAt.Store(time.Now().UnixNano())
	}
	off := len(s.wbuf)
	s.wbuf = append(s.wbuf, frame...)
	binary.LittleEndian.PutUint32(s.wbuf[off+5:], t.id)
	if len(body) > inlineBody {
		s.bodies = append(s.bodies, pendingBody{off: len(s.wbuf), b: body})
	} else {
		s.wbuf = append(s.wbuf, body...)
	}
	if file != nil {
		fd, err := unix.Dup(int(file.Fd()))
		if err != nil {
			s.wbuf = s.wbuf[:off]
			s.flushLocked()
			return t, err
		}
		s.fds = append(s.fds, pendingFD{off, fd})
	}
	s.flushLocked()
	return t, nil
}

// flushLocked writes what is queued unless another dispatcher is already
// doing so (it will pick up what was added). s.mu is held; it is released
// during the system calls.
func (s *Slot) flushLocked() {
	if s.writing {
		return
	}
	s.writing = true
	if s.inflight > 1 {
		// The worker is busy with the requests ahead, so this one can
		// wait for the goroutines that are ready to run (other
		// connections, woken by the same poll) to queue theirs: then
		// one write carries them all.
		s.mu.Unlock()
		runtime.Gosched()
		s.mu.Lock()
	}
	for len(s.wbuf) > 0 {
		buf, fds, bodies := s.wbuf, s.fds, s.bodies
		s.wbuf, s.wspare, s.fds, s.bodies = s.wspare[:0], nil, nil, nil
		s.mu.Unlock()
		err := s.write(buf, fds, bodies)
		s.mu.Lock()
		if cap(buf) <= 1<<20 && (s.mx == nil || cap(buf) <= muxSpareMax) {
			s.wspare = buf[:0]
		}
		if err != nil {
			s.breakLocked()
			for _, p := range s.fds {
				unix.Close(p.fd)
			}
			s.wbuf, s.fds, s.bodies = s.wbuf[:0], nil, nil
			break
		}
	}
	s.writing = false
}

// write sends buf with bodies spliced in at their offsets (see
// writeSpliced); on a mux it queues them there. Only the writer
// (s.writing) calls it.
func (s *Slot) write(buf []byte, fds []pendingFD, bodies []pendingBody) error {
	if s.mx != nil {
		return s.mx.send(s.index, buf, fds, bodies)
	}
	return writeSpliced(s.conn, &s.iov, buf, fds, bodies)
}

// breakLocked marks the stream as unusable. Requests queued behind the
// oldest one still on the slot cannot have started (a slot serves in
// order), so they may be sent elsewhere; brokenAt remembers where that line
// is. s.mu is held.
func (s *Slot) breakLocked() {
	if s.broken.Load() {
		return
	}
	if len(s.queue) > 0 {
		s.brokenAt = s.queue[0].id
	} else {
		s.brokenAt = s.nextID + 1
	}
	s.broken.Store(true)
}

// markBroken is breakLocked for callers without s.mu.
func (s *Slot) markBroken() {
	s.mu.Lock()
	s.breakLocked()
	s.mu.Unlock()
}

// neverStarted reports whether t's request cannot have reached the app: the
// stream broke while an earlier request was still on the slot.
func (s *Slot) neverStarted(t *ticket) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken.Load() && t.id != s.brokenAt && seqBefore(s.brokenAt, t.id)
}

// takeIdleEntry is called with the slot's entry just taken from the idle
// channel: it claims the slot, or reports that it was claimed meanwhile
// (through Request.Prefer) and the entry is spent.
func (s *Slot) takeIdleEntry() bool {
	s.inIdle.Store(false)
	return s.idle.CompareAndSwap(true, false)
}

// claimIdle claims the slot, if it is idle, without its idle entry.
func (s *Slot) claimIdle() bool { return s.idle.CompareAndSwap(true, false) }

// seqBefore compares request ids, which wrap.
func seqBefore(a, b uint32) bool { return int32(b-a) > 0 }

// release takes t, whose response has been read (or abandoned), off the
// slot, and reports whether the slot is now idle.
func (s *Slot) release(t *ticket) bool {
	if s.mx != nil {
		s.resetWindow()
	}
	s.mu.Lock()
	s.dropLocked(t)
	idle := s.inflight == 0
	if idle {
		s.noPipe.Store(false)
	}
	s.mu.Unlock()
	close(t.done)
	return idle
}

// dropLocked removes t from the queue. s.mu is held.
func (s *Slot) dropLocked(t *ticket) {
	for i, q := range s.queue {
		if q == t {
			s.qbytes -= t.size
			copy(s.queue[i:], s.queue[i+1:])
			s.queue[len(s.queue)-1] = nil
			s.queue = s.queue[:len(s.queue)-1]
			break
		}
	}
	s.inflight--
	s.hint.Store(s.inflight)
}

// requestRevoke asks the worker to give back the requests queued on s from
// t on, unless t's turn has begun or a request is already out (it reports
// whether it sent one). Pipelining onto s stops until its current request
// ends.
func (s *Slot) requestRevoke(t *ticket) bool {
	s.noPipe.Store(true)
	s.mu.Lock()
	if t.turn || t.gone || s.revoking != 0 || s.broken.Load() {
		s.mu.Unlock()
		return false
	}
	s.revoking = t.id
	s.answered = make(chan struct{})
	s.mu.Unlock()
	if err := s.worker.sendRevoke(s.index, t.id); err != nil {
		s.revokedLocked(t.id, nil)
		return false
	}
	return true
}

// armWatchLocked makes sure the slot's watch fires within d: one timer per
// slot, not per queued request, watches whether the request now running
// turns slow while others wait behind it. s.mu is held.
func (s *Slot) armWatchLocked(d time.Duration) {
	if s.watching {
		return
	}
	s.watching = true
	if s.watch == nil {
		s.watch = time.AfterFunc(d, s.watchTurn)
	} else {
		s.watch.Reset(d)
	}
}

// watchTurn runs revokeAfter into a turn that had requests queued behind
// it: if that turn is still running, the requests behind it are asked
// back (they are served elsewhere); otherwise the watch is re-armed for the
// turn running now, while requests still wait.
func (s *Slot) watchTurn() {
	s.mu.Lock()
	s.watching = false
	if len(s.queue) < 2 || s.broken.Load() {
		s.mu.Unlock()
		return
	}
	age := time.Duration(time.Now().UnixNano() - s.turnAt.Load())
	if age < revokeAfter {
		s.armWatchLocked(revokeAfter - age)
		s.mu.Unlock()
		return
	}
	behind := s.queue[1]
	s.mu.Unlock()
	// Only when another slot could serve them sooner: with every other
	// slot busy too (or none), a request given back would only wait in the
	// queue, behind newer ones, for a slot to free. Unless it has waited
	// here as long as --queue-timeout allows a queued request to wait: then
	// it goes back to the pool's queue, whose timeout answers 503, rather
	// than wait on for a request that turned slow (a request that was
	// pipelined waits at most about twice --queue-timeout in all). Or when
	// the queue is full: a request pipelined here waits as a queued one
	// does, and --max-queue bounds those; given back, it is refused (503)
	// as it would have been had it arrived to a full queue.
	if behind.revoked != nil && (s.worker.pool.otherSlotIdle(s) || s.waitedTooLong(behind) || s.worker.pool.queueFull()) {
		s.requestRevoke(behind)
	}
	s.mu.Lock()
	if len(s.queue) >= 2 {
		s.armWatchLocked(revokeAfter) // the answer, or the next turn, comes first
	}
	s.mu.Unlock()
}

// waitedTooLong reports whether the pipelined ticket t has waited on s for
// --queue-timeout.
func (s *Slot) waitedTooLong(t *ticket) bool {
	qt := s.worker.pool.opts.QueueTimeout
	return qt > 0 && time.Duration(time.Now().UnixNano()-t.since) >= qt
}

// claimTurn starts t's turn once the tickets before it are done: from now
// on it reads its response and cannot be revoked. While a revoke request
// that covers t is unanswered, it waits for the answer, so that t never
// reads for a request the worker gave back. It returns errRevoked when t
// was given back.
func (s *Slot) claimTurn(t *ticket) error {
	for {
		s.mu.Lock()
		if t.gone {
			s.mu.Unlock()
			return errRevoked
		}
		if s.revoking == 0 || seqBefore(t.id, s.revoking) {
			t.turn = true
			s.mu.Unlock()
			// A ticket that was first on an idle slot began when it was
			// issued (issue stamped it): stamping it again when its reader
			// gets round to it, later on a busy machine, would make a
			// request that has run a while look young, and let others be
			// pipelined behind it (Slot.fast).
			if t.prev != nil {
				s.turnAt.Store(time.Now().UnixNano())
			}
			return nil
		}
		wait := s.answered
		s.mu.Unlock()
		select {
		case <-wait:
		case <-s.worker.Exited():
			// No answer will come; the broken stream tells what started.
			s.mu.Lock()
			t.turn = true
			s.mu.Unlock()
			return nil
		}
	}
}

// revoked handles the worker's answer to a revoke request: the tickets
// with those ids will never be served here. Each is taken off the slot once
// the one before it is done, so the tickets behind keep their order.
func (s *Slot) revoked(from uint32, ids []uint32) {
	s.revokedLocked(from, ids)
}

func (s *Slot) revokedLocked(from uint32, ids []uint32) {
	s.mu.Lock()
	if s.revoking != from {
		s.mu.Unlock()
		return // not an answer to the request out
	}
	var gone []*ticket
	for _, id := range ids {
		for _, t := range s.queue {
			// A ticket covered by the request cannot have begun its
			// turn: claimTurn waits for this answer.
			if t.id == id && t.revoked != nil && !t.gone && !t.turn {
				t.gone = true
				gone = append(gone, t)
			}
		}
	}
	s.revoking = 0
	close(s.answered)
	s.answered = nil
	s.mu.Unlock()
	for _, t := range gone {
		close(t.revoked)
		go func(t *ticket) {
			if t.prev != nil {
				<-t.prev
			}
			s.worker.pool.release(t, false)
		}(t)
	}
}

// sendAbort asks the worker to stop producing the response to id.
func (s *Slot) sendAbort(id uint32) {
	s.mu.Lock()
	s.wbuf = wire.AppendHeader(s.wbuf, wire.Abort, id, 0)
	s.flushLocked()
	s.mu.Unlock()
}

// armDeadline makes sure a read of the slot fails by t at the latest:
// a deadline in force that comes no later (armed for an earlier frame)
// is left alone, so a busy slot does not move its timer on every
// response. The reader that sees such an early deadline fire re-arms
// it with setDeadline and reads on (Exchange.read).
func (s *Slot) armDeadline(t time.Time) {
	if s.rdl.IsZero() || s.rdl.After(t) {
		s.setDeadline(t)
	}
}

// setDeadline sets the slot's read deadline to t (zero: none).
func (s *Slot) setDeadline(t time.Time) {
	s.rdl = t
	if s.mx == nil {
		s.conn.SetReadDeadline(t) // a mux slot's reader waits with a timer (muxRecv)
	}
}

// ErrWorkerGone reports that the worker closed its end, almost always
// because the process died.
var ErrWorkerGone = errors.New("worker process exited")

// readFrame returns the next frame. The payload aliases the slot's buffer
// and is valid until the next call, unless s.owned says it is memory of its
// own (a large frame). Any error but a deadline leaves the slot broken.
func (s *Slot) readFrame() (wire.Header, []byte, error) {
	if s.mx != nil {
		return s.muxReadFrame()
	}
	return s.nextFrame()
}

// nextFrame is readFrame's reading, for a slot of either kind.
func (s *Slot) nextFrame() (wire.Header, []byte, error) {
	if s.part != nil {
		return s.readLarge()
	}
	if err := s.fill(wire.HeaderSize, true); err != nil {
		return wire.Header{}, nil, err
	}
	h, err := wire.ParseHeader(s.buf[s.r:])
	if err != nil {
		s.protocolError()
		return h, nil, err
	}
	s.owned = false
	if h.Len > copyMax && s.w-s.r < wire.HeaderSize+h.Len {
		// Read a large payload straight into memory of its own: no copy
		// of it out of the slot's buffer, nor of the frames behind it.
		s.partH, s.part = h, getPayload(h.Len)
		s.partN = copy(s.part, s.buf[s.r+wire.HeaderSize:s.w])
		s.r, s.w = 0, 0
		return s.readLarge()
	}
	if err := s.fill(wire.HeaderSize+h.Len, true); err != nil {
		return h, nil, err
	}
	p := s.buf[s.r+wire.HeaderSize : s.r+wire.HeaderSize+h.Len]
	s.r += wire.HeaderSize + h.Len
	return h, p, nil
}

// readLarge reads the rest of the large frame in s.part. After a deadline
// the next readFrame goes on where it stopped.
func (s *Slot) readLarge() (wire.Header, []byte, error) {
	for s.partN < len(s.part) {
		if s.broken.Load() {
			return s.partH, nil, ErrWorkerGone
		}
		m, err := s.recv(s.part[s.partN:])
		s.partN += m
		if err != nil && s.partN < len(s.part) {
			return s.partH, nil, s.readFailed(err)
		}
	}
	h, p := s.partH, s.part
	s.part, s.partN, s.owned, s.ownedBuf = nil, 0, true, p
	return h, p, nil
}

// frameReady reports whether a whole frame is already buffered, after one
// read that does not wait for more.
func (s *Slot) frameReady() bool {
	if s.complete() {
		return true
	}
	if s.broken.Load() {
		return true // readFrame reports it at once
	}
	if s.part != nil {
		return false // the rest of a large frame: only readFrame reads it
	}
	s.fill(wire.HeaderSize, false)
	return s.complete()
}

// complete reports whether buf[r:w] starts with a whole frame.
func (s *Slot) complete() bool {
	if s.part != nil {
		return false
	}
	if s.w-s.r < wire.HeaderSize {
		return false
	}
	n := int(binary.LittleEndian.Uint32(s.buf[s.r:]))
	return s.w-s.r >= wire.HeaderSize+n
}

// fill makes at least n unread bytes available. With wait false it reads
// at most once and does not wait for data; then a short buffer is no error.
func (s *Slot) fill(n int, wait bool) error {
	if s.w-s.r >= n {
		return nil
	}
	if s.broken.Load() {
		return ErrWorkerGone
	}
	if s.r == s.w {
		s.r, s.w = 0, 0
	}
	if n > len(s.buf)-s.r {
		// Not enough room after r: move the unread bytes to the front,
		// growing for a large frame, and shrink back later.
		size := len(s.buf)
		if size == 0 {
			size = slotBufSize // the first read
		}
		if n > size {
			size = n
		} else if size > slotBufSize && n <= slotBufSize {
			size = slotBufSize
		}
		nb := s.buf
		if size != len(s.buf) {
			if size == slotBufSize {
				nb = newSlotBuf()
			} else {
				nb = make([]byte, size)
			}
		}
		copy(nb, s.buf[s.r:s.w])
		s.buf, s.w, s.r = nb, s.w-s.r, 0
	}
	if !wait {
		s.tryRead()
		return nil
	}
	for s.w-s.r < n {
		m, err := s.recv(s.buf[s.w:])
		s.w += m
		if err != nil {
			if s.w-s.r >= n {
				return nil
			}
			return s.readFailed(err)
		}
	}
	return nil
}

// recv reads what has arrived into p and takes the descriptors that came
// with it: recvmsg, not read, which would drop the one a File frame
// brings. A read of nothing at all is io.EOF, the worker's end.
func (s *Slot) recv(p []byte) (int, error) {
	if s.mx != nil {
		return s.muxRecv(p, true)
	}
	m, oobn, _, _, err := s.conn.ReadMsgUnix(p, s.oob[:])
	m = max(m, 0) // -1 on some errors
	if oobn > 0 {
		s.rfds = appendRights(s.rfds, s.oob[:oobn])
	}
	if err == nil && m == 0 && oobn == 0 {
		err = io.EOF
	}
	return m, err
}

// readFailed is what a read that still wanted bytes reports for err: a
// deadline as it is (the stream is intact; the caller decides); anything
// else leaves the slot broken.
func (s *Slot) readFailed(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	s.markBroken()
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, unix.ECONNRESET) {
		return ErrWorkerGone
	}
	return err
}

// tryRead reads what has arrived, without waiting. A closed or broken
// stream is left for the next blocking read to report. It reads through
// Control, not Read: a read deadline that an earlier frame left armed
// and that has passed (see armDeadline) must not stop it; MSG_DONTWAIT
// keeps it from waiting.
func (s *Slot) tryRead() {
	if s.mx != nil {
		m, _ := s.muxRecv(s.buf[s.w:], false)
		s.w += m
		return
	}
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		m, oobn, _, _, err := unix.Recvmsg(int(fd), s.buf[s.w:], s.oob[:], unix.MSG_DONTWAIT)
		if err == nil && m > 0 {
			s.w += m
		}
		if err == nil && oobn > 0 {
			s.rfds = appendRights(s.rfds, s.oob[:oobn])
		}
	})
}

// takeFile returns the descriptor that came with the last File frame, or
// nil if none did (a protocol error).
func (s *Slot) takeFile() *os.File {
	s.inMu.Lock() // a mux's reader adds to rfds (deliver)
	defer s.inMu.Unlock()
	if len(s.rfds) == 0 {
		return nil
	}
	f := s.rfds[0]
	s.rfds = s.rfds[1:]
	return f
}

// protocolError takes the slot out of service after the worker sent
// something invalid: its stream is out of step, so the worker is killed
// instead of reused.
func (s *Slot) protocolError() {
	s.protocolErr.Store(true)
	s.markBroken()
}
