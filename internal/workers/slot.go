package workers

import (
	"errors"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// Slot is the Go end of one worker thread's socketpair. A slot serves one
// request at a time: the caller that acquired it sends a request frame and
// reads response frames until the response ends, then releases it.
type Slot struct {
	worker *Worker
	conn   *net.UnixConn

	buf  []byte // read buffer; buf[r:w] is unread
	r, w int

	nextID uint32
	broken bool // the stream is out of step or the worker is gone
}

const slotBufSize = 64 << 10

func newSlot(w *Worker, conn *net.UnixConn) *Slot {
	return &Slot{worker: w, conn: conn, buf: make([]byte, slotBufSize)}
}

// Worker returns the worker process that owns the slot.
func (s *Slot) Worker() *Worker { return s.worker }

// NextID returns a fresh request id for this slot.
func (s *Slot) NextID() uint32 {
	s.nextID++
	return s.nextID
}

// Send writes one request frame: prefix (built with wire.BeginRequest and
// wire.FinishRequest), then body, and passes file's descriptor along when
// file is not nil. Small requests go out in a single write.
func (s *Slot) Send(prefix, body []byte, file *os.File) error {
	var err error
	switch {
	case file != nil:
		oob := unix.UnixRights(int(file.Fd()))
		_, _, err = s.conn.WriteMsgUnix(prefix, oob, nil)
	case len(body) == 0:
		_, err = s.conn.Write(prefix)
	default:
		bufs := net.Buffers{prefix, body}
		_, err = bufs.WriteTo(s.conn)
	}
	if err != nil {
		s.broken = true
	}
	return err
}

// SendAbort asks the worker to stop producing the response to id.
func (s *Slot) SendAbort(id uint32) error {
	var b [wire.HeaderSize]byte
	_, err := s.conn.Write(wire.AppendHeader(b[:0], wire.Abort, id, 0))
	if err != nil {
		s.broken = true
	}
	return err
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
		s.broken = true
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
		m, err := s.conn.Read(s.buf[s.w:])
		s.w += m
		if err != nil {
			if s.w-s.r >= n {
				return nil
			}
			s.broken = true
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, unix.ECONNRESET) {
				return ErrWorkerGone
			}
			return err
		}
	}
	return nil
}

// SetReadDeadline bounds the wait for the worker's next frame; see
// net.Conn.SetReadDeadline.
func (s *Slot) SetReadDeadline(t time.Time) error { return s.conn.SetReadDeadline(t) }

// MarkBroken takes the slot out of service: its stream is out of step, so
// Release kills the worker instead of reusing it.
func (s *Slot) MarkBroken() { s.broken = true }
