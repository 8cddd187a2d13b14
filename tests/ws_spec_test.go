package tests

// RFC 6455 points the WebSocket suites leave open, through the real binary
// and raw sockets: what a handshake with a repeated field gets (4.2.1,
// 11.3.1, 11.3.5), and the answer to a client's close frame (5.5.1).

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestWebSocketHandshakeRepeatedFields: Sec-WebSocket-Key and
// Sec-WebSocket-Version must not appear more than once in a request; such
// a request, or one without a version, is a bad request (400), answered in
// Go. Only a version this server does not speak gets 426 with
// Sec-WebSocket-Version: 13.
func TestWebSocketHandshakeRepeatedFields(t *testing.T) {
	s, _ := startASGI(t, nil, asgiPeer, "-w", "1")
	const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	const up = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	for _, tc := range []struct {
		name, head string
		status     int
	}{
		{"two version lines", up + key + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n", 400},
		{"versions 8 and 13 on two lines", up + key + "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Version: 13\r\n", 400},
		{"no version", up + key, 400},
		{"a version that is not a number", up + key + "Sec-WebSocket-Version: thirteen\r\n", 400},
		{"two keys", up + key + "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n", 400},
		{"version 8", up + key + "Sec-WebSocket-Version: 8\r\n", 426},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := raw(t, s.Addr, "GET /ws/echo HTTP/1.1\r\nHost: x\r\n"+tc.head+"\r\n", 5*time.Second)
			resp, body := parseRaw(t, out, "GET")
			if resp.StatusCode != tc.status {
				t.Errorf("answered %d %q, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Errorf("426 without Sec-WebSocket-Version: 13: %v", resp.Header)
			}
			if resp.StatusCode == 400 && !strings.Contains(body, "Sec-WebSocket-") {
				t.Errorf("a 400 that does not say which field: %q", body)
			}
		})
	}
}

// TestWebSocketCloseEchoesReason: a client's close frame is answered with
// its code and its reason, as uvicorn's websockets and wsproto
// implementations do (tried against Debian's uvicorn 0.17.6: a close of
// 4001 "bye now" is answered with 4001 "bye now"); RFC 6455 5.5.1 has the
// endpoint echo the code, and allows the reason. The app gets the code.
func TestWebSocketCloseEchoesReason(t *testing.T) {
	s, p := startASGI(t, nil, asgiPeer, "-w", "1")
	for _, tc := range []struct {
		name, reason string
		code         int
	}{
		{"4001 with a reason", "bye now", 4001},
		{"1000 with a UTF-8 reason", "fin ✓", 1000},
		{"1001 without a reason", "", 1001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "close" + strings.ReplaceAll(tc.name, " ", "-")
			resp, _, c, br := wsDial(t, s.Addr, "/ws/echo?name="+name)
			if resp.StatusCode != 101 {
				t.Fatalf("handshake: %d", resp.StatusCode)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			wsFrame(t, c, ws.OpText, []byte("hi"))
			if op, msg := wsNext(t, br); op != ws.OpText || string(msg) != "hi" {
				t.Fatalf("echo: %v %q", op, msg)
			}
			wsFrame(t, c, ws.OpClose, append([]byte{byte(tc.code >> 8), byte(tc.code)}, tc.reason...))
			code, reason := wsClosed(t, br)
			if code != tc.code || reason != tc.reason {
				t.Errorf("answered with %d %q, want %d %q echoed", code, reason, tc.code, tc.reason)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the close handshake: %v, want EOF", err)
			}
			p.WaitFile(name+".disconnect", 10*time.Second)
			if b, _ := os.ReadFile(p.Path(name + ".disconnect")); !strings.HasPrefix(string(b), strings.Split(tc.name, " ")[0]+" ") {
				t.Errorf("the app's websocket.disconnect: %q, want code %d", b, tc.code)
			}
		})
	}
}
