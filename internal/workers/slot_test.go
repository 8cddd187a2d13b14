package workers

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// fakeWorker answers each request frame on c with a Whole frame whose body
// is the request's payload, like a worker serving one request at a time. It
// reads in big chunks, so pipelined frames arrive together.
func fakeWorker(t *testing.T, c *net.UnixConn) {
	buf := make([]byte, 0, 1<<16)
	tmp := make([]byte, 1<<16)
	for {
		n, err := c.Read(tmp)
		if err != nil {
			return
		}
		buf = append(buf, tmp[:n]...)
		for len(buf) >= wire.HeaderSize {
			h, err := wire.ParseHeader(buf)
			if err != nil || len(buf) < wire.HeaderSize+h.Len {
				break
			}
			payload := buf[wire.HeaderSize : wire.HeaderSize+h.Len]
			if h.Type == wire.Request {
				head := []byte{'(', 2, 0, 0, 0, 'u', 6, 0, 0, 0}
				head = append(head, "200 OK"...)
				head = append(head, '[', 0, 0, 0, 0)
				out := wire.AppendHeader(nil, wire.Whole, h.ID, len(head)+len(payload))
				out = append(append(out, head...), payload...)
				if _, err := c.Write(out); err != nil {
					return
				}
			}
			buf = buf[wire.HeaderSize+h.Len:]
		}
	}
}

func slotPair(t *testing.T) (*Slot, *net.UnixConn) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	a, b := conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	w := &Worker{ID: 1, proc: newFakeProcess()}
	return newSlot(w, 0, a), b
}

// fakeProcess stands in for a worker process in unit tests.
type fakeProcess struct{ exited chan struct{} }

func newFakeProcess() *fakeProcess             { return &fakeProcess{exited: make(chan struct{})} }
func (p *fakeProcess) Pid() int                { return 0 }
func (p *fakeProcess) Signal(syscall.Signal)   {}
func (p *fakeProcess) Exited() <-chan struct{} { return p.exited }
func (p *fakeProcess) ExitStatus() string      { return "exit status 0" }

// Many requests issued on one slot at once are written in ticket order and
// each ticket reads its own response, whatever order the goroutines run in.
func TestSlotPipelinesInOrder(t *testing.T) {
	s, peer := slotPair(t)
	go fakeWorker(t, peer)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := []byte(fmt.Sprintf("request-%d", i))
			frame := wire.AppendHeader(nil, wire.Request, 0, len(body))
			s.mu.Lock()
			tk, err := s.issue(frame, body, nil, false)
			s.mu.Unlock()
			if err != nil {
				errs <- err
				return
			}
			if tk.prev != nil {
				<-tk.prev
			}
			defer s.release(tk)
			h, p, err := s.readFrame()
			if err != nil {
				errs <- err
				return
			}
			if h.ID != tk.id || h.Type != wire.Whole {
				errs <- fmt.Errorf("ticket %d read frame %s for %d", tk.id, h.Type, h.ID)
				return
			}
			if _, got, err := wire.DecodeHead(p, func(string, string) {}); err != nil || string(got) != string(body) {
				errs <- fmt.Errorf("request %d got body %q (%v)", i, got, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A descriptor passed with a request arrives with that request's frame.
func TestSlotPassesDescriptor(t *testing.T) {
	s, peer := slotPair(t)
	f, err := os.CreateTemp(t.TempDir(), "body")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("spooled")
	frame := wire.AppendHeader(nil, wire.Request, 0, 0)
	s.mu.Lock()
	tk, err := s.issue(frame, nil, f, false)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := peer.ReadMsgUnix(buf, oob)
	if err != nil || n != wire.HeaderSize {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	if id := binary.LittleEndian.Uint32(buf[5:]); id != tk.id {
		t.Fatalf("frame id %d, ticket %d", id, tk.id)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("rights: %v %v", fds, err)
	}
	got := make([]byte, 16)
	m, _ := unix.Pread(fds[0], got, 0)
	unix.Close(fds[0])
	if string(got[:m]) != "spooled" {
		t.Fatalf("descriptor reads %q", got[:m])
	}
}

// An ASGI slot gives its read buffer back once its request is done, so a
// burst of requests over many slots leaves no 64 KiB per slot behind; a
// WSGI slot keeps its own.
func TestIdleASGISlotShedsReadBuffer(t *testing.T) {
	for _, asgi := range []bool{true, false} {
		p := startFakePool(t, Options{Workers: 1, Threads: 2})
		slots := *p.slots.Load()
		for _, s := range slots {
			s.worker.asgi = asgi // before any request: nothing reads it yet
		}
		x, resp, err := send(t, p.Pool, "/x")
		if err != nil || string(resp.Body) != "ok /x" {
			t.Fatalf("asgi=%v: %v %+v", asgi, err, resp)
		}
		s := x.Slot()
		x.Close()
		waitUntil(t, "the slot to be idle", func() bool { return s.idle.Load() })
		if kept := len(s.buf) > 0; kept == asgi {
			t.Errorf("asgi=%v: slot keeps a read buffer of %d bytes after its request", asgi, len(s.buf))
		}
		// The next request on the slot reads as before.
		x2, resp, err := send(t, p.Pool, "/y")
		if err != nil || string(resp.Body) != "ok /y" {
			t.Fatalf("asgi=%v, second request: %v %+v", asgi, err, resp)
		}
		x2.Close()
	}
}
