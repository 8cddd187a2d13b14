package workers

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// A fake worker speaks the wire protocol as the Python shim does, so the
// pool, the exchange and the supervisor can be tested without Python. Each
// slot has a reader that queues request frames (as the shim parses several
// at a time) and a server that answers them in order; the control socket
// answers revoke requests for queued, unstarted requests.

// fakeProc is a fake worker's process: it "exits" when killed or stopped.
type fakeProc struct {
	pid    int
	once   sync.Once
	exited chan struct{}
	status string
	onSig  func(syscall.Signal)
}

func (p *fakeProc) Pid() int { return p.pid }
func (p *fakeProc) Signal(sig syscall.Signal) {
	if p.onSig != nil {
		p.onSig(sig)
	}
	if sig == syscall.SIGKILL {
		p.exit("signal: killed")
	}
}
func (p *fakeProc) Exited() <-chan struct{} { return p.exited }
func (p *fakeProc) ExitStatus() string      { return p.status }
func (p *fakeProc) exit(status string) {
	p.once.Do(func() { p.status = status; close(p.exited) })
}

// fakeRoutes decide how the fake worker answers a path.
type fakeRoutes struct {
	mu      sync.Mutex
	release map[string]chan struct{} // /block?name: answered once closed
	entered chan string              // a request starts ("/block?x" etc.)
	aborts  chan uint32              // the id of each Abort frame a fake slot has read
}

func newRoutes() *fakeRoutes {
	return &fakeRoutes{release: map[string]chan struct{}{}, entered: make(chan string, 64), aborts: make(chan uint32, 64)}
}

func (r *fakeRoutes) gate(name string) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.release[name]
	if !ok {
		c = make(chan struct{})
		r.release[name] = c
	}
	return c
}

type fakeSlot struct {
	conn    *net.UnixConn
	mu      sync.Mutex
	queue   []fakeReq
	cond    *sync.Cond
	closed  bool
	aborted map[uint32]bool
}

type fakeReq struct {
	id   uint32
	path string
}

// newFakeWorker makes a worker with n slots served by goroutines.
func newFakeWorker(t *testing.T, p *Pool, id, n int, routes *fakeRoutes) *Worker {
	proc := &fakeProc{pid: 100000 + id, exited: make(chan struct{})}
	w := &Worker{ID: id, PID: proc.pid, proc: proc, pool: p}
	parent, child, err := socketpairs(n + 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.attach(parent); err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, len(child))
	for i, f := range child {
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
	}
	slots := make([]*fakeSlot, n)
	for i := range slots {
		fs := &fakeSlot{conn: conns[i+1], aborted: map[uint32]bool{}}
		fs.cond = sync.NewCond(&fs.mu)
		slots[i] = fs
		go fs.read(routes)
		go fs.serve(routes)
	}
	ctl := conns[0]
	go fakeControl(ctl, slots, proc)
	go func() {
		<-proc.Exited()
		for _, c := range conns {
			c.Close()
		}
		w.closeConns()
	}()
	t.Cleanup(func() { proc.exit("exit status 0") })
	return w
}

// fakeControl answers revoke requests; the end of the stream is a stop.
func fakeControl(c *net.UnixConn, slots []*fakeSlot, proc *fakeProc) {
	var hb [wire.HeaderSize]byte
	for {
		if _, err := io.ReadFull(c, hb[:]); err != nil {
			proc.exit("exit status 0")
			return
		}
		h, _ := wire.ParseHeader(hb[:])
		p := make([]byte, h.Len)
		if _, err := io.ReadFull(c, p); err != nil {
			proc.exit("exit status 0")
			return
		}
		if h.Type != wire.Revoke {
			continue
		}
		from := binary.LittleEndian.Uint32(p)
		fs := slots[h.ID]
		fs.mu.Lock()
		var ids []uint32
		var keep []fakeReq
		for _, q := range fs.queue {
			if q.id >= from {
				ids = append(ids, q.id)
			} else {
				keep = append(keep, q)
			}
		}
		fs.queue = keep
		fs.mu.Unlock()
		// marshal v2: (from, [ids])
		var pl []byte
		pl = append(pl, '(', 2, 0, 0, 0, 'i')
		pl = binary.LittleEndian.AppendUint32(pl, from)
		pl = append(pl, '[')
		pl = binary.LittleEndian.AppendUint32(pl, uint32(len(ids)))
		for _, id := range ids {
			pl = append(pl, 'i')
			pl = binary.LittleEndian.AppendUint32(pl, id)
		}
		out := wire.AppendHeader(nil, wire.Revoked, h.ID, len(pl))
		c.Write(append(out, pl...))
	}
}

func (fs *fakeSlot) read(r *fakeRoutes) {
	var buf []byte
	tmp := make([]byte, 64<<10)
	for {
		n, err := fs.conn.Read(tmp)
		if err != nil {
			fs.mu.Lock()
			fs.closed = true
			fs.cond.Broadcast()
			fs.mu.Unlock()
			return
		}
		buf = append(buf, tmp[:n]...)
		for len(buf) >= wire.HeaderSize {
			h, _ := wire.ParseHeader(buf)
			if len(buf) < wire.HeaderSize+h.Len {
				break
			}
			payload := buf[wire.HeaderSize : wire.HeaderSize+h.Len]
			fs.mu.Lock()
			switch h.Type {
			case wire.Request:
				fs.queue = append(fs.queue, fakeReq{h.ID, envValue(payload, "PATH_INFO") + "?" + envValue(payload, "QUERY_STRING")})
			case wire.Abort:
				fs.aborted[h.ID] = true
				select {
				case r.aborts <- h.ID:
				default:
				}
			}
			fs.cond.Broadcast()
			fs.mu.Unlock()
			buf = buf[wire.HeaderSize+h.Len:]
		}
	}
}

