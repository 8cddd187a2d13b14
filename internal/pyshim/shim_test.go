package pyshim

// These tests run the real shim (WorkerSource: wire.py, wsgi.py, worker.py
// and gunicorn_compat.py) under testPython, started the way
// internal/workers starts it (the Loader, the bundle on fd 3, the control
// socket on fd 4, slot sockets from fd 5), and play the Go front by hand
// with internal/wire frames.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// testPython is the interpreter: $GOWSGI_TEST_PYTHON (as scripts/test.sh
// sets it to run the tests under the oldest and newest Python), else
// /usr/bin/python3.
func testPython() string {
	if p := os.Getenv("GOWSGI_TEST_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// frameTimeout bounds every wait for a frame; nothing in these tests waits
// on a clock otherwise.
const frameTimeout = 20 * time.Second

// testApp routes on PATH_INFO. Markers are files in DIR: tests wait for
// them, and the app waits for them where it must block.
const testApp = `
import os, sys, time

DIR = %s


def mark(name, text='x'):
    with open(os.path.join(DIR, name + '.tmp'), 'w') as f:
        f.write(text)
    os.rename(os.path.join(DIR, name + '.tmp'), os.path.join(DIR, name))


def wait_for(name):
    """Block until the test creates DIR/name (bounded, so a broken test
    cannot leave a worker behind forever)."""
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(DIR, name)):
        if time.monotonic() > deadline:
            raise RuntimeError('gave up waiting for ' + name)
        time.sleep(0.005)


class Tracked:
    """An endless (or given) iterable whose close() records how many items
    were taken from it, and may then raise."""

    def __init__(self, name, items=None, raise_in_close=None):
        self.name, self.items, self.raise_in_close, self.taken = name, items, raise_in_close, 0

    def __iter__(self):
        while self.items is None or self.taken < len(self.items):
            item = b'abcd' if self.items is None else self.items[self.taken]
            self.taken += 1
            yield item

    def close(self):
        mark(self.name, str(self.taken))
        if self.raise_in_close is not None:
            raise self.raise_in_close


class BlockInClose:
    """A one-item body whose close() waits for release-<name>."""

    def __init__(self, name):
        self.name = name

    def __iter__(self):
        yield b'closing ' + self.name.encode()

    def close(self):
        mark('entered-' + self.name)
        wait_for('release-' + self.name)


def stream_block(name):
    yield b'first'
    mark('entered-' + name)
    wait_for('release-' + name)
    yield b'second'


def raise_after_head():
    yield b'partial'
    raise SystemExit(7)


def app(environ, start_response):
    path = environ['PATH_INFO']
    query = environ.get('QUERY_STRING', '')
    if path == '/ok':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok ' + query.encode()]
    if path == '/echo':
        body = environ['wsgi.input'].read()
        start_response('200 OK', [])
        return [b'echo ' + body]
    if path == '/systemexit':
        raise SystemExit(3)
    if path == '/sysexit':
        sys.exit()
    if path == '/keyboardinterrupt':
        raise KeyboardInterrupt
    if path == '/generatorexit':
        raise GeneratorExit
    if path == '/raise-after-head':
        start_response('200 OK', [])
        return raise_after_head()
    if path == '/close-systemexit':
        start_response('200 OK', [])
        return Tracked('close-systemexit', [b'body'], SystemExit(1))
    if path == '/close-keyboardinterrupt':
        start_response('200 OK', [])
        return Tracked('close-keyboardinterrupt', [b'body'], KeyboardInterrupt())
    if path == '/endless':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return Tracked('endless-' + query)
    if path == '/endless-length':
        start_response('200 OK', [('content-LENGTH', query)])
        return Tracked('endless-length-' + query)
    if path == '/write-endless':
        write = start_response('200 OK', [('Content-Length', '6')])
        write(b'abcd')
        write(b'efgh')
        write(b'ijkl')
        return Tracked('write-endless')
    if path == '/block':
        mark('entered-' + query)
        wait_for('release-' + query)
        start_response('200 OK', [])
        return [b'released ' + query.encode()]
    if path == '/sleep':
        time.sleep(int(query) / 1000)
        start_response('200 OK', [])
        return [b'slept ' + query.encode()]
    if path == '/big':
        start_response('200 OK', [])
        return [b'x' * int(query)]
    if path == '/file':
        start_response('200 OK', [])
        return environ['wsgi.file_wrapper'](open(__file__, 'rb'))
    if path == '/close-block':
        start_response('200 OK', [])
        return BlockInClose(query)
    if path == '/items':
        n, size = (int(x) for x in query.split(','))
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return Tracked('items-' + query, [bytes([97 + i]) * size for i in range(n)])
    if path == '/stream-block':
        start_response('200 OK', [])
        return stream_block(query)
    start_response('404 Not Found', [])
    return [b'no route ' + path.encode()]
`

// lockedBuffer collects the worker's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// conn is one end of a socketpair with a frame reader.
type conn struct {
	c  *net.UnixConn
	br *bufio.Reader
}

// shim is a running worker.py and gowsgi's ends of its sockets.
type shim struct {
	t       *testing.T
	dir     string
	cmd     *exec.Cmd
	stderr  *lockedBuffer
	control *conn
	slots   []*conn
}

func socketpair(t *testing.T) (mine *conn, theirs *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "gowsgi-test")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	uc := c.(*net.UnixConn)
	return &conn{c: uc, br: bufio.NewReader(uc)}, os.NewFile(uintptr(fds[1]), "gowsgi-test-child")
}

// startShim starts worker.py with the test app and threads slots and waits
// for its Ready frame.
func startShim(t *testing.T, threads int) *shim {
	t.Helper()
	return startShimEnv(t, threads)
}

// holdUntilWait makes the worker's main thread leave held frames alone
// (it looks once a minute), so a test sees what the slot itself holds.
const holdUntilWait = "GOWSGI_TEST_HOLD_CHECK=60"

// startShimEnv is startShim with environment variables for the worker.
func startShimEnv(t *testing.T, threads int, env ...string) *shim {
	t.Helper()
	py := testPython()
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s is required: %v", py, err)
	}
	dir := t.TempDir()
	appFile := filepath.Join(dir, "testapp.py")
	if err := os.WriteFile(appFile, []byte(fmt.Sprintf(testApp, strconv.Quote(dir))), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &shim{t: t, dir: dir, stderr: &lockedBuffer{}}

	srcR, srcW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	child := []*os.File{srcR}
	var ctl *os.File
	s.control, ctl = socketpair(t)
	child = append(child, ctl)
	for i := 0; i < threads; i++ {
		c, f := socketpair(t)
		s.slots = append(s.slots, c)
		child = append(child, f)
	}
	cfg := Config{Target: appFile, Threads: threads, Workers: 1}
	s.cmd = exec.Command(py, cfg.Args()...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.ExtraFiles = child
	s.cmd.Stderr = s.stderr
	s.cmd.Dir = dir
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range child {
		f.Close()
	}
	go func() {
		srcW.Write(WorkerSource)
		srcW.Close()
	}()
	t.Cleanup(func() {
		s.control.c.Close() // asks the worker to exit
		for _, c := range s.slots {
			c.c.Close()
		}
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("worker stderr:\n%s", s.stderr.String())
		}
	})

	h, p := s.control.read(t)
	if h.Type != wire.Ready {
		t.Fatalf("first control frame is %s (%q), want Ready", h.Type, p)
	}
	return s
}

// read reads one frame.
func (c *conn) read(t *testing.T) (wire.Header, []byte) {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(frameTimeout))
	var hb [wire.HeaderSize]byte
	if _, err := io.ReadFull(c.br, hb[:]); err != nil {
		t.Fatalf("reading a frame header: %v", err)
	}
	h, err := wire.ParseHeader(hb[:])
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, h.Len)
	if _, err := io.ReadFull(c.br, p); err != nil {
		t.Fatalf("reading a %s frame: %v", h.Type, err)
	}
	return h, p
}

