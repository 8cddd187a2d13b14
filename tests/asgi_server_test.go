package tests

// The ASGI scope's server is the listening address the request came in on
// (asgiref's www.rst: "[host, port] where host is the listening address
// for this server", "[path, None]" for a Unix socket), as uvicorn gives
// it, for HTTP/1.1, HTTP/2 and WebSocket scopes alike; never the Host
// header or a proxy's X-Forwarded-Host, which change only what WSGI's
// SERVER_NAME says (PEP 3333).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

const asgiServerApp = "tests/testdata/apps/asgi_server.py"

// serverFacts is what asgi_server.py answers with.
type serverFacts struct {
	Type   string `json:"type"`
	Server []any  `json:"server"`
	Client []any  `json:"client"`
	Scheme string `json:"scheme"`
}

func decodeFacts(t *testing.T, what, body string) serverFacts {
	t.Helper()
	var f serverFacts
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		t.Fatalf("%s: %v: %q", what, err, body)
	}
	return f
}

// wantServer checks f's server against host and port (port < 0: None).
func wantServer(t *testing.T, what string, f serverFacts, host string, port int) {
	t.Helper()
	var want []any
	if port < 0 {
		want = []any{host, nil}
	} else {
		want = []any{host, float64(port)}
	}
	if fmt.Sprint(f.Server) != fmt.Sprint(want) || len(f.Server) != 2 || (port < 0) != (f.Server[1] == nil) {
		t.Errorf("%s: server %#v, want %#v", what, f.Server, want)
	}
}

// wsFacts reads the first message of an accepted WebSocket on c (one that
// has just answered 101) and closes it.
func wsFacts(t *testing.T, what string, c net.Conn, br *bufio.Reader) serverFacts {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	op, msg := wsNext(t, br)
	if op != ws.OpText {
		t.Fatalf("%s: opcode %v %q", what, op, msg)
	}
	wsFrame(t, c, ws.OpClose, []byte{0x03, 0xe8})
	return decodeFacts(t, what, string(msg))
}

func TestASGIScopeServer(t *testing.T) {
	v6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("this machine has no IPv6 loopback: %v", err)
	}
	v6addr := v6.Addr().String()
	v6port := v6.Addr().(*net.TCPAddr).Port
	v6.Close()
	sock := filepath.Join(t.TempDir(), "asgi.sock")
	v4port := freePort(t)
	v4addr := "127.0.0.1:" + strconv.Itoa(v4port)
	s, _ := startASGI(t, []string{"GODEBUG=http2xconnect=1"}, asgiServerApp, "-b", v4addr, "-b", v6addr, "-b", "unix:"+sock,
		"--forwarded-allow-ips", "*", "--http2-cleartext", "both")

	// HTTP/1.1 through a trusted proxy: client and scheme are the
	// proxy's word, server is still where the request came in.
	out := raw(t, v4addr, "GET / HTTP/1.1\r\nHost: example.com:8080\r\nX-Forwarded-For: 203.0.113.9\r\n"+
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example:8443\r\nConnection: close\r\n\r\n", 5*time.Second)
	_, body := parseRaw(t, out, "GET")
	f := decodeFacts(t, "HTTP/1.1 behind a proxy", body)
	wantServer(t, "HTTP/1.1 behind a proxy", f, "127.0.0.1", v4port)
	if f.Scheme != "https" || len(f.Client) != 2 || f.Client[0] != "203.0.113.9" {
		t.Errorf("HTTP/1.1 behind a proxy: scheme %q client %v", f.Scheme, f.Client)
	}

	// HTTP/1.1 over IPv6, with a Host that names another address.
	_, body = parseRaw(t, raw(t, v6addr, "GET / HTTP/1.1\r\nHost: [::2]:81\r\nConnection: close\r\n\r\n", 5*time.Second), "GET")
	wantServer(t, "HTTP/1.1 over [::1]", decodeFacts(t, "HTTP/1.1 over [::1]", body), "::1", v6port)

	// HTTP/1.1 over the Unix socket: (path, None).
	uc, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(uc, "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
	_, body = parseRaw(t, readUntilQuiet(uc, 5*time.Second), "GET")
	uc.Close()
	wantServer(t, "HTTP/1.1 over a Unix socket", decodeFacts(t, "HTTP/1.1 over a Unix socket", body), sock, -1)

	// HTTP/2 (h2c) over IPv6.
	resp, body := do(t, h2Client(nil, ""), "GET", "http://"+v6addr+"/", nil)
	if resp.ProtoMajor != 2 {
		t.Fatalf("not HTTP/2: %s", resp.Proto)
	}
	wantServer(t, "HTTP/2 over [::1]", decodeFacts(t, "HTTP/2", body), "::1", v6port)

	// WebSocket scopes: over HTTP/1.1 on each listener, and RFC 8441's.
	for _, l := range []struct {
		what, network, addr, host string
		port                      int
	}{
		{"WebSocket over 127.0.0.1", "tcp", v4addr, "127.0.0.1", v4port},
		{"WebSocket over [::1]", "tcp", v6addr, "::1", v6port},
		{"WebSocket over a Unix socket", "unix", sock, sock, -1},
	} {
		c, err := net.DialTimeout(l.network, l.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		resp, _, c, br := wsHandshake(t, c, "/ws", "X-Forwarded-Host: public.example:8443\r\n")
		if resp.StatusCode != 101 {
			t.Fatalf("%s: status %d", l.what, resp.StatusCode)
		}
		f := wsFacts(t, l.what, c, br)
		if f.Type != "websocket" {
			t.Errorf("%s: type %q", l.what, f.Type)
		}
		wantServer(t, l.what, f, l.host, l.port)
	}
	st, err := h2Connect(t, s, "/ws")
	if err != nil {
		t.Fatal(err)
	}
	op, msg := st.recv()
	if op != ws.OpText {
		t.Fatalf("WebSocket over HTTP/2: opcode %v %q", op, msg)
	}
	wantServer(t, "WebSocket over HTTP/2", decodeFacts(t, "WebSocket over HTTP/2", string(msg)), "127.0.0.1", v4port)
	st.send(ws.OpClose, []byte{0x03, 0xe8})
}
