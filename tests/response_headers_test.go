package tests

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// The server's own response fields, uvicorn's --server-header,
// --date-header and --header: one rule for every response gowsgi sends,
// over HTTP/1.1 and HTTP/2, from WSGI and ASGI apps, static files,
// gowsgi's own errors and the WebSocket 101.

// headerFlags are the options under test: no Server, no Date, two fields
// of the operator's own (the apps send an X-Latin or an X-Custom too).
var headerFlags = []string{"--no-server-header", "--no-date-header", "--header", "X-Frame-Options:DENY",
	"--header", "X-Latin: srv", "--header", "X-Custom:srv"}

// checkServerFields checks one response against headerFlags: no Server,
// no Date, X-Frame-Options, and the app's field of a name the server also
// sends after the server's (appField, "" for none).
func checkServerFields(t *testing.T, what string, h http.Header, appField, appValue string) {
	t.Helper()
	if len(h.Values("Server")) != 0 || len(h.Values("Date")) != 0 {
		t.Errorf("%s: Server %q, Date %q; want neither", what, h.Values("Server"), h.Values("Date"))
	}
	if got := h.Values("X-Frame-Options"); !slices.Equal(got, []string{"DENY"}) {
		t.Errorf("%s: X-Frame-Options %q, want DENY", what, got)
	}
	if appField != "" {
		if got := h.Values(appField); !slices.Equal(got, []string{"srv", appValue}) {
			t.Errorf("%s: %s %q, want the server's then the app's", what, appField, got)
		}
	}
}

func TestResponseHeaderFlags(t *testing.T) {
	t.Parallel()
	static := t.TempDir()
	os.WriteFile(filepath.Join(static, "a.txt"), []byte("static\n"), 0o644)
	for _, tc := range []struct {
		name, app, field, value string
	}{
		{"WSGI", probe, "X-Latin", "caf\xe9"}, // latin-1, as PEP 3333 sends it
		{"ASGI", asgiRaw, "X-Custom", "yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{tc.app, "--http2-cleartext", "both", "--static", "/s=" + static}, headerFlags...)
			s, _ := startASGI(t, nil, args...)

			// HTTP/1.1: the app's response, a static file, the engine's 400.
			resp, _ := parseRaw(t, raw(t, s.Addr, "GET /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second), "GET")
			checkServerFields(t, "HTTP/1.1 app", resp.Header, tc.field, tc.value)
			resp, body := parseRaw(t, raw(t, s.Addr, "GET /s/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second), "GET")
			if resp.StatusCode != 200 || body != "static\n" {
				t.Fatalf("static: %d %q", resp.StatusCode, body)
			}
			checkServerFields(t, "HTTP/1.1 static", resp.Header, "", "")
			resp, _ = parseRaw(t, raw(t, s.Addr, "GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 5*time.Second), "GET")
			if resp.StatusCode != 400 {
				t.Fatalf("a malformed head got %d", resp.StatusCode)
			}
			checkServerFields(t, "HTTP/1.1 engine error", resp.Header, "", "")

			// HTTP/2 (h2c): the app's response, a static file, gowsgi's 404
			// under the static mount.
			c := h2Client(nil, "")
			resp, _ = do(t, c, "GET", s.URL("/headers"), nil)
			if resp.ProtoMajor != 2 {
				t.Fatalf("not HTTP/2: %s", resp.Proto)
			}
			checkServerFields(t, "HTTP/2 app", resp.Header, tc.field, tc.value)
			resp, _ = do(t, c, "GET", s.URL("/s/a.txt"), nil)
			checkServerFields(t, "HTTP/2 static", resp.Header, "", "")
			resp, _ = do(t, c, "GET", s.URL("/s/missing.txt"), nil)
			if resp.StatusCode != 404 {
				t.Fatalf("static miss: %d", resp.StatusCode)
			}
			checkServerFields(t, "HTTP/2 static 404", resp.Header, "", "")
		})
	}
}

// TestResponseHeaderServerName: --header Server:NAME replaces gowsgi's
// Server; Date stays on by default, over HTTP/1.1 and HTTP/2.
func TestResponseHeaderServerName(t *testing.T) {
	t.Parallel()
	s, _ := startASGI(t, nil, asgiRaw, "--header", "server:edge", "--http2-cleartext", "both")
	resp, _ := parseRaw(t, raw(t, s.Addr, "GET /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second), "GET")
	if got := resp.Header.Values("Server"); !slices.Equal(got, []string{"edge"}) || resp.Header.Get("Date") == "" {
		t.Errorf("HTTP/1.1: Server %q, Date %q", got, resp.Header.Get("Date"))
	}
	resp, _ = do(t, h2Client(nil, ""), "GET", s.URL("/headers"), nil)
	if got := resp.Header.Values("Server"); !slices.Equal(got, []string{"edge"}) || resp.Header.Get("Date") == "" {
		t.Errorf("HTTP/2: Server %q, Date %q", got, resp.Header.Get("Date"))
	}
}

// TestResponseHeaderWebSocket: the 101 that accepts a WebSocket follows
// the same options, and so does HTTP/2's 200 to an extended CONNECT.
func TestResponseHeaderWebSocket(t *testing.T) {
	t.Parallel()
	py := debianPython(t, "starlette", "fastapi")
	s, _ := startASGI(t, []string{"GODEBUG=http2xconnect=1"}, append([]string{wsApp, "--python", py, "--http2-cleartext", "both"}, headerFlags...)...)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /echo HTTP/1.1\r\nHost: x\r\n"+upgradeHead+"\r\n")
	br := bufio.NewReader(c)
	var head []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the 101: %v (so far %q)", err, head)
		}
		if line == "\r\n" {
			break
		}
		head = append(head, strings.TrimRight(line, "\r\n"))
	}
	if len(head) == 0 || !strings.HasPrefix(head[0], "HTTP/1.1 101 ") {
		t.Fatalf("no 101: %q", head)
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(strings.Join(head, "\r\n")+"\r\n\r\n")), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkServerFields(t, "WebSocket 101", resp.Header, "", "")

	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return net.Dial(network, addr)
	}}
	defer tr.CloseIdleConnections()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("CONNECT", s.URL("/echo"), pr)
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err = tr.RoundTrip(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("extended CONNECT: %d", resp.StatusCode)
	}
	checkServerFields(t, "WebSocket over HTTP/2", resp.Header, "", "")
}
