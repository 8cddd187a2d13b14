package websocket

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestHandshakeAccept(t *testing.T) {
	ts := startWS(t, testOpts(), HandshakeOptions{})
	c, resp := dialWS(t, ts.addr, "/echo", "Sec-WebSocket-Protocol: chat, superchat\r\n")
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("Sec-WebSocket-Accept %q", got)
	}
	if resp.Header.Get("Upgrade") != "websocket" || resp.Header.Get("Connection") != "Upgrade" {
		t.Errorf("Upgrade/Connection: %v", resp.Header)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "superchat" {
		t.Errorf("subprotocol %q, want the upstream's choice superchat", got)
	}
	if resp.Header.Get("X-App") != "yes" || resp.Header.Get("Date") == "" || resp.Header.Get("Server") != "gowsgi" {
		t.Errorf("fields: %v", resp.Header)
	}
	if resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Errorf("an extension was accepted without an offer: %v", resp.Header)
	}
	c.send(1, []byte("hello"))
	c.expect(1, []byte("hello"))
}

// A frame the client sends together with its handshake is the protocol's:
// it reaches the WebSocket, not HTTP.
func TestHandshakeFrameInSamePacket(t *testing.T) {
	ts := startWS(t, testOpts(), HandshakeOptions{})
	head := "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: " + testKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n" + string(frame(true, 0, 1, []byte("early")))
	c, resp := rawHandshake(t, ts.addr, head)
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c.expect(1, []byte("early"))
}

