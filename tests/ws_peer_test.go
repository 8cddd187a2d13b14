package tests

// ASGI WebSocket behaviours that uvicorn's tests/protocols/test_websocket.py
// and hypercorn's tests/protocol/test_ws_stream.py pin, ported as
// behaviours onto the real binary with raw sockets
// (testdata/apps/asgi_peer.py's /ws/ paths), and what a careless
// application does: each ends with the status or close code a client can
// act on, a log line naming the fault, and no worker lost.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// wsDial sends a WebSocket handshake for path with extra header lines and
// reads the answer: on 101 the connection and its reader are ready for
// frames; otherwise the body is read (the connection then closes).
func wsDial(t *testing.T, addr, path string, extra ...string) (*http.Response, string, net.Conn, *bufio.Reader) {
	t.Helper()
	c := dialRaw(t, addr)
	t.Cleanup(func() { c.Close() })
	return wsHandshake(t, c, path, extra...)
}

// wsHandshake asks for a WebSocket at path on c, as wsDial does.
func wsHandshake(t *testing.T, c net.Conn, path string, extra ...string) (*http.Response, string, net.Conn, *bufio.Reader) {
	t.Helper()
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: example.org\r\n"+upgradeHead+strings.Join(extra, "")+"\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("handshake for %s: %v", path, err)
	}
	if resp.StatusCode == 101 {
		return resp, "", c, br
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), c, br
}

// wsFrame writes one masked client frame.
func wsFrame(t *testing.T, c net.Conn, op ws.OpCode, payload []byte) {
	t.Helper()
	if _, err := c.Write(wsEncode(true, 0, op, payload)); err != nil {
		t.Fatalf("writing a frame: %v", err)
	}
}

// wsEncode is one masked client frame: fin, the reserved bits rsv (RSV1
// is 4, RSV3 is 1, as on the wire), the opcode and the payload.
func wsEncode(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	var b bytes.Buffer
	h := ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Length: int64(len(payload)), Masked: true, Mask: [4]byte{1, 2, 3, 4}}
	ws.WriteHeader(&b, h)
	p := append([]byte(nil), payload...)
	ws.Cipher(p, h.Mask, 0)
	b.Write(p)
	return b.Bytes()
}

