package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
)

const wsApp = "tests/testdata/apps/ws_starlette.py"

// wsClient runs tests/testdata/ws_client.py (Debian's python3-websockets
// and python3-websocket) and decodes the JSON it prints.
func wsClient(t *testing.T, out any, args ...string) {
	t.Helper()
	py := debianPython(t, "websockets", "websocket")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{filepath.Join(repoRoot, "tests/testdata/ws_client.py")}, args...)...)
	b, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("ws_client.py %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("ws_client.py %s printed %q: %v", strings.Join(args, " "), b, err)
	}
}

func startWS(t *testing.T, args ...string) (*Server, *probeState) {
	t.Helper()
	py := debianPython(t, "starlette", "fastapi")
	return startASGI(t, nil, append([]string{wsApp, "--python", py}, args...)...)
}

func wsURL(s *Server, path string) string { return "ws://" + s.Addr + path }

// Real clients against a Starlette echo: text, bytes, a 1 MiB message,
// permessage-deflate (which python3-websockets offers), ping/pong, the
// subprotocol the app picked, and the close code the app sees.
func TestWebSocketStarletteEcho(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, p := startWS(t, "--access-logfile", "-", "--metrics-bind", maddr)
	var out struct {
		Subprotocol string   `json:"subprotocol"`
		Extensions  []string `json:"extensions"`
		Text        string   `json:"text"`
		Bytes       []int    `json:"bytes"`
		BigOK       bool     `json:"big_ok"`
		Pong        bool     `json:"pong"`
		CloseCode   int      `json:"close_code"`
	}
	wsClient(t, &out, "websockets", wsURL(s, "/echo"))
	if out.Subprotocol != "chat" || out.Text != "hello ✓" || len(out.Bytes) != 3 || out.Bytes[2] != 255 || !out.BigOK || !out.Pong || out.CloseCode != 1000 {
		t.Fatalf("websockets client saw %+v", out)
	}
	if len(out.Extensions) != 1 || !strings.Contains(out.Extensions[0], "PerMessageDeflate") {
		t.Errorf("permessage-deflate was not negotiated: %v", out.Extensions)
	}
	p.WaitFile("echo-disconnect", 10*time.Second)
	if code := readFile(t, p.Path("echo-disconnect")); code != "1000" {
		t.Errorf("the app saw websocket.disconnect with code %s, want 1000", code)
	}

	var wc struct {
		Text       string `json:"text"`
		Bytes      []int  `json:"bytes"`
		PongOpcode int    `json:"pong_opcode"`
	}
	wsClient(t, &wc, "websocket-client", wsURL(s, "/echo"))
	if wc.Text != "from websocket-client" || len(wc.Bytes) != 2 || wc.PongOpcode != 0xA {
		t.Fatalf("websocket-client saw %+v", wc)
	}
	// Each connection's end: a log line with its close code and counts,
	// and an access log line with status 101 and the bytes sent.
	s.WaitLog(t, "websocket closed", 2, 10*time.Second)
	if !strings.Contains(s.Stderr.String(), "code=1000 ") || !strings.Contains(s.Stderr.String(), "messages_in=3 messages_out=3 bytes_in=1048588") {
		t.Errorf("no websocket closed line with the code and counts:\n%s", s.Stderr)
	}
	if !waitFor(5*time.Second, func() bool { return strings.Count(s.Stdout.String(), `"GET /echo HTTP/1.1" 101 `) == 2 }) {
		t.Errorf("no access log lines with status 101:\n%s", s.Stdout)
	}
	// Metrics: the open gauge back to 0, messages and bytes each way, closes by code.
	mf := scrapeMetrics(t, maddr)
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gowsgi_websockets_open", nil, 0},
		{"gowsgi_websockets_closed_total", []string{"code", "1000"}, 2},
		{"gowsgi_websocket_messages_total", []string{"direction", "in"}, 5},
		{"gowsgi_websocket_messages_total", []string{"direction", "out"}, 5},
		{"gowsgi_websocket_message_bytes_total", []string{"direction", "in"}, 1048588 + 23},
		{"gowsgi_requests_total", []string{"code", "101"}, 2},
	} {
		if v, _ := metricValue(mf, m.name, m.labels...); v != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, v, m.want)
		}
	}
}

