package workers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// mux carries every slot of an ASGI worker over the worker's one data
// socket (see the wire package: M and N frames). The slots above it keep
// their frames, their tickets and their reading code; only the bytes under
// them move: a slot's writes become M frames on the mux's output, which one
// writer goroutine sends, and one reader goroutine routes the M frames that
// come back into each slot's inbox, from which the slot's reader takes them
// (Slot.muxRecv). One read and one write then serve every request ready at
// that moment, where a socket per slot took a system call per request on
// each side.
//
// Flow control replaces the socket buffers that bounded each slot, and
// puts what the front holds for the worker under totals (the wire
// package's doc has the rules). Worker → Go: a slot's window starts at
// muxFloor with each request; the worker stops sending on it once the
// window is used, and the slot's reader acknowledges (N) as it consumes
// frames (Slot.doneFrame). While the response's client keeps up, the
// reader grows the window, up to muxWindow, with bytes taken from the
// response memory budget (--response-memory-total, the one WSGI's
// responses are under too), which go back when the slot is released
// (Slot.resetWindow): however many clients stall, the front holds for
// them at most that budget and muxFloor per slot. Go → worker: the front
// stops sending WebSocket messages to a slot once wsWindow of them are
// unacknowledged, and all the worker's WebSockets together once
// wsWorkerCredit are, beyond one message each (Exchange.WSSend,
// Slot.awaitCredit); the worker acknowledges as the application receives
// them. A streamed request body's pieces go the same way as WebSocket
// messages, under the same credit (Exchange.SendBody).
type mux struct {
	w     *Worker
	conn  *net.UnixConn
	slots []*Slot // by index, the M frame's id field

	// Output, guarded by mu: M and N frames, with large bodies spliced in
	// at offsets and descriptors riding on frames at offsets, as a slot's
	// own write buffer holds them (see writeSpliced).
	mu     sync.Mutex
	out    []byte
	spare  []byte
	bodies []pendingBody
	fds    []pendingFD
	kicked bool          // the writer has been woken for what is in out
	lazy   atomic.Bool   // out holds acknowledgements that wait for the next write (see credit)
	kick   chan struct{} // wakes the writer
	err    error         // the mux broke: writes fail with it
	dead   chan struct{} // closed once it broke
	iov    net.Buffers   // the writer's scratch

	ws wsCredit // the WebSocket messages in flight to the worker, all slots together
}

const (
	// muxFloor is the window of a slot at the start of each request: how
	// many bytes of its frames (9 + payload each) the worker may have sent
	// and the front not yet consumed, so a response streamed to a slow
	// client waits in the worker's send(). It needs no budget.
	muxFloor = wire.MuxFloor
	// muxWindow is the most a slot's window grows to while its client
	// keeps up, with budget (see Slot.growth).
	muxWindow = wire.MuxWindow
	// wsWindow bounds a WebSocket's messages sent to the worker and not
	// yet received by the application, as the window bounds the other way;
	// each message costs at least wsMinCost, so at most 16 small messages
	// wait in the worker: the bounds of the queue a slot used to pause
	// its reads at (WS_QUEUE_BYTES, WS_QUEUE_HIGH in asgi.py).
	wsWindow  = wire.WSWindow
	wsMinCost = wsWindow / 16
	// wsWorkerCredit bounds the cost of the WebSocket messages in flight
	// to one worker, all its WebSockets together, beyond one message each
	// (which always goes when nothing else of its WebSocket is in flight).
	// 1,000 WebSockets flooding an app that never receives grew the front
	// by 2.3 GiB with only wsWindow each (the messages waited in the mux's
	// output: the worker's event loop took them slower than the clients
	// sent); 16 MiB lets 16 of them fill their windows at once.
	wsWorkerCredit = 16 << 20
	// muxReadSize is the reader's buffer: one read takes every frame the
	// worker wrote since the last.
	muxReadSize = 256 << 10
	// muxMaxFDs bounds the descriptors one read takes (the worker sends
	// each in a sendmsg of its own, and a read stops after one such).
	muxMaxFDs = 16
	// muxInboxKeep is the largest inbox an idle slot keeps.
	muxInboxKeep = 16 << 10
	// muxSpareMax is the largest write buffer a slot on a mux keeps for
	// its next frames: what it writes is copied into the mux's output at
	// once, and a WebSocket's large messages must not leave a buffer of
	// their size behind on each of 1,000 slots (64 MiB of the front's heap
	// under a flood of 64 KiB messages).
	muxSpareMax = 16 << 10
)

