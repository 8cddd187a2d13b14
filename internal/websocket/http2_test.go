package websocket

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
)

// TestHTTP2ExtendedConnect runs a WebSocket over an HTTP/2 stream (RFC
// 8441) with golang.org/x/net/http2 on both sides. x/net/http2 reads its
// switch for extended CONNECT (GODEBUG=http2xconnect=1) once, at start, so
// the test runs itself again in a child process with it set.
func TestHTTP2ExtendedConnect(t *testing.T) {
	if !strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHTTP2ExtendedConnect$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "GODEBUG=http2xconnect=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestHTTP2ExtendedConnect")) {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	summaries := make(chan Summary, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs, herr := CheckHTTP2(FromHTTP2(r), HandshakeOptions{Compression: true})
		if herr != nil {
			RefuseHTTP2(w, herr)
			return
		}
		c, err := AcceptHTTP2(w, r, hs, "chat", nil, testOpts())
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		go echo(c)
		summaries <- c.Run()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := &http2.Server{}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.ServeConn(nc, &http2.ServeConnOpts{Handler: handler})
		}
	}()
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return net.Dial(network, addr)
	}}
	defer tr.CloseIdleConnections()

	// A wrong version is refused with 426 before any upstream.
	req, _ := http.NewRequest("CONNECT", "http://"+ln.Addr().String()+"/ws", http.NoBody)
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "8")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("version 8: %d %v", resp.StatusCode, resp.Header)
	}
	resp.Body.Close()

	pr, pw := io.Pipe()
	req, _ = http.NewRequest("CONNECT", "http://"+ln.Addr().String()+"/ws", pr)
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Protocol", "chat")
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Sec-WebSocket-Protocol") != "chat" || resp.Header.Get("Sec-WebSocket-Accept") != "" {
		t.Fatalf("got %d %v", resp.StatusCode, resp.Header)
	}
	c := &wsClient{t: t, br: newBufReader(resp.Body)}
	for _, m := range []string{"over", "http/2", strings.Repeat("x", 60000)} {
		if _, err := pw.Write(frame(true, 0, ws.OpText, []byte(m))); err != nil {
			t.Fatal(err)
		}
		c.expect(ws.OpText, []byte(m))
	}
	pw.Write(frame(true, 0, ws.OpPing, []byte("p")))
	c.expect(ws.OpPong, []byte("p"))
	pw.Write(frame(true, 0, 3, nil)) // reserved opcode
	h, p := c.readFrame()
	if h.OpCode != ws.OpClose || len(p) < 2 || int(p[0])<<8|int(p[1]) != 1002 {
		t.Fatalf("got %v %q, want close 1002", h.OpCode, p)
	}
	pw.Close()
	select {
	case s := <-summaries:
		if s.Code != 1002 || s.MessagesIn != 3 {
			t.Errorf("summary %+v", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end")
	}
}