func (c *conn) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := c.c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// request encodes a request frame; a "path?query" target is split.
func request(id uint32, method, target string, body []byte) []byte {
	path, query, _ := strings.Cut(target, "?")
	b, off := wire.BeginRequest(nil, id)
	b = wire.AppendEnvStr(b, "REQUEST_METHOD", method)
	b = wire.AppendEnvStr(b, "PATH_INFO", path)
	b = wire.AppendEnvStr(b, "QUERY_STRING", query)
	b = wire.AppendEnvStr(b, "REQUEST_URI", target)
	b = wire.FinishRequest(b, off, len(body), false)
	return append(b, body...)
}

// response is what a slot sent for one request.
type response struct {
	status string
	body   []byte
	frames string // the frame types in order, e.g. "SBE"
	err    string // the payload of an Error frame
}

// readResponse reads the frames of request id up to the one that ends it,
// failing on a frame for another request or a body beyond max bytes.
func (c *conn) readResponse(t *testing.T, id uint32, max int) response {
	t.Helper()
	var r response
	for {
		h, p := c.read(t)
		if h.ID != id {
			t.Fatalf("frame %s for request %d while reading request %d (so far %q)", h.Type, h.ID, id, r.frames)
		}
		if len(r.frames) < 16 {
			r.frames += h.Type.String()
		} else if !strings.HasSuffix(r.frames, "...") {
			r.frames += "..."
		}
		switch h.Type {
		case wire.Start, wire.Whole:
			status, body, err := wire.DecodeHead(p, func(string, string) {})
			if err != nil {
				t.Fatalf("bad head: %v", err)
			}
			r.status = status
			r.body = append(r.body, body...)
		case wire.Body:
			r.body = append(r.body, p...)
		case wire.Error:
			r.err = string(p)
		case wire.End, wire.File: // the descriptor of File is dropped
		default:
			t.Fatalf("unexpected frame %s", h.Type)
		}
		if len(r.body) > max {
			t.Fatalf("request %d: body goes past %d bytes (frames %q)", id, max, r.frames)
		}
		if h.Type == wire.Whole || h.Type == wire.End || h.Type == wire.Error || h.Type == wire.File {
			return r
		}
	}
}