func TestWebSocketFastAPIAndMany(t *testing.T) {
	t.Parallel()
	s, _ := startWS(t)
	var out struct {
		Name string `json:"name"`
		Got  string `json:"got"`
	}
	wsClient(t, &out, "fastapi", wsURL(s, "/api/ws/alice"))
	if out.Name != "alice" || out.Got != "hi" {
		t.Fatalf("FastAPI route answered %+v", out)
	}
	var many struct{ OK, N int }
	wsClient(t, &many, "many", wsURL(s, "/echo"), "200")
	if many.OK != 200 {
		t.Fatalf("%d of 200 concurrent connections echoed correctly", many.OK)
	}
}

// A Django Channels chat with the in-memory channel layer: two clients in
// a room, each message reaches both.
func TestWebSocketChannelsChat(t *testing.T) {
	t.Parallel()
	py := debianPython(t, "channels", "django")
	s, _ := startASGI(t, nil, "tests/testdata/apps/ws_channels.py:application", "--python", py, "-w", "1")
	var out struct{ A, B []string }
	wsClient(t, &out, "chat", wsURL(s, "/chat/lobby/"))
	if strings.Join(out.A, "|") != "hello from a|hi from b" || strings.Join(out.B, "|") != "hello from a|hi from b" {
		t.Fatalf("chat: %+v", out)
	}
}