// wsReadFrame reads the server's next frame, whatever it is.
func wsReadFrame(br *bufio.Reader) (ws.Header, []byte, error) {
	h, err := ws.ReadHeader(br)
	if err != nil {
		return h, nil, err
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(br, p); err != nil {
		return h, nil, err
	}
	return h, p, nil
}

// wsNext reads the next data or close frame (pongs and pings skipped).
func wsNext(t *testing.T, br *bufio.Reader) (ws.OpCode, []byte) {
	t.Helper()
	for {
		h, p, err := wsReadFrame(br)
		if err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		if h.OpCode == ws.OpPing || h.OpCode == ws.OpPong {
			continue
		}
		return h.OpCode, p
	}
}

// wsClosed reads frames until the server's close and returns its code and
// reason (0 for a close without a code).
func wsClosed(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	for {
		op, p := wsNext(t, br)
		if op != ws.OpClose {
			continue
		}
		if len(p) < 2 {
			return 0, ""
		}
		return int(p[0])<<8 | int(p[1]), string(p[2:])
	}
}

// TestWebSocketPeerHandshake: the answers to the handshake (uvicorn:
// test_accept_connection, test_headers, test_extra_headers,
// test_path_and_raw_path, test_subprotocols, test_lifespan_state,
// test_server_reject_connection*, test_missing_handshake,
// test_send_before_handshake, test_server_multiple_websocket_http_response_start_events,
// test_connection_lost_before_handshake_complete), and careless accepts.
func TestWebSocketPeerHandshake(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, p := startASGI(t, nil, asgiPeer, "-w", "1", "--metrics-bind", maddr)

	// Accepted with the app's extra header; the scope has the path
	// decoded and raw, the headers' bytes as sent, the lifespan state and
	// the subprotocols offered.
	resp, _, c, br := wsDial(t, s.Addr, "/ws/sc%6Fpe", "Sec-WebSocket-Protocol: p1, p2\r\nUsername: abra\xc3\xa3o\r\n")
	if resp.StatusCode != 101 || resp.Header.Get("Extra") != "header" {
		t.Fatalf("accept: %d %v", resp.StatusCode, resp.Header)
	}
	if op, msg := wsNext(t, br); op != ws.OpText ||
		!strings.Contains(string(msg), `"path": "/ws/scope", "raw_path": "/ws/sc%6Fpe"`) ||
		!strings.Contains(string(msg), `["username", "abra\u00c3\u00a3o"]`) ||
		!strings.Contains(string(msg), `"state": "peer", "subprotocols": ["p1", "p2"]`) {
		t.Errorf("scope: %s", msg)
	}
	c.Close()
	for _, sub := range []string{"p1", "p2"} {
		resp, _, c, _ := wsDial(t, s.Addr, "/ws/echo?sub="+sub, "Sec-WebSocket-Protocol: p1, p2\r\n")
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Protocol") != sub {
			t.Errorf("subprotocol %s: %d %v", sub, resp.StatusCode, resp.Header)
		}
		c.Close()
	}
	// A subprotocol the client did not offer: it would have to fail the
	// connection, so it gets a 500 and the log says why.
	if resp, _, _, _ := wsDial(t, s.Addr, "/ws/echo?sub=zzz", "Sec-WebSocket-Protocol: p1, p2\r\n"); resp.StatusCode != 500 {
		t.Errorf("a subprotocol not offered: %d", resp.StatusCode)
	}
	s.WaitLog(t, `subprotocol \"zzz\", which the client did not offer (it offered p1, p2)`, 1, 10*time.Second)

	// A close before accept is a 403, and the app's receive() then says
	// websocket.disconnect (1006) instead of waiting.
	if resp, _, _, _ := wsDial(t, s.Addr, "/ws/reject"); resp.StatusCode != 403 {
		t.Errorf("close before accept: %d", resp.StatusCode)
	}
	p.WaitFile("ws-reject", 10*time.Second)
	if got := readFile(t, p.Path("ws-reject")); got != "websocket.disconnect 1006" {
		t.Errorf("receive() after a close before accept: %q", got)
	}

	// An app that returns without an answer, or sends before accepting:
	// 500, as uvicorn and hypercorn answer.
	for path, log := range map[string]string{
		"/ws/missing-handshake":            "the ASGI application returned without accepting or closing the WebSocket",
		"/ws/send-before-accept":           "ASGI message 'websocket.send' before websocket.accept",
		"/ws/bad-accept?kind=sub-bytes":    "websocket.accept's subprotocol must be a str, not bytes",
		"/ws/bad-accept?kind=headers-str":  "websocket.accept headers must be [name, value] pairs of bytes, not ('x-a', 'b')",
		"/ws/bad-accept?kind=headers-dict": "websocket.accept headers must be [name, value] pairs of bytes, not b'x-a'",
		"/ws/bad-accept?kind=headers-crlf": "cannot accept the WebSocket",
	} {
		if resp, _, _, _ := wsDial(t, s.Addr, path); resp.StatusCode != 500 {
			t.Errorf("%s: %d, want 500", path, resp.StatusCode)
		}
		s.WaitLog(t, log, 1, 10*time.Second)
	}

	// websocket.http.response: the app's own answer, in one or more body
	// messages, with or without a length; receive() then says
	// websocket.disconnect (1006). An invalid status is a 500; a second
	// start raises in the app.
	for _, c := range []struct {
		kind   string
		status int
		body   string
	}{
		{"simple", 400, "goodbye"}, {"multi", 400, strings.Repeat("x", 10) + strings.Repeat("y", 10)},
		{"nolength", 403, "hardbody"}, {"invalid-status", 500, "500 Internal Server Error\n"},
		{"double-start", 500, "500 Internal Server Error\n"},
	} {
		os.Remove(p.Path("ws-deny.after"))
		resp, body, _, _ := wsDial(t, s.Addr, "/ws/deny?kind="+c.kind)
		if resp.StatusCode != c.status || body != c.body {
			t.Errorf("denial %s: %d %q, want %d %q", c.kind, resp.StatusCode, body, c.status, c.body)
		}
		if c.status != 500 {
			p.WaitFile("ws-deny.after", 10*time.Second)
			if got := readFile(t, p.Path("ws-deny.after")); got != "websocket.disconnect 1006" {
				t.Errorf("denial %s: receive() then gave %q", c.kind, got)
			}
		}
	}
	if got := readFile(t, p.Path("ws-deny")); got != "ASGI message 'websocket.http.response.start' after the handshake was answered" {
		t.Errorf("a second websocket.http.response.start raised %q", got)
	}

	// The client leaves before the app answers: websocket.disconnect 1006.
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /ws/lost-before-accept HTTP/1.1\r\nHost: x\r\n"+upgradeHead+"\r\n")
	p.WaitFile("ws-lost-before-accept.entered", 10*time.Second)
	c.Close()
	p.WaitFile("ws-lost-before-accept", 10*time.Second)
	if got := readFile(t, p.Path("ws-lost-before-accept")); got != "websocket.disconnect 1006" {
		t.Errorf("connection lost before the handshake: %q", got)
	}

	// None of it cost the worker or left a request in flight.
	workerUnharmed(t, s, maddr)
}