func TestHandshakeRefused(t *testing.T) {
	ts := startWS(t, testOpts(), HandshakeOptions{})
	const key = "Sec-WebSocket-Key: " + testKey + "\r\n"
	const up = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	cases := []struct {
		name, head string
		status     int
		reason     string
	}{
		{"version 8", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 8\r\n\r\n", 426, "version 13"},
		{"versions 13, 8", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13, 8\r\n\r\n", 426, "version 13"},
		// RFC 6455 4.2.1, 11.3.5: a missing, repeated or malformed version
		// is a bad request; only a version not spoken here is a 426.
		{"no version", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "\r\n", 400, "Sec-WebSocket-Version"},
		{"two version lines", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "Sec-WebSocket-Version"},
		{"versions 8 and 13 on two lines", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 8\r\nsec-websocket-version: 13\r\n\r\n", 400, "Sec-WebSocket-Version"},
		{"version abc", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: abc\r\n\r\n", 400, "Sec-WebSocket-Version"},
		{"version 013", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 013\r\n\r\n", 400, "Sec-WebSocket-Version"},
		{"version 256", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 256\r\n\r\n", 400, "Sec-WebSocket-Version"},
		{"empty version", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: \r\n\r\n", 400, "Sec-WebSocket-Version"},
		{"no key", "GET / HTTP/1.1\r\nHost: x\r\n" + up + "Sec-WebSocket-Version: 13\r\n\r\n", 400, "Sec-WebSocket-Key"},
		{"short key", "GET / HTTP/1.1\r\nHost: x\r\n" + up + "Sec-WebSocket-Key: AAAA\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "Sec-WebSocket-Key"},
		{"two keys", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + key + "Sec-WebSocket-Version: 13\r\n\r\n", 400, "Sec-WebSocket-Key"},
		{"two different keys", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "Sec-WebSocket-Key"},
		{"POST", "POST / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n", 400, "GET"},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\n\r\n", 400, "HTTP/1.1"},
		{"no Connection upgrade", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n", 400, "Connection"},
		{"body", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\nContent-Length: 2\r\n\r\nab", 400, "body"},
		{"bad subprotocol", "GET / HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a b\r\n\r\n", 400, "Sec-WebSocket-Protocol"},
		{"denied by the app", "GET /deny HTTP/1.1\r\nHost: x\r\n" + up + key + "Sec-WebSocket-Version: 13\r\n\r\n", 403, "denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, resp := rawHandshake(t, ts.addr, tc.head)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.reason) {
				t.Fatalf("got %d %q, want %d with %q", resp.StatusCode, body, tc.status, tc.reason)
			}
			if tc.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Errorf("426 without Sec-WebSocket-Version: 13: %v", resp.Header)
			}
			if resp.Header.Get("Sec-WebSocket-Accept") != "" {
				t.Error("a refused handshake has Sec-WebSocket-Accept")
			}
			c.expectEOF()
		})
	}
	// Not an upgrade at all: plain HTTP, untouched.
	c, resp := rawHandshake(t, ts.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Errorf("plain request: %d", resp.StatusCode)
	}
	_ = c
}

func TestHandshakeCheckHTTP2(t *testing.T) {
	r := Request{Method: "CONNECT", ProtoMajor: 2, Protocol: "websocket", Header: map[string][]string{
		"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Protocol": {"a, b"}, "Sec-Websocket-Extensions": {"permessage-deflate"}}}
	hs, e := CheckHTTP2(r, HandshakeOptions{Compression: true})
	if e != nil || !hs.HTTP2 || len(hs.Subprotocols) != 2 || hs.Deflate == nil {
		t.Fatalf("got %+v, %v", hs, e)
	}
	r.Header["Sec-Websocket-Version"] = []string{"12"}
	if _, e := CheckHTTP2(r, HandshakeOptions{}); e == nil || e.Status != 426 {
		t.Errorf("version 12: %v", e)
	}
	// The version is held to the same rule as over HTTP/1.1.
	for _, v := range [][]string{nil, {"13", "13"}, {"x"}} {
		r.Header["Sec-Websocket-Version"] = v
		if _, e := CheckHTTP2(r, HandshakeOptions{}); e == nil || e.Status != 400 {
			t.Errorf("version %q: %v, want 400", v, e)
		}
	}
	r.Protocol = "other"
	if _, e := CheckHTTP2(r, HandshakeOptions{}); e == nil || e.Status != 400 {
		t.Errorf(":protocol other: %v", e)
	}
}

func TestResponseHeaderRefusesSplitting(t *testing.T) {
	hs := &Handshake{Key: testKey}
	if _, err := hs.ResponseHeader("bad proto", nil); err == nil {
		t.Error("a subprotocol with a space was accepted")
	}
	if _, err := hs.ResponseHeader("", []http1Field{{Name: "X", Value: "a\r\nEvil: 1"}}); err == nil {
		t.Error("a field value with CRLF was accepted")
	}
	f, err := hs.ResponseHeader("p", []http1Field{{Name: "Upgrade", Value: "h2c"}, {Name: "X-Ok", Value: "1"}})
	if err != nil || len(f) != 2 || f[1].Name != "X-Ok" {
		t.Errorf("engine-owned fields must be dropped, others kept: %v %v", f, err)
	}
}

// TestResponseHeaderSubprotocolOffered: a subprotocol the client did not
// offer is refused with the reason (the client would fail the connection);
// one it offered, in any case, is sent; with no offers the upstream's goes.
func TestResponseHeaderSubprotocolOffered(t *testing.T) {
	hs := &Handshake{Key: testKey, Subprotocols: []string{"p1", "p2"}}
	if _, err := hs.ResponseHeader("zzz", nil); !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), `"zzz", which the client did not offer (it offered p1, p2)`) {
		t.Errorf("a subprotocol not offered: %v", err)
	}
	if f, err := hs.ResponseHeader("P2", nil); err != nil || len(f) != 1 || f[0].Value != "P2" {
		t.Errorf("an offered subprotocol: %v %v", f, err)
	}
	hs.Subprotocols = nil
	if f, err := hs.ResponseHeader("zzz", nil); err != nil || len(f) != 1 {
		t.Errorf("no offers: %v %v", f, err)
	}
}

// TestResponseHeaderSubprotocolInFields: an upstream that puts its
// subprotocol in a Sec-WebSocket-Protocol field of its own, with none
// chosen, gets it sent once, checked as a chosen one; a chosen one wins.
func TestResponseHeaderSubprotocolInFields(t *testing.T) {
	hs := &Handshake{Key: testKey, Subprotocols: []string{"graphql-ws", "chat"}}
	f, err := hs.ResponseHeader("", []http1Field{{Name: "sec-websocket-protocol", Value: "chat"}, {Name: "X-Ok", Value: "1"}})
	if err != nil || len(f) != 2 || f[0].Name != "Sec-WebSocket-Protocol" || f[0].Value != "chat" || f[1].Name != "X-Ok" {
		t.Errorf("subprotocol in the fields: %v %v", f, err)
	}
	if _, err := hs.ResponseHeader("", []http1Field{{Name: "Sec-WebSocket-Protocol", Value: "zzz"}}); !errors.Is(err, ErrBadResponse) {
		t.Errorf("a field's subprotocol not offered: %v", err)
	}
	f, err = hs.ResponseHeader("graphql-ws", []http1Field{{Name: "Sec-WebSocket-Protocol", Value: "chat"}})
	if err != nil || len(f) != 1 || f[0].Value != "graphql-ws" {
		t.Errorf("chosen and in the fields: %v %v", f, err)
	}
}