// get sends a request on slot i and reads its response.
func (s *shim) get(i int, id uint32, method, target string) response {
	s.t.Helper()
	s.slots[i].write(s.t, request(id, method, target, nil))
	return s.slots[i].readResponse(s.t, id, 64<<10)
}

// expectOK checks that slot i still serves: /ok answers in one Whole frame.
func (s *shim) expectOK(i int, id uint32) {
	s.t.Helper()
	r := s.get(i, id, "GET", "/ok?"+strconv.Itoa(int(id)))
	if r.frames != "W" || r.status != "200 OK" || string(r.body) != "ok "+strconv.Itoa(int(id)) {
		s.t.Fatalf("slot %d no longer serves: %+v", i, r)
	}
}

func (s *shim) marker(name string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	return string(b), err == nil
}

// waitMarker polls, with a deadline, for a file the app writes.
func (s *shim) waitMarker(name string) string {
	s.t.Helper()
	deadline := time.Now().Add(frameTimeout)
	for {
		if text, ok := s.marker(name); ok {
			return text
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the app never wrote %s", name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *shim) create(name string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), nil, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func TestShimBaseExceptionKeepsTheSlot(t *testing.T) {
	s := startShim(t, 1)
	id := uint32(1)
	for _, c := range []struct{ path, want string }{
		{"/systemexit", "SystemExit: 3"},
		{"/sysexit", "SystemExit"},
		{"/keyboardinterrupt", "KeyboardInterrupt"},
		{"/generatorexit", "GeneratorExit"},
	} {
		r := s.get(0, id, "GET", c.path)
		if r.frames != "X" || !strings.HasPrefix(r.err, c.want) {
			t.Fatalf("%s: got %+v, want one Error frame %q", c.path, r, c.want)
		}
		id++
		s.expectOK(0, id)
		id++
	}
	// After the head, the error aborts the response.
	r := s.get(0, id, "GET", "/raise-after-head")
	if r.frames != "SX" || string(r.body) != "partial" || !strings.HasPrefix(r.err, "SystemExit: 7") {
		t.Fatalf("raise after head: %+v", r)
	}
	id++
	s.expectOK(0, id)
	id++
	if log := s.stderr.String(); !strings.Contains(log, "KeyboardInterrupt, which ends this request only") {
		t.Fatalf("the log does not say what was raised:\n%s", log)
	}
}

func TestShimCloseRaisingBaseException(t *testing.T) {
	s := startShimEnv(t, 1, holdUntilWait) // the frames' shape, not the main thread's 5 ms flush under load
	id := uint32(1)
	for _, name := range []string{"close-systemexit", "close-keyboardinterrupt"} {
		r := s.get(0, id, "GET", "/"+name)
		if r.frames != "W" || string(r.body) != "body" {
			t.Fatalf("%s: got %+v, want the whole response, one frame", name, r)
		}
		id++
		s.expectOK(0, id) // the slot's thread survived close()
		id++
		if _, ok := s.marker(name); !ok {
			t.Fatalf("%s: close() did not run", name)
		}
	}
	if log := s.stderr.String(); !strings.Contains(log, "SystemExit in close()") {
		t.Fatalf("the log does not report close()'s SystemExit:\n%s", log)
	}
}

// checkTaken checks, once the slot has answered a later request (so close()
// of the earlier one has run), how many items close() says were taken.
func (s *shim) checkTaken(marker, want string) {
	s.t.Helper()
	got, ok := s.marker(marker)
	if !ok {
		s.t.Fatalf("close() of %s did not run", marker)
	}
	if got != want {
		s.t.Fatalf("%s: %s items were taken from the iterable, want %s", marker, got, want)
	}
}

func TestShimHeadStopsTheIterable(t *testing.T) {
	s := startShimEnv(t, 1, holdUntilWait) // the frames' shape, not the main thread's 5 ms flush under load
	r := s.get(0, 1, "HEAD", "/endless?head")
	if r.frames != "W" || r.status != "200 OK" || len(r.body) != 0 {
		t.Fatalf("HEAD on an endless body: %+v", r)
	}
	s.expectOK(0, 2)
	s.checkTaken("endless-head", "1")

	// write() after the head sends nothing for HEAD.
	r = s.get(0, 3, "HEAD", "/write-endless")
	if r.frames != "SE" || len(r.body) != 0 {
		t.Fatalf("HEAD with write(): %+v", r)
	}
	s.expectOK(0, 4)
	s.checkTaken("write-endless", "0")
}

func TestShimContentLengthStopsTheIterable(t *testing.T) {
	s := startShimEnv(t, 1, holdUntilWait) // the frames' shape, not the main thread's 5 ms flush under load
	r := s.get(0, 1, "GET", "/endless-length?10")
	if r.frames != "W" || string(r.body) != "abcdabcdab" { // three blocks, joined
		t.Fatalf("Content-Length 10 on an endless body: %+v", r)
	}
	s.expectOK(0, 2)
	s.checkTaken("endless-length-10", "3")

	r = s.get(0, 3, "GET", "/endless-length?0")
	if r.frames != "W" || len(r.body) != 0 {
		t.Fatalf("Content-Length 0 on an endless body: %+v", r)
	}
	s.expectOK(0, 4)
	s.checkTaken("endless-length-0", "1")

	// A first block that is the whole declared body makes a Whole frame
	// (as Flask's and Django's iterables do), and the iterable is not
	// advanced again.
	r = s.get(0, 7, "GET", "/endless-length?4")
	if r.frames != "W" || string(r.body) != "abcd" {
		t.Fatalf("Content-Length 4 on an endless body of 4-byte blocks: %+v", r)
	}
	s.expectOK(0, 8)
	s.checkTaken("endless-length-4", "1")

	// write() counts too: Content-Length 6, then three writes of 4 bytes
	// and an endless iterable that is never started.
	r = s.get(0, 5, "GET", "/write-endless")
	if r.frames != "SBE" || string(r.body) != "abcdef" {
		t.Fatalf("Content-Length 6 with write(): %+v", r)
	}
	s.expectOK(0, 6)
	s.checkTaken("write-endless", "0")
}

// A streamed body (an iterable other than a list, without a
// Content-Length) whose blocks are ready at once leaves in one frame: a
// Whole one, so the front knows the body whole and gives it a
// Content-Length, as for a one-item list. Up to 16 KiB is joined, up to
// 64 KiB held; larger bodies stream, every block sent. close() runs after the last block.
func TestShimStreamedBodyJoined(t *testing.T) {
	s := startShimEnv(t, 1, holdUntilWait) // the frames' shape, not the main thread's 5 ms flush under load
	id := uint32(1)
	for _, c := range []struct {
		query, frames string
		n, size       int
	}{
		{"1,13", "W", 1, 13},           // the seed's playground
		{"3,5", "W", 3, 5},             // small blocks: one payload
		{"3,5000", "W", 3, 5000},       // up to 16 KiB in one payload
		{"3,10000", "SBBE", 3, 10000},  // more: a frame each, one send
		{"3,40000", "SBBE", 3, 40000},  // past 64 KiB what is held goes out
		{"2,100000", "SBE", 2, 100000}, // a block too large to hold is sent
	} {
		s.slots[0].write(t, request(id, "GET", "/items?"+c.query, nil))
		r := s.slots[0].readResponse(t, id, 1<<20)
		var want []byte
		for i := 0; i < c.n; i++ {
			want = append(want, bytes.Repeat([]byte{byte('a' + i)}, c.size)...)
		}
		if r.frames != c.frames || r.status != "200 OK" || !bytes.Equal(r.body, want) {
			t.Fatalf("%s: frames %q, status %q, %d body bytes; want frames %q, %d bytes", c.query, r.frames, r.status, len(r.body), c.frames, len(want))
		}
		id++
		s.expectOK(0, id)
		id++
		s.checkTaken("items-"+c.query, strconv.Itoa(c.n))
	}
	// HEAD: the head alone, in one frame, after one block.
	if r := s.get(0, id, "HEAD", "/items?3,5"); r.frames != "W" || len(r.body) != 0 {
		t.Fatalf("HEAD: %+v", r)
	}
}

// revoke sends V(slot, from) on the control socket and returns the ids of
// the Revoked answer, checking it names the same slot and from.
func (s *shim) revoke(slot int, from uint32) []uint32 {
	s.t.Helper()
	v := wire.AppendHeader(nil, wire.Revoke, uint32(slot), 4)
	s.control.write(s.t, binary.LittleEndian.AppendUint32(v, from))
	h, p := s.control.read(s.t)
	if h.Type != wire.Revoked || h.ID != uint32(slot) {
		s.t.Fatalf("answer to a revoke: frame %s for slot %d", h.Type, h.ID)
	}
	gotFrom, ids, err := wire.DecodeRevoked(p)
	if err != nil || gotFrom != from {
		s.t.Fatalf("revoked payload %x: from %d, %v", p, gotFrom, err)
	}
	return ids
}

// block starts request id on slot i on the route that waits for the
// release-<id> marker, and waits until the app is inside it.
func (s *shim) block(i int, id uint32) {
	s.t.Helper()
	name := strconv.Itoa(int(id))
	s.slots[i].write(s.t, request(id, "GET", "/block?"+name, nil))
	s.waitMarker("entered-" + name)
}

// release lets blocked request id on slot i answer, and reads its answer.
func (s *shim) release(i int, id uint32) {
	s.t.Helper()
	name := strconv.Itoa(int(id))
	s.create("release-" + name)
	r := s.slots[i].readResponse(s.t, id, 1<<10)
	if r.frames != "W" || string(r.body) != "released "+name {
		s.t.Fatalf("blocked request %d: %+v", id, r)
	}
}

func TestShimRevokePipelined(t *testing.T) {
	s := startShim(t, 1)
	s.block(0, 1)
	s.slots[0].write(t, append(request(2, "GET", "/ok?2", nil), request(3, "GET", "/ok?3", nil)...))
	if ids := s.revoke(0, 2); !slices.Equal(ids, []uint32{2, 3}) {
		t.Fatalf("revoked %v, want [2 3]", ids)
	}
	s.release(0, 1)
	// Nothing ever comes for 2 or 3: the next frames are request 4's.
	s.expectOK(0, 4)
	if ids := s.revoke(0, 0); len(ids) != 0 {
		t.Fatalf("revoked %v on an idle slot", ids)
	}
	s.expectOK(0, 5)
}

func TestShimRevokeIdle(t *testing.T) {
	s := startShim(t, 1)
	if ids := s.revoke(0, 0); len(ids) != 0 {
		t.Fatalf("revoked %v before any request", ids)
	}
	s.expectOK(0, 1)
	if ids := s.revoke(0, 2); len(ids) != 0 {
		t.Fatalf("revoked %v on an idle slot", ids)
	}
	s.expectOK(0, 2)
}

func TestShimRevokeStarted(t *testing.T) {
	s := startShim(t, 1)
	s.block(0, 1)
	if ids := s.revoke(0, 1); len(ids) != 0 {
		t.Fatalf("revoked %v: request 1 has started", ids)
	}
	s.release(0, 1)
	s.expectOK(0, 2)
}

// Only requests with id >= from go, and never one whose body travels as a
// descriptor (its descriptor must stay paired with it).
func TestShimRevokeKeepsOlderAndDescriptorBodies(t *testing.T) {
	s := startShim(t, 1)
	s.block(0, 1)
	s.slots[0].write(t, request(2, "GET", "/ok?2", nil))

	f, err := os.CreateTemp(s.dir, "body")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("from a file")
	f.Seek(0, 0)
	b, off := wire.BeginRequest(nil, 3)
	b = wire.AppendEnvStr(b, "REQUEST_METHOD", "POST")
	b = wire.AppendEnvStr(b, "PATH_INFO", "/echo")
	b = wire.FinishRequest(b, off, 0, true)
	if _, _, err := s.slots[0].c.WriteMsgUnix(b, syscall.UnixRights(int(f.Fd())), nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s.slots[0].write(t, request(4, "GET", "/ok?4", nil))

	if ids := s.revoke(0, 3); !slices.Equal(ids, []uint32{4}) {
		t.Fatalf("revoked %v, want [4]", ids)
	}
	s.release(0, 1)
	if r := s.slots[0].readResponse(t, 2, 1<<10); string(r.body) != "ok 2" {
		t.Fatalf("request 2: %+v", r)
	}
	if r := s.slots[0].readResponse(t, 3, 1<<10); string(r.body) != "echo from a file" {
		t.Fatalf("request 3: %+v", r)
	}
	s.expectOK(0, 5)
}

// The id field of V and v is the slot's index; other slots keep serving.
func TestShimRevokeSecondSlot(t *testing.T) {
	s := startShim(t, 2)
	s.block(1, 1)
	s.slots[1].write(t, request(2, "GET", "/ok?2", nil))
	s.expectOK(0, 10)
	if ids := s.revoke(0, 0); len(ids) != 0 {
		t.Fatalf("revoked %v on idle slot 0", ids)
	}
	if ids := s.revoke(1, 0); !slices.Equal(ids, []uint32{2}) {
		t.Fatalf("revoked %v on slot 1, want [2]", ids)
	}
	s.release(1, 1)
	s.expectOK(1, 3)
	s.expectOK(0, 11)
}

// arrived reports whether the worker has sent anything not read yet. It is
// called once a marker shows the worker is past where it would have sent
// it: what was sent is already there, so it only waits (briefly) when
// nothing was.
func (c *conn) arrived() bool {
	if c.br.Buffered() > 0 {
		return true
	}
	c.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := c.br.Peek(1)
	return err == nil
}

// pipeline sends requests on slot i in one write, so the worker reads them
// all before it starts the first (its queue holds the rest).
func (s *shim) pipeline(i int, targets ...string) {
	s.t.Helper()
	var b []byte
	for n, target := range targets {
		b = append(b, request(uint32(n+1), "GET", target, nil)...)
	}
	s.slots[i].write(s.t, b)
}

// Responses to pipelined requests come whole and in order, whatever their
// frames, and the last is not held once the queue is empty.
func TestShimPipelinedResponsesInOrder(t *testing.T) {
	s := startShim(t, 1)
	s.pipeline(0, "/ok?1", "/endless-length?10", "/ok?3", "/file", "/ok?5", "/big?100000", "/ok?7", "/systemexit", "/ok?9")
	for i, want := range []string{"W", "W", "W", "F", "W", "W", "W", "X", "W"} {
		id := uint32(i + 1)
		r := s.slots[0].readResponse(t, id, 1<<20)
		if r.frames != want {
			t.Fatalf("request %d: frames %q, want %q", id, r.frames, want)
		}
		if want == "W" && r.status == "200 OK" && id%2 == 1 && string(r.body) != "ok "+strconv.Itoa(int(id)) {
			t.Fatalf("request %d: %q", id, r.body)
		}
	}
	s.expectOK(0, 10)
}

// A response held while requests are queued goes out with the next
// streamed frame, never after it; and a streamed block the slot holds (to
// join what follows it, Slot.hold_start) is sent by the worker's main
// thread while the iterable blocks before its next one.
func TestShimStreamedFramesNotHeld(t *testing.T) {
	s := startShim(t, 1)
	s.pipeline(0, "/ok?1", "/stream-block?2", "/ok?3")
	s.waitMarker("entered-2")
	if !s.slots[0].arrived() {
		t.Fatal("nothing sent while request 2 streams: response 1 and its first chunk are held")
	}
	if r := s.slots[0].readResponse(t, 1, 1<<10); r.frames != "W" || string(r.body) != "ok 1" {
		t.Fatalf("request 1: %+v", r)
	}
	h, p := s.slots[0].read(t)
	if h.Type != wire.Start || h.ID != 2 || !bytes.HasSuffix(p, []byte("first")) {
		t.Fatalf("request 2 began with %s for %d (%q)", h.Type, h.ID, p)
	}
	s.create("release-2")
	if r := s.slots[0].readResponse(t, 2, 1<<10); r.frames != "BE" || string(r.body) != "second" {
		t.Fatalf("rest of request 2: %+v", r)
	}
	if r := s.slots[0].readResponse(t, 3, 1<<10); string(r.body) != "ok 3" {
		t.Fatalf("request 3: %+v", r)
	}
}

// A response held behind a request that then hangs is sent by the worker's
// main thread: it does not wait for the hung one.
func TestShimHeldFramesSentWhileNextHangs(t *testing.T) {
	s := startShim(t, 1)
	s.pipeline(0, "/ok?1", "/block?2")
	s.waitMarker("entered-2")
	if r := s.slots[0].readResponse(t, 1, 1<<10); r.frames != "W" || string(r.body) != "ok 1" {
		t.Fatalf("request 1: %+v", r)
	}
	s.release(0, 2)
	s.expectOK(0, 3)
}

// A response held because a request was queued behind it goes out before
// the slot waits, also when a Revoke took that request away meanwhile.
func TestShimRevokeFlushesHeldFrames(t *testing.T) {
	s := startShimEnv(t, 1, holdUntilWait)
	s.pipeline(0, "/close-block?1", "/ok?2")
	s.waitMarker("entered-1") // request 1's Whole frame was made, then close() blocks
	if s.slots[0].arrived() {
		t.Fatal("request 1 sent while request 2 was queued: nothing held, the test no longer covers holding")
	}
	if ids := s.revoke(0, 2); !slices.Equal(ids, []uint32{2}) {
		t.Fatalf("revoked %v, want [2]", ids)
	}
	s.create("release-1")
	if r := s.slots[0].readResponse(t, 1, 1<<10); r.frames != "W" || string(r.body) != "closing 1" {
		t.Fatalf("request 1: %+v", r)
	}
	s.expectOK(0, 3)
}

// After a slow request nothing is held: a fast response queued between a
// slow request and a blocked one is sent before the blocked one runs. What
// is held goes out once it has waited 200 us (it waited for a 1 ms
// request), or past 64 KiB.
func TestShimHoldOnlyShortAndSmall(t *testing.T) {
	s := startShimEnv(t, 1, holdUntilWait)
	s.pipeline(0, "/sleep?5", "/ok?2", "/block?3")
	s.waitMarker("entered-3")
	if !s.slots[0].arrived() {
		t.Fatal("responses 1 and 2 held while request 3 runs, after a 5 ms request")
	}
	if r := s.slots[0].readResponse(t, 1, 1<<10); string(r.body) != "slept 5" {
		t.Fatalf("request 1: %+v", r)
	}
	if r := s.slots[0].readResponse(t, 2, 1<<10); string(r.body) != "ok 2" {
		t.Fatalf("request 2: %+v", r)
	}
	s.release(0, 3)

	// A 1 ms request keeps the average under 200 us, but response 1 has
	// waited for it: 1, 2 and 3 go out before 4 runs.
	s = startShimEnv(t, 1, holdUntilWait)
	s.pipeline(0, "/ok?1", "/sleep?1", "/ok?3", "/block?4")
	s.waitMarker("entered-4")
	if !s.slots[0].arrived() {
		t.Fatal("responses 1 to 3 held while request 4 runs, after a 1 ms request")
	}
	for i, want := range []string{"ok 1", "slept 1", "ok 3"} {
		id := uint32(i + 1)
		if r := s.slots[0].readResponse(t, id, 1<<10); string(r.body) != want {
			t.Fatalf("request %d: %+v", id, r)
		}
	}
	s.release(0, 4)

	s = startShimEnv(t, 1, holdUntilWait)
	s.pipeline(0, "/big?40000", "/big?40000", "/block?3")
	s.waitMarker("entered-3")
	if !s.slots[0].arrived() {
		t.Fatal("80000 bytes of responses held while request 3 runs")
	}
	for id := uint32(1); id <= 2; id++ {
		if r := s.slots[0].readResponse(t, id, 1<<20); r.frames != "W" || len(r.body) != 40000 {
			t.Fatalf("request %d: %s, %d bytes", id, r.frames, len(r.body))
		}
	}
	s.release(0, 3)
}

// An Abort for a request queued on the slot, not yet started, drops it:
// the app never runs it (it would block) and the slot answers E alone.
// The abort is kept while the request before it starts, and a stale one
// (for a request already answered) is forgotten.
func TestShimAbortBeforeStart(t *testing.T) {
	s := startShim(t, 1)
	s.block(0, 1)
	s.slots[0].write(t, append(request(2, "GET", "/ok?2", nil), request(3, "GET", "/block?3", nil)...))
	s.slots[0].write(t, wire.AppendHeader(nil, wire.Abort, 3, 0))
	s.release(0, 1)
	if r := s.slots[0].readResponse(t, 2, 1<<10); r.frames != "W" || string(r.body) != "ok 2" {
		t.Fatalf("request 2: %+v", r)
	}
	if r := s.slots[0].readResponse(t, 3, 1<<10); r.frames != "E" {
		t.Fatalf("aborted before it started, request 3 got %q, want E alone", r.frames)
	}
	if _, ok := s.marker("entered-3"); ok {
		t.Fatal("the aborted request ran")
	}
	s.slots[0].write(t, wire.AppendHeader(nil, wire.Abort, 2, 0)) // stale
	s.expectOK(0, 4)
	s.expectOK(0, 5)
}