// TestWebSocketPeerMessages: messages and closes once accepted (uvicorn:
// test_send_text_data_to_client, test_send_binary_data_to_server,
// test_app_close, test_client_close, test_send_after_protocol_close,
// test_duplicate_handshake, test_asgi_return_value,
// test_server_can_read_messages_in_buffer_after_close,
// test_client_connection_lost_on_send,
// test_send_binary_data_to_server_bigger_than_default_on_websockets), and
// careless sends: each closes with 1011 and a log line.
func TestWebSocketPeerMessages(t *testing.T) {
	t.Parallel()
	maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, p := startASGI(t, nil, asgiPeer, "-w", "1", "--ws-max-size", "10", "--metrics-bind", maddr)

	// Echo, text and bytes, up to --ws-max-size; one byte more is 1009.
	_, _, c, br := wsDial(t, s.Addr, "/ws/echo?name=e1")
	wsFrame(t, c, ws.OpText, []byte("abc"))
	if op, msg := wsNext(t, br); op != ws.OpText || string(msg) != "abc" {
		t.Errorf("text echo: %v %q", op, msg)
	}
	wsFrame(t, c, ws.OpBinary, []byte("0123456789"))
	if op, msg := wsNext(t, br); op != ws.OpBinary || string(msg) != "0123456789" {
		t.Errorf("binary echo of --ws-max-size bytes: %v %q", op, msg)
	}
	wsFrame(t, c, ws.OpBinary, []byte("0123456789x"))
	if code, _ := wsClosed(t, br); code != 1009 {
		t.Errorf("a message over --ws-max-size: close %d, want 1009", code)
	}
	p.WaitFile("e1.disconnect", 10*time.Second)
	if got := readFile(t, p.Path("e1.disconnect")); got != "1009" {
		t.Errorf("the app saw %q, want code 1009", got)
	}

	// The client's close: its code and reason reach the app.
	_, _, c, br = wsDial(t, s.Addr, "/ws/echo?name=e2")
	wsFrame(t, c, ws.OpClose, append([]byte{0x03, 0xe9}, "custom reason"...))
	if code, _ := wsClosed(t, br); code != 1001 {
		t.Errorf("the server answered the client's close with %d, want 1001", code)
	}
	p.WaitFile("e2.disconnect", 10*time.Second)
	if got := readFile(t, p.Path("e2.disconnect")); got != "1001 custom reason" {
		t.Errorf("the app saw %q, want code 1001 and reason \"custom reason\"", got)
	}

	// The app's close: its code (1000 when none) and reason; a reason
	// longer than a close frame holds is cut, the code kept.
	for _, c := range []struct {
		query, reason string
		code          int
	}{
		{"", "", 1000}, {"code=1000", "", 1000}, {"code=1001", "", 1001}, {"code=4000&reason=bye", "bye", 4000},
		{"code=4001&reason=" + strings.Repeat("r", 130), strings.Repeat("r", 123), 4001},
	} {
		_, _, _, br := wsDial(t, s.Addr, "/ws/close?"+c.query)
		if code, reason := wsClosed(t, br); code != c.code || reason != c.reason {
			t.Errorf("app close %s: %d %q, want %d %q", c.query, code, reason, c.code, c.reason)
		}
	}
	s.WaitLog(t, "close reason is longer than a close frame holds", 1, 10*time.Second)

	// send() after the app's own close raises; the client got the message
	// and the close.
	_, _, _, br = wsDial(t, s.Addr, "/ws/send-after-close")
	if op, msg := wsNext(t, br); op != ws.OpText || string(msg) != "123" {
		t.Errorf("send-after-close: %v %q", op, msg)
	}
	if code, _ := wsClosed(t, br); code != 1000 {
		t.Errorf("send-after-close: close %d", code)
	}
	p.WaitFile("ws-send-after-close", 10*time.Second)
	if got := readFile(t, p.Path("ws-send-after-close")); got == "no error" {
		t.Errorf("send() after websocket.close did not raise")
	}

	// A second accept, or a careless send: 1011 (uvicorn drops the
	// connection, 1006; an internal error is what it is). A value
	// returned: logged, the connection closed normally.
	for path, log := range map[string]string{
		"/ws/double-accept":            "ASGI message 'websocket.accept' after the handshake was answered",
		"/ws/bad-send?kind=text-bytes": "websocket.send's text must be a str, not bytes",
		"/ws/bad-send?kind=text-int":   "websocket.send's text must be a str, not int",
		"/ws/bad-send?kind=bytes-str":  "websocket.send's bytes must be bytes, not str",
		"/ws/bad-send?kind=neither":    "ASGI message 'websocket.send' has neither 'text' nor 'bytes'",
		"/ws/close?bad=reason-bytes":   "websocket.close's reason must be a str, not bytes",
		"/ws/close?bad=code-str":       "websocket.close code must be an int from 1000 to 4999, not '1000'",
		"/ws/close?bad=code-big":       "websocket.close code must be an int from 1000 to 4999, not 70000",
	} {
		_, _, _, br := wsDial(t, s.Addr, path)
		if code, _ := wsClosed(t, br); code != 1011 {
			t.Errorf("%s: close %d, want 1011", path, code)
		}
		s.WaitLog(t, log, 1, 10*time.Second)
	}
	_, _, _, br = wsDial(t, s.Addr, "/ws/return-value")
	if code, _ := wsClosed(t, br); code != 1000 {
		t.Errorf("return-value: close %d", code)
	}
	s.WaitLog(t, "the ASGI application returned 123", 1, 10*time.Second)

	// Messages the app has not read yet when the client closes are still
	// delivered, then websocket.disconnect with the client's code.
	_, _, c, br = wsDial(t, s.Addr, "/ws/buffered?name=buf")
	for i := 0; i < 3; i++ {
		wsFrame(t, c, ws.OpBinary, []byte("abc"))
	}
	wsFrame(t, c, ws.OpClose, []byte{0x03, 0xe8})
	if code, _ := wsClosed(t, br); code != 1000 {
		t.Errorf("buffered: close %d", code)
	}
	c.Close()
	os.WriteFile(p.Path("buf.go"), nil, 0o644)
	p.WaitFile("buf", 10*time.Second)
	if got := readFile(t, p.Path("buf")); got != `{"frames": ["abc", "abc", "abc"], "code": 1000, "reason": ""}` {
		t.Errorf("buffered messages after the close: %s", got)
	}

	// send() after the client left raises an OSError.
	_, _, c, _ = wsDial(t, s.Addr, "/ws/send-lost?name=sl")
	p.WaitFile("sl.accepted", 10*time.Second)
	c.Close()
	os.WriteFile(p.Path("sl.go"), nil, 0o644)
	p.WaitFile("sl", 10*time.Second)
	if got := readFile(t, p.Path("sl")); !strings.HasPrefix(got, "OSError ") {
		t.Errorf("send() after the client left: %s", got)
	}

	workerUnharmed(t, s, maddr)
}