// wsCost is what a WebSocket message of n bytes counts against wsWindow.
func wsCost(n int) int { return max(wire.HeaderSize+n, wsMinCost) }

// errMuxProtocol reports frames on the mux that break its own rules.
var errMuxProtocol = errors.New("protocol error on the worker's data socket")

// newMux makes the mux of w on conn, with n slots, and starts its reader and
// writer.
func newMux(w *Worker, conn *net.UnixConn, n int) *mux {
	m := &mux{w: w, conn: conn, kick: make(chan struct{}, 1), dead: make(chan struct{})}
	m.ws.free = wsWorkerCredit
	m.slots = make([]*Slot, n)
	for i := range m.slots {
		s := newSlot(w, i, nil)
		s.mx = m
		s.inReady = make(chan struct{}, 1)
		s.window, s.lag = muxFloor, -1
		m.slots[i] = s
	}
	go m.readLoop()
	go m.writeLoop()
	return m
}

// send queues buf, whole frames of slot idx (with bodies spliced in and
// descriptors riding on frames at their offsets, as Slot.issue queued
// them), as M frames. A descriptor rides on the M frame that begins with
// its frame, so each starts an M frame of its own. The descriptors are
// the mux's to close from here on.
func (m *mux) send(idx int, buf []byte, fds []pendingFD, bodies []pendingBody) error {
	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		for _, p := range fds {
			unix.Close(p.fd)
		}
		return m.err
	}
	pos := 0
	segment := func(end, fd int) {
		if end <= pos {
			return
		}
		n := end - pos
		for _, b := range bodies {
			if b.off > end {
				break
			}
			n += len(b.b)
		}
		if fd >= 0 {
			m.fds = append(m.fds, pendingFD{len(m.out), fd})
		}
		m.out = wire.AppendHeader(m.out, wire.Mux, uint32(idx), n)
		for len(bodies) > 0 && bodies[0].off <= end {
			m.out = append(m.out, buf[pos:bodies[0].off]...)
			pos = bodies[0].off
			m.bodies = append(m.bodies, pendingBody{len(m.out), bodies[0].b, bodies[0].pooled})
			bodies = bodies[1:]
		}
		m.out = append(m.out, buf[pos:end]...)
		pos = end
	}
	fd := -1
	for _, p := range fds {
		segment(p.off, fd)
		fd = p.fd
	}
	segment(len(buf), fd)
	m.wakeLocked()
	m.mu.Unlock()
	return nil
}

// credit queues an N frame: n more bytes of slot idx's frames consumed,
// and the slot's window grown by grow (none when 0). A lazy one is not
// written on its own: it goes with the next write to the worker, or when
// a slot's reader is about to wait for bytes (flushLazy), so that an
// acknowledgement the worker does not need yet (it has half its window
// or more left) costs no system call on either side.
func (m *mux) credit(idx, n, grow int, lazy bool) {
	m.mu.Lock()
	if m.err == nil {
		if grow > 0 {
			m.out = wire.AppendHeader(m.out, wire.Credit, uint32(idx), 8)
			m.out = binary.LittleEndian.AppendUint32(m.out, uint32(n))
			m.out = binary.LittleEndian.AppendUint32(m.out, uint32(grow))
		} else {
			m.out = wire.AppendHeader(m.out, wire.Credit, uint32(idx), 4)
			m.out = binary.LittleEndian.AppendUint32(m.out, uint32(n))
		}
		if lazy {
			m.lazy.Store(true)
		} else {
			m.wakeLocked()
		}
	}
	m.mu.Unlock()
}

// flushLazy writes the lazy acknowledgements queued, if any: a slot's
// reader is about to wait, and the worker may be waiting for them.
func (m *mux) flushLazy() {
	if !m.lazy.Load() {
		return
	}
	m.mu.Lock()
	if m.lazy.Load() && len(m.out) > 0 {
		m.wakeLocked()
	}
	m.mu.Unlock()
}

