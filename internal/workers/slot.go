package workers

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// Slot is the Go end of one worker thread's socketpair.
//
// Requests on a slot are served in order. Usually a slot has one request at
// a time; when every slot is busy, a request may be pipelined behind the
// one running on a slot that is answering fast (see Pool.Dispatch), so that
// a worker under load reads several requests per wake-up. Each request holds
// a Ticket that says when its turn to read the response comes.
type Slot struct {
	worker *Worker
	conn   *net.UnixConn

	// Write side: frames are appended in dispatch order and written by
	// whichever dispatcher finds no write in progress, so requests that
	// arrive together leave in one system call.
	mu       sync.Mutex
	wbuf     []byte
	wspare   []byte
	fds      []pendingFD // descriptors to attach at offsets of wbuf
	writing  bool
	tail     chan struct{} // done channel of the last ticket issued
	inflight int32         // tickets not yet released (guarded by mu)
	hint     atomic.Int32  // inflight, readable without mu
	turnAt   atomic.Int64  // when the response now being read began (unix ns)
	service  atomic.Int64  // moving average of the time a response takes (ns)

	// Read side, used by the ticket whose turn it is.
	buf    []byte // buf[r:w] is unread
	r, w   int
	oob    [64]byte   // control messages of the last read
	rfds   []*os.File // descriptors received, in order, not yet taken
	nextID uint32     // guarded by mu

	broken      atomic.Bool // the worker is gone or the stream is out of step
	protocolErr atomic.Bool // the worker sent something invalid
}

type pendingFD struct {
	off int // offset in wbuf of the frame the descriptor travels with
	fd  int // a dup, closed once sent
}

const slotBufSize = 64 << 10

func newSlot(w *Worker, conn *net.UnixConn) *Slot {
	return &Slot{worker: w, conn: conn, buf: make([]byte, slotBufSize)}
}

// Worker returns the worker process that owns the slot.
func (s *Slot) Worker() *Worker { return s.worker }

// Ticket is one request's place on a slot.
type Ticket struct {
	Slot *Slot
	ID   uint32 // request id on the wire
	prev chan struct{}
	done chan struct{}
}

// Turn waits until the responses of earlier requests on the slot have been
// read; then this ticket's response comes next.
func (t *Ticket) Turn() {
	if t.prev != nil {
		<-t.prev
	}
	t.Slot.turnAt.Store(time.Now().UnixNano())
}

// fast reports whether s has been answering quickly enough for a request
// to queue behind the one it is on: its recent responses took less than
// pipelineMaxAge on average, and the current one began less than that ago.
// A slow app (a 10 ms sleep, a slow query) is never pipelined.
func (s *Slot) fast(now int64) bool {
	return s.service.Load() < int64(pipelineMaxAge) && now-s.turnAt.Load() < int64(pipelineMaxAge)
}

// served records how long the response that just ended took.
func (s *Slot) served(now int64) {
	d := now - s.turnAt.Load()
	old := s.service.Load()
	s.service.Store(old + (d-old)/8)
}

// issue gives out the next ticket and queues its request: frame (a request
// frame from wire.BeginRequest/FinishRequest, whose id is filled in here)
// followed by body, and file's descriptor when file is not nil. Frames are
// queued under s.mu, so wire order is ticket order. s.mu is held.
func (s *Slot) issue(frame, body []byte, file *os.File) (*Ticket, error) {
	s.nextID++
	t := &Ticket{Slot: s, ID: s.nextID, prev: s.tail, done: make(chan struct{})}
	s.tail = t.done
	s.inflight++
	s.hint.Store(s.inflight)
	if s.inflight == 1 {
		s.turnAt.Store(time.Now().UnixNano())
	}
	off := len(s.wbuf)
	s.wbuf = append(s.wbuf, frame...)
	binary.LittleEndian.PutUint32(s.wbuf[off+5:], t.ID)
	s.wbuf = append(s.wbuf, body...)
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
	for len(s.wbuf) > 0 {
		buf, fds := s.wbuf, s.fds
		s.wbuf, s.wspare, s.fds = s.wspare[:0], nil, nil
		s.mu.Unlock()
		err := s.write(buf, fds)
		s.mu.Lock()
		if cap(buf) <= 1<<20 {
			s.wspare = buf[:0]
		}
		if err != nil {
			s.broken.Store(true)
			for _, p := range s.fds {
				unix.Close(p.fd)
			}
			s.wbuf, s.fds = s.wbuf[:0], nil
			break
		}
	}
	s.writing = false
}