// TestWebSocketPeerRootPath: with --root-path, a WebSocket's path and
// raw_path have it before them, as an HTTP request's do (uvicorn:
// test_path_and_raw_path with root_path).
func TestWebSocketPeerRootPath(t *testing.T) {
	t.Parallel()
	s, _ := startASGI(t, nil, asgiPeer, "--root-path", "/app")
	for _, target := range []string{"/ws/sc%6Fpe", "/app/ws/sc%6Fpe"} {
		resp, _, _, br := wsDial(t, s.Addr, target)
		if resp.StatusCode != 101 {
			t.Fatalf("%s: %d", target, resp.StatusCode)
		}
		if op, msg := wsNext(t, br); op != ws.OpText || !strings.Contains(string(msg), `"path": "/app/ws/scope", "raw_path": "/app/ws/sc%6Fpe"`) ||
			!strings.Contains(string(msg), `"root_path": "/app"`) {
			t.Errorf("%s: scope %s", target, msg)
		}
	}
}

// TestWebSocketPeerHTTP2: the handshake's answers are the same over
// RFC 8441's extended CONNECT as over HTTP/1.1.
func TestWebSocketPeerHTTP2(t *testing.T) {
	t.Parallel()
	s, p := startASGI(t, []string{"GODEBUG=http2xconnect=1"}, asgiPeer, "--http2-cleartext", "prior-knowledge")
	for path, want := range map[string]string{
		"/ws/reject":            "extended CONNECT answered 403",
		"/ws/missing-handshake": "extended CONNECT answered 500",
		"/ws/deny?kind=simple":  "extended CONNECT answered 400",
	} {
		if _, err := h2Connect(t, s, path); err == nil || err.Error() != want {
			t.Errorf("%s over HTTP/2: %v, want %s", path, err, want)
		}
	}
	p.WaitFile("ws-reject", 10*time.Second)
	if got := readFile(t, p.Path("ws-reject")); got != "websocket.disconnect 1006" {
		t.Errorf("receive() after a close before accept over HTTP/2: %q", got)
	}
	st, err := h2Connect(t, s, "/ws/close?code=4000&reason=bye")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if op, got := st.recv(); op != ws.OpClose || string(got) != "\x0f\xa0bye" {
		t.Errorf("the app's close over HTTP/2: %v %q", op, got)
	}
}