// wakeLocked has what was just queued written, unless a write is on its
// way already. With other requests in flight on the worker it wakes the
// writer goroutine: connection goroutines woken by the same poll queue
// their frames before it runs, and one writev carries them all (measured
// against writing at once: at 50 connections the worker then read one
// request per wake-up, 0.97 system calls per request against 0.16, and
// both sides spent more CPU per request). A request alone on the worker
// is written at once, by its caller: there is nothing to batch, and the
// hand-off to the writer only added a wake-up to each round trip (a
// WebSocket echo at one connection cost 150 µs of CPU against 120). m.mu
// is held; it is released during the write.
func (m *mux) wakeLocked() {
	if m.kicked {
		return
	}
	m.kicked = true
	if m.w.busy.Load() > 1 {
		m.kick <- struct{}{}
		return
	}
	m.writeLocked()
	m.kicked = false
}

// writeLocked writes what is queued until nothing is. m.mu is held; it is
// released during each write.
func (m *mux) writeLocked() {
	for len(m.out) > 0 && m.err == nil {
		m.lazy.Store(false) // written with the rest
		buf, fds, bodies := m.out, m.fds, m.bodies
		m.out, m.spare, m.fds, m.bodies = m.spare[:0], nil, nil, nil
		m.mu.Unlock()
		err := writeSpliced(m.conn, &m.iov, buf, fds, bodies)
		freePooled(bodies)
		m.mu.Lock()
		if cap(buf) <= 1<<20 {
			m.spare = buf[:0]
		}
		if err != nil {
			m.mu.Unlock()
			m.fail(err)
			m.mu.Lock()
		}
	}
}

// writeLoop writes what is queued, until the mux breaks.
func (m *mux) writeLoop() {
	for {
		select {
		case <-m.kick:
		case <-m.dead:
			return
		}
		m.mu.Lock()
		m.writeLocked()
		m.kicked = false
		m.mu.Unlock()
	}
}

// fail breaks the mux: every slot's reader gets err once it has read
// what is already in its inbox (a response the worker wrote as it died
// still reaches its client), so a slot is marked broken by its reader, as
// a slot socket's was; writes fail from now on, which breaks a slot a
// request is dispatched to. Only the first failure counts.
func (m *mux) fail(err error) {
	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		return
	}
	m.err = ErrWorkerGone
	close(m.dead)
	for _, p := range m.fds {
		unix.Close(p.fd)
	}
	m.out, m.fds, m.bodies = nil, nil, nil
	m.mu.Unlock()
	for _, s := range m.slots {
		s.inMu.Lock()
		if s.inErr == nil {
			s.inErr = err
		}
		wake := s.takeWake()
		s.inMu.Unlock()
		select {
		case s.inReady <- struct{}{}:
		default:
		}
		s.wakeCredit()
		wake()
	}
}