func (s *Slot) write(buf []byte, fds []pendingFD) error {
	pos := 0
	var err error
	for _, p := range fds {
		if err == nil && p.off > pos {
			_, err = s.conn.Write(buf[pos:p.off])
		}
		if err == nil {
			// The descriptor rides on the first byte of its frame's header.
			_, _, err = s.conn.WriteMsgUnix(buf[p.off:p.off+wire.HeaderSize], unix.UnixRights(p.fd), nil)
			pos = p.off + wire.HeaderSize
		}
		unix.Close(p.fd)
	}
	if err == nil && pos < len(buf) {
		_, err = s.conn.Write(buf[pos:])
	}
	return err
}

// SendAbort asks the worker to stop producing the response to id.
func (s *Slot) SendAbort(id uint32) {
	s.mu.Lock()
	s.wbuf = wire.AppendHeader(s.wbuf, wire.Abort, id, 0)
	s.flushLocked()
	s.mu.Unlock()
}

// ErrWorkerGone reports that the worker closed its end, almost always
// because the process died.
var ErrWorkerGone = errors.New("worker process exited")

// ReadFrame returns the next frame. The payload aliases the slot's buffer and
// is valid until the next call. Any error leaves the slot broken.
func (s *Slot) ReadFrame() (wire.Header, []byte, error) {
	if err := s.fill(wire.HeaderSize); err != nil {
		return wire.Header{}, nil, err
	}
	h, err := wire.ParseHeader(s.buf[s.r:])
	if err != nil {
		s.MarkBroken()
		return h, nil, err
	}
	if err := s.fill(wire.HeaderSize + h.Len); err != nil {
		return h, nil, err
	}
	p := s.buf[s.r+wire.HeaderSize : s.r+wire.HeaderSize+h.Len]
	s.r += wire.HeaderSize + h.Len
	return h, p, nil
}

// Buffered reports whether more frame bytes have already arrived, so the
// caller can hold back a flush to the client until the worker pauses.
func (s *Slot) Buffered() bool { return s.w > s.r }

// fill makes at least n unread bytes available.
func (s *Slot) fill(n int) error {
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
		if n > size {
			size = n
		} else if size > slotBufSize && n <= slotBufSize {
			size = slotBufSize
		}
		nb := s.buf
		if size != len(s.buf) {
			nb = make([]byte, size)
		}
		copy(nb, s.buf[s.r:s.w])
		s.buf, s.w, s.r = nb, s.w-s.r, 0
	}
	for s.w-s.r < n {
		// recvmsg, not read: a File frame brings a descriptor along, and
		// read would drop it.
		m, oobn, _, _, err := s.conn.ReadMsgUnix(s.buf[s.w:], s.oob[:])
		s.w += m
		if oobn > 0 {
			s.takeRights(s.oob[:oobn])
		}
		if err != nil {
			if s.w-s.r >= n {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return err // the caller decides; the stream is intact
			}
			s.broken.Store(true)
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, unix.ECONNRESET) {
				return ErrWorkerGone
			}
			return err
		}
	}
	return nil
}

func (s *Slot) takeRights(oob []byte) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			s.rfds = append(s.rfds, os.NewFile(uintptr(fd), "gowsgi-response-file"))
		}
	}
}

// TakeFile returns the descriptor that came with the last File frame, or
// nil if none did (a protocol error).
func (s *Slot) TakeFile() *os.File {
	if len(s.rfds) == 0 {
		return nil
	}
	f := s.rfds[0]
	s.rfds = s.rfds[1:]
	return f
}

// SetReadDeadline bounds the wait for the worker's next frame; see
// net.Conn.SetReadDeadline.
func (s *Slot) SetReadDeadline(t time.Time) error { return s.conn.SetReadDeadline(t) }

// MarkBroken takes the slot out of service after a protocol error: its
// stream is out of step, so Release kills the worker instead of reusing it.
func (s *Slot) MarkBroken() {
	s.protocolErr.Store(true)
	s.broken.Store(true)
}