// TestWebSocketPeerDefaultMaxSize: with the default --ws-max-size (16 MiB,
// uvicorn's), a message of exactly that size reaches the app and comes
// back whole; one byte more is 1009 (uvicorn:
// test_send_binary_data_to_server_bigger_than_default_on_websockets).
func TestWebSocketPeerDefaultMaxSize(t *testing.T) {
	t.Parallel()
	s, _ := startASGI(t, nil, asgiPeer)
	const max = 16 << 20
	_, _, c, br := wsDial(t, s.Addr, "/ws/echo?name=big")
	msg := bytes.Repeat([]byte{1}, max)
	wsFrame(t, c, ws.OpBinary, msg)
	if op, got := wsNext(t, br); op != ws.OpBinary || !bytes.Equal(got, msg) {
		t.Fatalf("a 16 MiB message: op %v, %d bytes back", op, len(got))
	}
	// The server may close as soon as it has read the header: the write
	// goes on its own and may fail.
	var b bytes.Buffer
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Length: max + 1, Masked: true}
	ws.WriteHeader(&b, h)
	b.Write(msg)
	b.WriteByte(1)
	go c.Write(b.Bytes())
	if code, _ := wsClosed(t, br); code != 1009 {
		t.Errorf("16 MiB + 1: close %d, want 1009", code)
	}
}