// readLoop routes the worker's M frames to their slots' inboxes and N
// frames' credit to their slots, until the stream ends. Descriptors the
// worker sent wait in a FIFO; an F frame takes its head as the reader
// routes it: the stream is ordered, and a descriptor rides on the first
// byte of the M frame that holds its F, so it has come by then.
func (m *mux) readLoop() {
	buf := make([]byte, muxReadSize)
	oob := make([]byte, unix.CmsgSpace(4*muxMaxFDs))
	var (
		rfds  []*os.File // received, not yet given to a slot
		hdr   [wire.HeaderSize]byte
		hn    int // bytes of hdr read
		ftype wire.Type
		cur   *Slot // the slot the M payload being read is for
		left  int   // bytes of the current frame's payload still to come
		cred  [4]byte
		inner [wire.HeaderSize]byte // an inner frame's header, maybe in parts
		in    int                   // bytes of inner read
		ileft int                   // bytes of the current inner frame still to come
	)
	defer func() {
		for _, f := range rfds {
			f.Close()
		}
	}()
	for {
		n, oobn, _, _, err := m.conn.ReadMsgUnix(buf, oob)
		n = max(n, 0)
		if oobn > 0 {
			rfds = appendRights(rfds, oob[:oobn])
		}
		if err == nil && n == 0 && oobn == 0 {
			err = io.EOF
		}
		p := buf[:n]
		for len(p) > 0 {
			if left == 0 {
				k := copy(hdr[hn:], p)
				hn, p = hn+k, p[k:]
				if hn < wire.HeaderSize {
					break
				}
				hn = 0
				h, perr := wire.ParseHeader(hdr[:])
				if perr != nil || int(h.ID) >= len(m.slots) || (h.Type != wire.Mux && h.Type != wire.Credit && h.Type != wire.BodyWanted) ||
					(h.Type != wire.Mux && h.Len != 4) {
					m.protocolError(fmt.Errorf("%w: frame %s for slot %d, %d bytes", errMuxProtocol, h.Type, h.ID, h.Len))
					return
				}
				ftype, cur, left = h.Type, m.slots[h.ID], h.Len
				if left == 0 {
					ftype = 0
				}
				continue
			}
			c := p[:min(left, len(p))]
			p, left = p[len(c):], left-len(c)
			if ftype == wire.Credit {
				copy(cred[4-left-len(c):], c)
				if left == 0 {
					cur.addCredit(int(binary.LittleEndian.Uint32(cred[:])))
					ftype = 0
				}
				continue
			}
			if ftype == wire.BodyWanted {
				copy(cred[4-left-len(c):], c)
				if left == 0 {
					cur.bodyWanted(binary.LittleEndian.Uint32(cred[:]))
					ftype = 0
				}
				continue
			}
			// Count the F frames in c, to give each its descriptor.
			var got []*os.File
			for off := 0; off < len(c); {
				if ileft == 0 {
					k := copy(inner[in:], c[off:])
					in, off = in+k, off+k
					if in < wire.HeaderSize {
						continue
					}
					in = 0
					ileft = int(binary.LittleEndian.Uint32(inner[:]))
					if wire.Type(inner[4]) == wire.File && len(rfds) > 0 {
						got = append(got, rfds[0])
						rfds = rfds[1:]
					}
					continue
				}
				k := min(ileft, len(c)-off)
				off, ileft = off+k, ileft-k
			}
			if left == 0 {
				ftype = 0
				if in != 0 || ileft != 0 {
					m.protocolError(fmt.Errorf("%w: an M frame for slot %d ends inside a frame", errMuxProtocol, cur.index))
					return
				}
			}
			cur.deliver(c, got)
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, unix.ECONNRESET) {
				err = io.EOF
			}
			m.fail(err)
			return
		}
	}
}

// protocolError breaks the mux after the worker sent what its rules do not
// allow, and has the worker killed: its streams are out of step.
func (m *mux) protocolError(err error) {
	m.w.pool.log.Error("protocol error from worker; it will be replaced", "worker", m.w.ID, "pid", m.w.PID, "err", err.Error())
	for _, s := range m.slots {
		s.protocolErr.Store(true)
	}
	m.fail(err)
	if m.w.alive() {
		m.w.pool.post(evBroken{m.w})
	}
}

// close releases the data socket; the reader then ends.
func (m *mux) close() { m.conn.Close() }

// appendRights appends the descriptors of an SCM_RIGHTS control message
// (a slot socket's or the mux's), close-on-exec.
func appendRights(fs []*os.File, oob []byte) []*os.File {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return fs
	}
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			fs = append(fs, os.NewFile(uintptr(fd), "gowsgi-response-file"))
		}
	}
	return fs
}

// deliver gives an M frame's bytes (whole or a part), and the descriptors
// of the F frames among them, to the slot: straight into its reader's
// buffer when the reader waits for them (one copy), else to its inbox.
// Then it wakes the reader.
func (s *Slot) deliver(b []byte, fds []*os.File) {
	s.inMu.Lock()
	s.rfds = append(s.rfds, fds...)
	s.outstanding += len(b)
	if 2*s.outstanding >= s.window {
		s.filled = true
	}
	if s.want != nil && s.inR == len(s.in) {
		n := copy(s.want[s.wantN:], b)
		s.wantN += n
		b = b[n:]
	}
	if len(b) > 0 {
		if s.inR == len(s.in) {
			s.in, s.inR = s.in[:0], 0
		} else if s.inR > 0 && len(s.in)+len(b) > cap(s.in) {
			// Reuse the room already read rather than grow: the inbox
			// stays within the window and a frame.
			s.in, s.inR = s.in[:copy(s.in, s.in[s.inR:])], 0
		}
		s.in = append(s.in, b...)
	}
	wake := s.takeWake()
	s.inMu.Unlock()
	select {
	case s.inReady <- struct{}{}:
	default:
	}
	wake()
}

