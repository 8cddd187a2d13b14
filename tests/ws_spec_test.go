package tests

// RFC 6455 points the WebSocket suites leave open, through the real binary
// and raw sockets: what a handshake with a repeated field gets (4.2.1,
// 11.3.1, 11.3.5).

import (
	"strings"
	"testing"
	"time"
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