// The handshake's answers: a close before accept is 403, the app's own
// HTTP response (websocket.http.response) goes out as it is, and the app's
// close reaches the client with its code and reason.
func TestWebSocketAnswers(t *testing.T) {
	t.Parallel()
	s, _ := startWS(t)
	var st struct {
		Status int `json:"status"`
	}
	wsClient(t, &st, "status", wsURL(s, "/deny"))
	if st.Status != 403 {
		t.Errorf("close before accept: status %d, want 403", st.Status)
	}
	wsClient(t, &st, "status", wsURL(s, "/no-such-route"))
	if st.Status != 403 {
		t.Errorf("no route (Starlette closes before accept): status %d, want 403", st.Status)
	}
	wsClient(t, &st, "status", wsURL(s, "/boom"))
	if st.Status != 500 {
		t.Errorf("the app raised before accept: status %d, want 500", st.Status)
	}
	wsClient(t, &st, "status", wsURL(s, "/raw/x"))
	if st.Status != 401 {
		t.Errorf("websocket.http.response: status %d, want the app's 401", st.Status)
	}
	resp, body := get(t, s, "GET", "/raw/x", nil, "Upgrade", "websocket", "Connection", "Upgrade",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13")
	if resp.StatusCode != 401 || body != "no token" || resp.Header.Get("Www-Authenticate") != "Bearer" {
		t.Errorf("denial response: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, body = get(t, s, "GET", "/echo", nil, "Upgrade", "websocket", "Connection", "Upgrade",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "8")
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Errorf("version 8: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	var cl struct {
		First  string `json:"first"`
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	}
	wsClient(t, &cl, "close", wsURL(s, "/close"))
	if cl.First != "bye" || cl.Code != 4001 || cl.Reason != "done here" {
		t.Errorf("app-initiated close: %+v", cl)
	}
}

func TestWebSocketScope(t *testing.T) {
	t.Parallel()
	s, _ := startWS(t)
	var sc struct {
		Type         string     `json:"type"`
		Scheme       string     `json:"scheme"`
		Path         string     `json:"path"`
		QueryString  string     `json:"query_string"`
		Subprotocols []string   `json:"subprotocols"`
		HTTPVersion  string     `json:"http_version"`
		Client       []any      `json:"client"`
		Headers      [][]string `json:"headers"`
		Extensions   []string   `json:"extensions"`
		HasMethod    bool       `json:"has_method"`
	}
	wsClient(t, &sc, "scope", wsURL(s, "/scope?x=1"))
	if sc.Type != "websocket" || sc.Scheme != "ws" || sc.Path != "/scope" || sc.QueryString != "x=1" || sc.HTTPVersion != "1.1" ||
		strings.Join(sc.Subprotocols, ",") != "a,b" || len(sc.Client) != 2 || sc.HasMethod {
		t.Fatalf("scope %+v", sc)
	}
	found := false
	for _, h := range sc.Headers {
		found = found || h[0] == "x-custom" && h[1] == "yes"
	}
	if !found || strings.Join(sc.Extensions, ",") != "websocket.http.response" {
		t.Errorf("headers %v, extensions %v", sc.Headers, sc.Extensions)
	}
}

// wsUpgrade opens a WebSocket to path by hand (a raw socket, the handshake
// of upgradeHead) and returns the connection, with deadline d and closed
// when the test ends, and its reader, just past the 101.
func wsUpgrade(t *testing.T, addr, path string, d time.Duration) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(d))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n"+upgradeHead+"\r\n")
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return c, br
}

// A client that drops the TCP connection without a close frame: the app
// gets websocket.disconnect with 1006.
func TestWebSocketClientDrops(t *testing.T) {
	t.Parallel()
	s, p := startWS(t)
	c, _ := wsUpgrade(t, s.Addr, "/wait", 10*time.Second)
	p.WaitFile("wait-accepted", 10*time.Second)
	c.Close()
	p.WaitFile("wait-disconnect", 10*time.Second)
	if code := readFile(t, p.Path("wait-disconnect")); code != "1006" {
		t.Errorf("the app saw websocket.disconnect with %s, want 1006", code)
	}
}

// wss://: a WebSocket over TLS (HTTP/1.1 by ALPN) has scheme wss and the
// tls extension.
func TestWebSocketTLS(t *testing.T) {
	t.Parallel()
	pki := newPKI(t)
	cf, kf, _ := pki.issue("server", "localhost", []string{"localhost"}, false)
	s, _ := startWS(t, "--certfile", cf, "--keyfile", kf)
	var sc struct {
		Scheme     string   `json:"scheme"`
		Extensions []string `json:"extensions"`
	}
	wsClient(t, &sc, "scope", "wss://localhost:"+strconv.Itoa(s.port())+"/scope", pki.file)
	if sc.Scheme != "wss" || strings.Join(sc.Extensions, ",") != "tls,websocket.http.response" {
		t.Fatalf("scope over TLS: %+v", sc)
	}
}

// HUP reload with an open WebSocket: its worker is replaced, and after
// --graceful-timeout the client gets 1012 (Service Restart) and the app
// websocket.disconnect with 1012; new WebSockets go to the new worker.
func TestWebSocketReload(t *testing.T) {
	t.Parallel()
	s, p := startWS(t, "--graceful-timeout", "1")
	cmd, out := waitClient(t, wsURL(s, "/wait"))
	defer cmd.Process.Kill()
	p.WaitFile("wait-accepted", 10*time.Second)
	os.Remove(p.Path("wait-accepted"))
	s.Signal(syscall.SIGHUP)
	cmd.Wait()
	if !strings.Contains(out.String(), "1012") {
		t.Errorf("the client saw %q, want a close with 1012", out.String())
	}
	p.WaitFile("wait-disconnect", 10*time.Second)
	if code := readFile(t, p.Path("wait-disconnect")); code != "1012" {
		t.Errorf("the app saw websocket.disconnect with %s, want 1012", code)
	}
	var wc struct {
		Text string `json:"text"`
	}
	wsClient(t, &wc, "websocket-client", wsURL(s, "/echo"))
	if wc.Text != "from websocket-client" {
		t.Errorf("after the reload: %+v", wc)
	}
}

// waitClient opens a WebSocket with python3-websockets and prints the
// close code it gets.
func waitClient(t *testing.T, url string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	py := debianPython(t, "websockets")
	script := `
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        print('open', flush=True)
        try:
            await ws.recv()
        except websockets.ConnectionClosed as e:
            print(e.code, flush=True)
asyncio.run(main())
`
	cmd := exec.Command(py, "-c", script, url)
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// SIGTERM with an open WebSocket: the app has the graceful timeout, then
// the client gets 1001 and the app websocket.disconnect with 1001; the
// server exits.
func TestWebSocketShutdown(t *testing.T) {
	t.Parallel()
	s, p := startWS(t, "--graceful-timeout", "2")
	cmd, out := waitClient(t, wsURL(s, "/wait"))
	defer cmd.Process.Kill()
	p.WaitFile("wait-accepted", 10*time.Second)
	start := time.Now()
	s.Signal(syscall.SIGTERM)
	if code := s.Wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	cmd.Wait()
	if !strings.Contains(out.String(), "1001") {
		t.Errorf("the client saw %q, want a close with 1001", out.String())
	}
	p.WaitFile("wait-disconnect", 5*time.Second)
	if code := readFile(t, p.Path("wait-disconnect")); code != "1001" {
		t.Errorf("the app saw websocket.disconnect with %s, want 1001", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %v", d)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// RFC 8441: a WebSocket over an h2c stream, with Go's HTTP/2 client,
// when gowsgi runs with GODEBUG=http2xconnect=1; without it, the server
// does not offer extended CONNECT at all.
func TestWebSocketHTTP2ExtendedConnect(t *testing.T) {
	t.Parallel()
	py := debianPython(t, "starlette", "fastapi")
	off, _ := startASGI(t, nil, wsApp, "--python", py, "--http2-cleartext", "prior-knowledge")
	if _, err := h2Connect(t, off, "/echo"); err == nil || !strings.Contains(err.Error(), "extended connect not supported") {
		t.Errorf("without GODEBUG=http2xconnect=1: %v, want extended CONNECT refused", err)
	}

	s, p := startASGI(t, []string{"GODEBUG=http2xconnect=1"}, wsApp, "--python", py, "--http2-cleartext", "prior-knowledge")
	st, err := h2Connect(t, s, "/echo")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, m := range []string{"over h2", strings.Repeat("y", 100000)} {
		st.send(ws.OpText, []byte(m))
		if op, got := st.recv(); op != ws.OpText || string(got) != m {
			t.Fatalf("echo: op %v, %d bytes", op, len(got))
		}
	}
	st.send(ws.OpClose, []byte{0x03, 0xe8}) // 1000
	if op, got := st.recv(); op != ws.OpClose || len(got) < 2 || int(got[0])<<8|int(got[1]) != 1000 {
		t.Fatalf("close: op %v %q", op, got)
	}
	p.WaitFile("echo-disconnect", 10*time.Second)
	if code := readFile(t, p.Path("echo-disconnect")); code != "1000" {
		t.Errorf("the app saw websocket.disconnect with %s", code)
	}
}

type h2Stream struct {
	pw   *io.PipeWriter
	body io.ReadCloser
	br   *bufio.Reader
	t    *testing.T
}

func h2Connect(t *testing.T, s *Server, path string) (*h2Stream, error) {
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return net.Dial(network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("CONNECT", "http://"+s.Addr+path, pr)
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	resp, err := tr.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("extended CONNECT answered %d", resp.StatusCode)
	}
	return &h2Stream{pw: pw, body: resp.Body, br: bufio.NewReader(resp.Body), t: t}, nil
}

func (s *h2Stream) send(op ws.OpCode, p []byte) {
	var b bytes.Buffer
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p)), Masked: true, Mask: [4]byte{9, 8, 7, 6}}
	ws.WriteHeader(&b, h)
	q := append([]byte(nil), p...)
	ws.Cipher(q, h.Mask, 0)
	b.Write(q)
	if _, err := s.pw.Write(b.Bytes()); err != nil {
		s.t.Fatal(err)
	}
}

func (s *h2Stream) recv() (ws.OpCode, []byte) {
	h, err := ws.ReadHeader(s.br)
	if err != nil {
		s.t.Fatal(err)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(s.br, p); err != nil {
		s.t.Fatal(err)
	}
	return h.OpCode, p
}

func (s *h2Stream) Close() { s.pw.Close(); s.body.Close() }

// A client floods messages into an app that never receives them: the
// worker stops reading its slot, the front its client, and TCP holds the
// client. Neither gowsgi's nor the worker's memory follows the flood.
func TestWebSocketFloodNonReadingApp(t *testing.T) {
	t.Parallel()
	s, p := startWS(t, "--graceful-timeout", "1")
	workerPID := 0
	for _, line := range strings.Split(s.Stderr.String(), "\n") {
		if i := strings.Index(line, "msg=\"worker ready\""); i >= 0 {
			fmt.Sscanf(line[strings.Index(line, " pid=")+5:], "%d", &workerPID)
		}
	}
	if workerPID == 0 {
		t.Fatalf("no worker pid in the log:\n%s", s.Stderr)
	}
	rss0, wrss0 := rssKiB(t, s.Cmd.Process.Pid), rssKiB(t, workerPID)

	c, _ := wsUpgrade(t, s.Addr, "/hold", 10*time.Second)
	p.WaitFile("hold-accepted", 10*time.Second)
	c.(*net.TCPConn).SetWriteBuffer(64 << 10)

	var msg bytes.Buffer
	payload := make([]byte, 32<<10)
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(len(payload)), Masked: true, Mask: [4]byte{1, 2, 3, 4}}
	ws.WriteHeader(&msg, h)
	msg.Write(payload) // zeros, masked or not
	const limit = 256 << 20
	written := 0
	for written < limit {
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Write(msg.Bytes())
		written += n
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			t.Fatalf("write: %v", err)
		}
	}
	if written >= limit {
		t.Fatalf("the client wrote %d MiB into an app that reads nothing: nothing held it", limit>>20)
	}
	rss1, wrss1 := rssKiB(t, s.Cmd.Process.Pid), rssKiB(t, workerPID)
	t.Logf("held after %d KiB; gowsgi RSS %d -> %d KiB, worker RSS %d -> %d KiB", written>>10, rss0, rss1, wrss0, wrss1)
	if rss1-rss0 > 48<<10 || wrss1-wrss0 > 48<<10 {
		t.Errorf("memory followed the flood: gowsgi RSS %d -> %d KiB, worker %d -> %d KiB", rss0, rss1, wrss0, wrss1)
	}
	// Other clients are still served.
	var out struct {
		Text string `json:"text"`
	}
	wsClient(t, &out, "websocket-client", wsURL(s, "/echo"))
	if out.Text != "from websocket-client" {
		t.Errorf("another client during the flood: %+v", out)
	}
}

// A client that reads nothing holds the app's send(): the front writes each
// message to the client itself and does not read the worker's slot while a
// write waits, the worker's send waits for the slot, and the app's 64 MiB
// stop in the buffers on the way. Once the client reads, they all flow.
func TestWebSocketSlowReaderHoldsAppSend(t *testing.T) {
	t.Parallel()
	s, p := startWS(t)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	io.WriteString(c, "GET /spew HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	// The client reads nothing until the app's send() has waited.
	if !waitFor(30*time.Second, func() bool { return p.Exists("spew-waited") || p.Exists("spew-done") }) {
		t.Fatal("the app neither waited in send() nor finished")
	}
	if p.Exists("spew-done") && !p.Exists("spew-waited") {
		t.Fatal("the app sent 64 MiB to a client that reads nothing: nothing held its send()")
	}
	sent, _ := os.ReadFile(p.Path("spew-waited"))
	t.Logf("the app's send() waited after %s messages of 64 KiB", sent)
	// The client reads: every message arrives, whole, then the app's close.
	n := 0
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			t.Fatalf("after %d messages: %v", n, err)
		}
		if _, err := io.CopyN(io.Discard, br, h.Length); err != nil {
			t.Fatal(err)
		}
		if h.OpCode == ws.OpClose {
			break
		}
		if h.OpCode != ws.OpBinary || h.Length != 64<<10 {
			t.Fatalf("message %d: %v, %d bytes", n, h.OpCode, h.Length)
		}
		n++
	}
	if n != 1024 {
		t.Fatalf("got %d messages, want 1024", n)
	}
	p.WaitFile("spew-done", 10*time.Second)
}