// muxRecv is recv for a slot on a mux: it takes what its inbox holds into
// p, or, when wait is set and the inbox is empty, waits (until the read
// deadline) for the mux's reader to put bytes into p itself (see
// deliver). What it takes is acknowledged frame by frame, as the slot's
// reader is done with them (doneFrame), not here: bytes in the slot's
// read buffer are still the worker's window's.
func (s *Slot) muxRecv(p []byte, wait bool) (int, error) {
	if wait {
		s.mx.flushLazy() // not under inMu: the mux's reader must never wait for a write
	}
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.inR < len(s.in) {
		return s.takeInbox(p), nil
	}
	if err := s.inErr; err != nil {
		return 0, err
	}
	if !wait || len(p) == 0 {
		return 0, nil
	}
	return s.awaitBytes(p)
}

// muxReadFrame is readFrame on a mux: the frame returned before counts as
// consumed now (its reader asks for the next one, so it is done with it),
// and this one from the next call.
func (s *Slot) muxReadFrame() (wire.Header, []byte, error) {
	s.doneFrame()
	h, p, err := s.nextFrame()
	if err == nil {
		s.lastFrame = wire.HeaderSize + h.Len
	}
	return h, p, err
}

// doneFrame counts the frame readFrame returned last as consumed and,
// once a quarter of the window or more is, acknowledges it, with the
// window's growth when it grows (see growth): at once when the worker may
// be short of credit (half the window or more was in flight), else lazily
// (see mux.credit). Only the slot's reader calls it.
func (s *Slot) doneFrame() {
	n := s.lastFrame
	if n == 0 {
		return
	}
	s.lastFrame = 0
	s.consumed += n
	s.sinceGrow += n
	if 4*s.consumed < s.window { // s.window changes only on this goroutine (growth, resetWindow)
		return
	}
	ack := s.consumed
	s.consumed = 0
	s.inMu.Lock()
	short := 2*s.outstanding >= s.window // the worker may be short of credit
	s.outstanding -= ack
	filled := s.filled
	s.inMu.Unlock()
	grow := s.growth(filled)
	s.mx.credit(s.index, ack, grow, !short && grow == 0)
}

// growth grows the slot's window, and returns by how much (0: not now),
// when its client keeps up: the reader has consumed a whole window since
// the window last grew, the worker had half of it or more in flight at
// once meanwhile (filled: s.filled, as the caller read it under inMu; so
// the window is what holds it back, not the
// application: a slow event stream never grows it), and the response's
// buffer holds less than a window for the client (lag, which the pump
// sets; a slot read by anything else never grows). The growth doubles the
// window, up to muxWindow, and is taken from the response memory budget;
// without room, the window stays as it is. Only the slot's reader calls
// it.
func (s *Slot) growth(filled bool) int {
	if !filled || s.lag < 0 || s.lag >= int64(s.window) || s.sinceGrow < s.window || s.window >= muxWindow {
		return 0
	}
	g := min(s.window, muxWindow-s.window)
	if !s.worker.pool.resp.budget().TryAcquire(int64(g)) {
		return 0
	}
	s.inMu.Lock()
	s.window += g
	s.filled = false
	s.inMu.Unlock()
	s.sinceGrow = 0
	return g
}

// resetWindow starts the slot's next request at muxFloor, as the worker
// does when the request starts (see the wire package's doc), and gives the
// window's growth back to the budget. It is called as the slot is
// released, once the response's last frame has been read (or the stream
// broke): nothing of it is left in flight.
func (s *Slot) resetWindow() {
	s.inMu.Lock()
	g := s.window - muxFloor // the growth, from the budget
	s.window, s.outstanding, s.filled = muxFloor, 0, false
	s.inMu.Unlock()
	s.consumed, s.lastFrame, s.sinceGrow, s.lag = 0, 0, 0, -1
	if g > 0 {
		s.worker.pool.resp.budget().Release(int64(g))
	}
}