// envValue finds a short ASCII environ value in an encoded request.
func envValue(p []byte, key string) string {
	k := append([]byte{'Z', byte(len(key))}, key...)
	i := bytes.Index(p, k)
	if i < 0 {
		return ""
	}
	v := p[i+len(k):]
	if len(v) < 2 || v[0] != 'z' {
		return ""
	}
	return string(v[2 : 2+int(v[1])])
}

var fakeHead = func() []byte {
	h := []byte{'(', 2, 0, 0, 0, 'u', 6, 0, 0, 0}
	h = append(h, "200 OK"...)
	return append(h, '[', 0, 0, 0, 0)
}()

func (fs *fakeSlot) serve(r *fakeRoutes) {
	for {
		fs.mu.Lock()
		for len(fs.queue) == 0 && !fs.closed {
			fs.cond.Wait()
		}
		if fs.closed {
			fs.mu.Unlock()
			return
		}
		q := fs.queue[0]
		fs.queue = fs.queue[1:]
		skip := fs.aborted[q.id]
		fs.mu.Unlock()
		if skip {
			// Aborted before it started: dropped, answered with End alone.
			fs.frame(wire.End, q.id, nil)
			continue
		}
		r.entered <- q.path
		path, query, _ := strings.Cut(q.path, "?")
		switch path {
		case "/block":
			<-r.gate(query)
			fs.whole(q.id, []byte("released "+query))
		case "/stream": // 64 frames of 64 KiB
			fs.frame(wire.Start, q.id, fakeHead)
			block := bytes.Repeat([]byte("x"), 64<<10)
			for i := 0; i < 64; i++ {
				if fs.frame(wire.Body, q.id, block) != nil {
					return
				}
			}
			fs.frame(wire.End, q.id, nil)
		default:
			if f := fakeExtraRoutes[path]; f != nil {
				f(fs, q.id)
				continue
			}
			fs.whole(q.id, []byte("ok "+path))
		}
	}
}

func (fs *fakeSlot) whole(id uint32, body []byte) error {
	return fs.frame(wire.Whole, id, append(append([]byte(nil), fakeHead...), body...))
}

func (fs *fakeSlot) frame(t wire.Type, id uint32, p []byte) error {
	_, err := fs.conn.Write(append(wire.AppendHeader(nil, t, id, len(p)), p...))
	return err
}

// fakePool is a pool whose workers are fake; spawned counts boots.
type fakePool struct {
	*Pool
	routes  *fakeRoutes
	mu      sync.Mutex
	spawned []*Worker
	fail    bool
}

func startFakePool(t *testing.T, o Options) *fakePool {
	t.Helper()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fp := &fakePool{Pool: New(o), routes: newRoutes()}
	fp.spawnFn = func(ctx context.Context, id int) (*Worker, error) {
		fp.mu.Lock()
		defer fp.mu.Unlock()
		if fp.fail {
			return nil, &BootError{Detail: "ImportError: broken"}
		}
		w := newFakeWorker(t, fp.Pool, id, fp.opts.Threads, fp.routes)
		fp.spawned = append(fp.spawned, w)
		return w, nil
	}
	if err := fp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fp.Stop(time.Second) })
	return fp
}

func (fp *fakePool) boots() int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return len(fp.spawned)
}

// send runs one exchange to its head and returns the exchange and head.
func send(t *testing.T, p *Pool, path string) (*Exchange, *Response, error) {
	t.Helper()
	return sendCtx(t, context.Background(), p, path)
}

// sendCtx is send with the client's context.
func sendCtx(t *testing.T, ctx context.Context, p *Pool, path string) (*Exchange, *Response, error) {
	t.Helper()
	var env wire.Environ
	env.Reset(nil)
	p2, q, _ := strings.Cut(path, "?")
	env.Add("PATH_INFO", p2)
	env.Add("QUERY_STRING", q)
	x, err := p.Send(ctx, &Request{Environ: &env, Method: "GET", Target: path, Proto: "HTTP/1.1"})
	if err != nil {
		return nil, nil, err
	}
	resp, err := x.Head(func(string, string) {})
	return x, resp, err
}

// sendFin is send for a client whose end of sending closes fin.
func sendFin(t *testing.T, fin chan struct{}, p *Pool, path string) (*Exchange, *Response, error) {
	t.Helper()
	var env wire.Environ
	env.Reset(nil)
	p2, q, _ := strings.Cut(path, "?")
	env.Add("PATH_INFO", p2)
	env.Add("QUERY_STRING", q)
	x, err := p.Send(context.Background(), &Request{Environ: &env, Method: "GET", Target: path, Proto: "HTTP/1.1", Finished: fin})
	if err != nil {
		return nil, nil, err
	}
	resp, err := x.Head(func(string, string) {})
	return x, resp, err
}

// readAll drains an exchange's body.
func readAll(x *Exchange, resp *Response) ([]byte, error) {
	out := append([]byte(nil), resp.Body...)
	if resp.Complete {
		return out, nil
	}
	for {
		b, _, err := x.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, b...)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var _ = os.Getpid
var _ = unix.EAGAIN