// rssKiB is a process's resident memory.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var n int
			fmt.Sscanf(strings.TrimSpace(line[6:]), "%d", &n)
			return n
		}
	}
	t.Fatalf("no VmRSS for %d", pid)
	return 0
}

// Raw-socket protocol cases through the binary: each ends with the close
// code RFC 6455 asks for, and the app gets websocket.disconnect with it.
// (internal/websocket's tests hold the engine to many more.)
func TestWebSocketProtocolCases(t *testing.T) {
	t.Parallel()
	s, p := startWS(t, "--ws-max-size", "1000")
	masked := func(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
		var b bytes.Buffer
		h := ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Length: int64(len(payload)), Masked: true, Mask: [4]byte{5, 6, 7, 8}}
		ws.WriteHeader(&b, h)
		q := append([]byte(nil), payload...)
		ws.Cipher(q, h.Mask, 0)
		b.Write(q)
		return b.Bytes()
	}
	closeFrame := func(code int) []byte { return []byte{byte(code >> 8), byte(code)} }
	cases := []struct {
		name   string
		frames [][]byte
		code   int
	}{
		{"reserved bit", [][]byte{masked(true, 2, ws.OpText, []byte("x"))}, 1002},
		{"unmasked", [][]byte{{0x81, 0x01, 'x'}}, 1002},
		{"reserved opcode", [][]byte{masked(true, 0, 0xB, nil)}, 1002},
		{"invalid UTF-8 split over fragments", [][]byte{masked(false, 0, ws.OpText, []byte{'a', 0xf0, 0x9f}), masked(true, 0, ws.OpContinuation, []byte{0x28, 0x8c})}, 1007},
		{"over --ws-max-size", [][]byte{masked(true, 0, ws.OpBinary, make([]byte, 1001))}, 1009},
		{"close code 1005 on the wire", [][]byte{masked(true, 0, ws.OpClose, closeFrame(1005))}, 1002},
		{"close code 3000", [][]byte{masked(true, 0, ws.OpClose, closeFrame(3000))}, 3000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(p.Path("echo-disconnect"))
			c, br := wsUpgrade(t, s.Addr, "/echo", 10*time.Second)
			// A message first: the app is running when the case starts.
			c.Write(masked(true, 0, ws.OpText, []byte("ready")))
			if h, err := ws.ReadHeader(br); err != nil || h.OpCode != ws.OpText {
				t.Fatalf("echo: %v %v", h, err)
			} else {
				io.CopyN(io.Discard, br, h.Length)
			}
			for _, f := range tc.frames {
				c.Write(f)
			}
			h, err := ws.ReadHeader(br)
			if err != nil || h.OpCode != ws.OpClose || h.Length < 2 {
				t.Fatalf("got %+v, %v; want a close frame", h, err)
			}
			pl := make([]byte, h.Length)
			io.ReadFull(br, pl)
			if code := int(pl[0])<<8 | int(pl[1]); code != tc.code {
				t.Fatalf("close code %d (%q), want %d", code, pl[2:], tc.code)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the close frame: %v, want EOF", err)
			}
			c.Close()
			p.WaitFile("echo-disconnect", 10*time.Second)
			if code := readFile(t, p.Path("echo-disconnect")); code != strconv.Itoa(tc.code) {
				t.Errorf("the app saw websocket.disconnect with %s, want %d", code, tc.code)
			}
		})
	}
}

// Broadcast rooms, Starlette's and FastAPI's (as their chat examples
// write them): 200 members each say one thing, and every member hears all
// 200 (40,000 messages out of one worker).
func TestWebSocketBroadcast(t *testing.T) {
	t.Parallel()
	py := debianPython(t, "starlette", "fastapi")
	s, _ := startASGI(t, nil, "tests/testdata/apps/ws_broadcast.py", "--python", py, "-w", "1")
	for _, path := range []string{"/room", "/api/room"} {
		var out struct{ OK, N int }
		wsClient(t, &out, "broadcast", wsURL(s, path), "200")
		if out.OK != 200 {
			t.Errorf("%s: %d of 200 members heard all 200 messages", path, out.OK)
		}
	}
}