// awaitBytes waits, with an empty inbox, until the mux's reader has put
// bytes into p (or the inbox), the mux ends, or the read deadline passes;
// it returns how many are in p. s.inMu is held, and released while it
// waits.
func (s *Slot) awaitBytes(p []byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var expired <-chan time.Time
		if !s.rdl.IsZero() {
			d := time.Until(s.rdl)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		s.want, s.wantN = p, 0
		s.inMu.Unlock()
		timedOut := false
		select {
		case <-s.inReady:
		case <-expired:
			timer, timedOut = nil, true
		}
		s.inMu.Lock()
		n := s.wantN
		s.want, s.wantN = nil, 0
		switch {
		case n > 0:
			return n, nil
		case s.inR < len(s.in):
			return s.takeInbox(p), nil
		case s.inErr != nil:
			return 0, s.inErr
		case timedOut:
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// takeInbox moves what the inbox holds, as much as p takes, into p.
// s.inMu is held.
func (s *Slot) takeInbox(p []byte) int {
	n := copy(p, s.in[s.inR:])
	s.inR += n
	if s.inR == len(s.in) {
		s.in, s.inR = s.in[:0], 0 // a large one goes once the slot is idle (shedInbox)
	}
	return n
}

// shedInbox drops a large inbox that is empty, once the slot is idle: a
// streamed response grew it, and a thousand idle slots must not keep a
// window each.
func (s *Slot) shedInbox() {
	s.inMu.Lock()
	if s.inR == len(s.in) && cap(s.in) > muxInboxKeep {
		s.in, s.inR = nil, 0
	}
	s.inMu.Unlock()
}

// addCredit takes the worker's acknowledgement of n bytes of WebSocket
// messages (their cost, see wsCost), gives the worker's total back what
// of it was taken from there, and wakes a sender that waits for it. The
// worker acknowledges messages in the order they were sent, so the first
// of them is the one sent without the total (wsFree).
func (s *Slot) addCredit(n int) {
	s.credMu.Lock()
	s.wsOut -= n
	free := min(n, s.wsFree)
	s.wsFree -= free
	s.credMu.Unlock()
	if n > free {
		s.mx.ws.give(n - free)
	}
	s.wakeCredit()
}

// bodyWanted records that the application of request id, on s, asked
// for its streamed body (a G frame), and wakes the sender that waits for
// it (Exchange.AwaitBodyWanted).
func (s *Slot) bodyWanted(id uint32) {
	s.credMu.Lock()
	s.wanted = id
	s.credMu.Unlock()
	s.wakeCredit()
}

// wakeCredit wakes a WebSocket sender waiting for credit, to look again.
func (s *Slot) wakeCredit() {
	s.credMu.Lock()
	if s.credWait != nil {
		close(s.credWait)
		s.credWait = nil
	}
	s.credMu.Unlock()
}

// awaitCredit waits until the WebSocket on s may send a message of n bytes
// to the worker, and counts it: while wsWindow of them are unacknowledged,
// or the worker's total (wsWorkerCredit) has no room for it, the front
// stops reading its client. A message goes without the total when nothing
// of its WebSocket is unacknowledged: one message per WebSocket always
// goes, whatever the others hold. It ends early, with an error, when the
// mux breaks, the worker exits, done closes (the application returned) or
// gone does (the client's connection was dropped).
func (s *Slot) awaitCredit(n int, done, gone <-chan struct{}) error {
	cost := wsCost(n)
	for {
		s.credMu.Lock()
		if s.wsOut == 0 {
			s.wsOut, s.wsFree = cost, cost
			waited := s.wsWaited
			s.wsWaited = false
			s.credMu.Unlock()
			if waited {
				s.mx.ws.forget(s)
			}
			return nil
		}
		if s.credWait == nil {
			s.credWait = make(chan struct{})
		}
		wait := s.credWait
		if s.wsOut < wsWindow {
			if s.mx.ws.take(cost, s) {
				s.wsOut += cost
				s.credMu.Unlock()
				return nil
			}
			s.wsWaited = true // in the total's waiting list
		}
		s.credMu.Unlock()
		select {
		case <-wait:
		case <-s.mx.dead:
			s.mx.ws.forget(s)
			return ErrWorkerGone
		case <-s.worker.Exited():
			s.mx.ws.forget(s)
			return ErrWorkerGone
		case <-done:
			s.mx.ws.forget(s)
			return errWSEnded
		case <-gone:
			s.mx.ws.forget(s)
			return ErrClientGone
		}
	}
}

// wsCredit is the total of a worker's WebSocket credit: the cost of the
// messages in flight to it beyond one per WebSocket (see awaitCredit).
// A sender that finds no room waits in waiting; room given back wakes
// the first of them that it fits, in order (a small message may pass a
// large one, which has its WebSocket's own acknowledgements to wait for).
type wsCredit struct {
	mu      sync.Mutex
	free    int
	waiting []wsWaiter
}

type wsWaiter struct {
	s    *Slot
	need int
}

// take takes n, or records s as waiting for n; s.credMu is held (so that a
// wake-up from give cannot pass before s waits: it takes s.credMu).
func (c *wsCredit) take(n int, s *Slot) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n <= c.free {
		c.free -= n
		c.forgetLocked(s)
		return true
	}
	for i := range c.waiting {
		if c.waiting[i].s == s {
			c.waiting[i].need = n
			return false
		}
	}
	c.waiting = append(c.waiting, wsWaiter{s, n})
	return false
}

// give gives n back and wakes the waiting senders it has room for.
func (c *wsCredit) give(n int) {
	c.mu.Lock()
	c.free += n
	var wake []*Slot
	room := c.free
	keep := c.waiting[:0]
	for _, w := range c.waiting {
		if w.need <= room {
			room -= w.need
			wake = append(wake, w.s)
		} else {
			keep = append(keep, w)
		}
	}
	clear(c.waiting[len(keep):])
	c.waiting = keep
	c.mu.Unlock()
	for _, s := range wake {
		s.wakeCredit()
	}
}

// forget takes s off the waiting senders (it stopped waiting).
func (c *wsCredit) forget(s *Slot) {
	c.mu.Lock()
	c.forgetLocked(s)
	c.mu.Unlock()
}

func (c *wsCredit) forgetLocked(s *Slot) {
	for i := range c.waiting {
		if c.waiting[i].s == s {
			n := len(c.waiting) - 1
			copy(c.waiting[i:], c.waiting[i+1:])
			c.waiting[n] = wsWaiter{}
			c.waiting = c.waiting[:n]
			return
		}
	}
}

// errWSEnded: a message for a WebSocket whose application has returned.
var errWSEnded = errors.New("the WebSocket's application has returned")

// writeSpliced writes buf to conn with bodies spliced in at their offsets,
// one writev per run between descriptors; a descriptor rides on the first
// byte of its frame's header, in a sendmsg of its own, and is closed once
// sent. iov is the caller's scratch.
func writeSpliced(conn *net.UnixConn, iov *net.Buffers, buf []byte, fds []pendingFD, bodies []pendingBody) error {
	pos := 0
	// queue adds buf[pos:end] to the iovecs, with the bodies that go there.
	queue := func(end int) {
		for len(bodies) > 0 && bodies[0].off <= end {
			if bodies[0].off > pos {
				*iov = append(*iov, buf[pos:bodies[0].off])
				pos = bodies[0].off
			}
			*iov = append(*iov, bodies[0].b)
			bodies = bodies[1:]
		}
		if end > pos {
			*iov = append(*iov, buf[pos:end])
			pos = end
		}
	}
	var err error
	for _, p := range fds {
		if err == nil {
			queue(p.off)
			err = writeQueued(conn, iov)
		}
		if err == nil {
			_, _, err = conn.WriteMsgUnix(buf[p.off:p.off+wire.HeaderSize], unix.UnixRights(p.fd), nil)
			pos = p.off + wire.HeaderSize
		}
		unix.Close(p.fd)
	}
	if err == nil {
		queue(len(buf))
		err = writeQueued(conn, iov)
	}
	clear((*iov)[:cap(*iov)]) // drop references to bodies
	*iov = (*iov)[:0]
	return err
}

// writeQueued writes the queued iovecs and empties the queue.
func writeQueued(conn *net.UnixConn, iov *net.Buffers) error {
	var err error
	switch len(*iov) {
	case 0:
	case 1:
		_, err = conn.Write((*iov)[0])
	default:
		v := *iov // WriteTo consumes its receiver
		_, err = v.WriteTo(conn)
	}
	*iov = (*iov)[:0]
	return err
}
