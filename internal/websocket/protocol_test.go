package websocket

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Raw-socket protocol cases in the spirit of Autobahn|Testsuite: each one
// ends as RFC 6455 says, with the right close code.

func TestEchoSizes(t *testing.T) {
	ts := startWS(t, testOpts(), HandshakeOptions{})
	c, _ := dialWS(t, ts.addr, "/echo", "")
	for _, n := range []int{0, 1, 125, 126, 127, 4096, 4097, 65535, 65536} {
		p := bytes.Repeat([]byte{'*'}, n)
		c.send(ws.OpText, p)
		c.expect(ws.OpText, p)
		b := bytes.Repeat([]byte{0xfe}, n)
		c.send(ws.OpBinary, b)
		c.expect(ws.OpBinary, b)
	}
	c.send(ws.OpClose, closePayload(1000, "done"))
	c.expectClose(1000)
	if s := ts.summary(t); s.Code != 1000 || !s.ClosedByPeer || s.MessagesIn != 18 || s.MessagesOut != 18 {
		t.Errorf("summary %+v", s)
	}
}

func TestFramingReservedBitsAndOpcodes(t *testing.T) {
	ts := startWS(t, testOpts(), HandshakeOptions{})
	cases := map[string][]byte{
		"rsv1 without extension": frame(true, 4, ws.OpText, []byte("x")),
		"rsv2":                   frame(true, 2, ws.OpText, []byte("x")),
		"rsv3":                   frame(true, 1, ws.OpBinary, []byte("x")),
		"rsv on ping":            frame(true, 7, ws.OpPing, nil),
		"unmasked":               unmaskedFrame(ws.OpText, []byte("hello")),
		"ping over 125":          frame(true, 0, ws.OpPing, bytes.Repeat([]byte{'a'}, 126)),
		"fragmented ping":        frame(false, 0, ws.OpPing, []byte("a")),
		"lone continuation":      frame(true, 0, ws.OpContinuation, []byte("a")),
		"length with MSB":        {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4},
	}
	for op := 3; op <= 15; op++ {
		if op >= 8 && op <= 10 {
			continue
		}
		cases["opcode "+string(rune('0'+op/10))+string(rune('0'+op%10))] = frame(true, 0, ws.OpCode(op), nil)
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			c, _ := dialWS(t, ts.addr, "/echo", "")
			c.send(ws.OpText, []byte("before"))
			c.expect(ws.OpText, []byte("before"))
			c.write(f)
			c.expectClose(1002)
		})
	}
}

func TestFragmentationWithPings(t *testing.T) {
	ts := startWS(t, testOpts(), HandshakeOptions{})
	c, _ := dialWS(t, ts.addr, "/echo", "")
	c.write(frame(false, 0, ws.OpText, []byte("frag")),
		frame(true, 0, ws.OpPing, []byte("p1")),
		frame(false, 0, ws.OpContinuation, []byte("men")),
		frame(true, 0, ws.OpPing, []byte("p2")),
		frame(false, 0, ws.OpContinuation, nil),
		frame(true, 0, ws.OpPong, []byte("unsolicited")),
		frame(true, 0, ws.OpContinuation, []byte("ted")))
	c.expect(ws.OpPong, []byte("p1"))
	c.expect(ws.OpPong, []byte("p2"))
	c.expect(ws.OpText, []byte("fragmented"))
	// A binary message in 1-byte fragments.
	for i, b := range []byte("bytes") {
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpBinary
		}
		c.write(frame(i == 4, 0, op, []byte{b}))
	}
	c.expect(ws.OpBinary, []byte("bytes"))
	c.send(ws.OpPing, bytes.Repeat([]byte{'z'}, 125))
	c.expect(ws.OpPong, bytes.Repeat([]byte{'z'}, 125))

	// A new message inside a fragmented one.
	c.write(frame(false, 0, ws.OpText, []byte("a")), frame(true, 0, ws.OpText, []byte("b")))
	c.expectClose(1002)
}

func TestUTF8(t *testing.T) {
	ts := startWS(t, testOpts(), HandshakeOptions{})
	valid := []string{"", "κόσμε", "\u0080", "\u07ff", "\u0800", "\uffff", "\U00010000", "\U0010ffff", "a\u00e9\u4e16\U0001f600z"}
	c, _ := dialWS(t, ts.addr, "/echo", "")
	for _, s := range valid {
		c.send(ws.OpText, []byte(s))
		c.expect(ws.OpText, []byte(s))
		// The same, one byte per fragment: every code point split.
		b := []byte(s)
		if len(b) > 1 {
			for i := range b {
				op := ws.OpContinuation
				if i == 0 {
					op = ws.OpText
				}
				c.write(frame(i == len(b)-1, 0, op, b[i:i+1]))
			}
			c.expect(ws.OpText, b)
		}
	}
	// Binary messages are not UTF-8 checked.
	c.send(ws.OpBinary, []byte{0xff, 0xfe})
	c.expect(ws.OpBinary, []byte{0xff, 0xfe})

	invalid := map[string][]byte{
		"overlong":          {0xc0, 0xaf},
		"surrogate":         {0xed, 0xa0, 0x80},
		"above U+10FFFF":    {0xf4, 0x90, 0x80, 0x80},
		"lone continuation": {'a', 0x80},
		"0xff":              {0xff},
		"truncated at end":  {'a', 0xe2, 0x82},
	}
	for name, b := range invalid {
		t.Run(name, func(t *testing.T) {
			c, _ := dialWS(t, ts.addr, "/echo", "")
			c.send(ws.OpText, b)
			c.expectClose(1007)
		})
	}
	t.Run("split inside a code point, then invalid", func(t *testing.T) {
		c, _ := dialWS(t, ts.addr, "/echo", "")
		c.write(frame(false, 0, ws.OpText, []byte{'a', 0xf0, 0x9f}), frame(true, 0, ws.OpContinuation, []byte{0x98, 'x'}))
		c.expectClose(1007)
	})
	t.Run("fails fast, before the message ends", func(t *testing.T) {
		c, _ := dialWS(t, ts.addr, "/echo", "")
		c.write(frame(false, 0, ws.OpText, []byte("ok \xce\xba\xe0\x80")))
		c.expectClose(1007)
	})
	// Autobahn 6.4.3 and 6.4.4: the octet that makes the text invalid is
	// in the middle of one frame, whose rest never comes; the connection
	// fails at that octet, not at the frame's end.
	t.Run("fails fast, inside a frame", func(t *testing.T) {
		for _, bad := range []string{"\xf4\x90\x80\x80", "\xf4\x90"} {
			c, _ := dialWS(t, ts.addr, "/echo", "")
			f := frame(true, 0, ws.OpText, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80edited"))
			payloadAt := len(f) - 21
			c.write(f[:payloadAt+11+len(bad)])
			c.expectClose(1007)
		}
	})
}

func TestLimits(t *testing.T) {
	opts := testOpts()
	opts.MaxMessageSize = 1000
	ts := startWS(t, opts, HandshakeOptions{})
	c, _ := dialWS(t, ts.addr, "/echo", "")
	c.send(ws.OpBinary, make([]byte, 1000))
	c.expect(ws.OpBinary, make([]byte, 1000))
	c.send(ws.OpBinary, make([]byte, 1001))
	c.expectClose(1009)

	c, _ = dialWS(t, ts.addr, "/echo", "")
	c.write(frame(false, 0, ws.OpText, make([]byte, 600)), frame(true, 0, ws.OpContinuation, make([]byte, 401)))
	c.expectClose(1009)

	// A header that announces too much is refused before its payload.
	c, _ = dialWS(t, ts.addr, "/echo", "")
	c.write([]byte{0x82, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	c.expectClose(1009)

	// Empty fragments count a byte each: a few are a message like any
	// other, one without end is cut as a large one is.
	c, _ = dialWS(t, ts.addr, "/echo", "")
	c.write(frame(false, 0, ws.OpText, nil))
	for i := 0; i < 10; i++ {
		c.write(frame(false, 0, ws.OpContinuation, nil))
	}
	c.write(frame(true, 0, ws.OpContinuation, []byte("ok")))
	c.expect(ws.OpText, []byte("ok"))
	c.write(frame(false, 0, ws.OpBinary, nil))
	for i := 0; i < 1000; i++ {
		c.write(frame(false, 0, ws.OpContinuation, nil))
	}
	c.expectClose(1009)
}

func TestCloseCodes(t *testing.T) {
	ts := startWS(t, testOpts(), HandshakeOptions{})
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		c, _ := dialWS(t, ts.addr, "/echo", "")
		c.send(ws.OpClose, closePayload(code, "reason ✓"))
		if r := c.expectClose(code); r != "reason ✓" {
			t.Errorf("code %d: answered with reason %q, want the client's echoed", code, r)
		}
		if s := ts.summary(t); s.Code != code || s.Reason != "reason ✓" {
			t.Errorf("code %d: the upstream saw %+v", code, s)
		}
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		c, _ := dialWS(t, ts.addr, "/echo", "")
		c.send(ws.OpClose, closePayload(code, ""))
		c.expectClose(1002)
		ts.summary(t)
	}
	// No code: answered with no code.
	c, _ := dialWS(t, ts.addr, "/echo", "")
	c.send(ws.OpClose, nil)
	c.expectClose(0)
	if s := ts.summary(t); s.Code != 1005 {
		t.Errorf("empty close: %+v", s)
	}
	cases := map[string]struct {
		payload []byte
		code    int
	}{
		"1-byte payload":      {[]byte{0x03}, 1002},
		"reason over 123":     {closePayload(1000, strings.Repeat("r", 124)), 1002},
		"reason not UTF-8":    {closePayload(1000, "\xce\xba\xe0\x80"), 1007},
		"reason of 123 bytes": {closePayload(1000, strings.Repeat("r", 123)), 1000},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, _ := dialWS(t, ts.addr, "/echo", "")
			c.send(ws.OpClose, tc.payload)
			r := c.expectClose(tc.code)
			if tc.code == 1000 && r != string(tc.payload[2:]) {
				t.Errorf("answered with reason %q, want the client's echoed", r)
			}
			ts.summary(t)
		})
	}
	// Data after the close is not echoed.
	c, _ = dialWS(t, ts.addr, "/echo", "")
	c.write(frame(true, 0, ws.OpClose, closePayload(1000, "")), frame(true, 0, ws.OpText, []byte("late")))
	c.expectClose(1000)
}

// The upstream closes: its code and reason go out after the messages
// already queued; the client's answer ends the connection.
func TestServerClose(t *testing.T) {
	ts := startWS(t, testOpts(), HandshakeOptions{})
	c, _ := dialWS(t, ts.addr, "/hold", "")
	conn := ts.conn(t)
	ctx := t.Context()
	if err := conn.Send(ctx, Message{Text: true, Data: []byte("last words")}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(ctx, 4001, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Send(ctx, Message{Data: []byte("x")}); err != ErrClosed {
		t.Errorf("Send after Close: %v", err)
	}
	c.expect(ws.OpText, []byte("last words"))
	h, p := c.readFrame()
	if h.OpCode != ws.OpClose || string(p) != string(closePayload(4001, "bye")) {
		t.Fatalf("got %v %q", h.OpCode, p)
	}
	c.send(ws.OpClose, closePayload(4001, ""))
	c.expectEOF()
	if s := ts.summary(t); !s.ClosedByServer || s.SentCode != 4001 || s.ReceivedCode != 4001 {
		t.Errorf("summary %+v", s)
	}
	if _, err := conn.Receive(ctx); err == nil {
		t.Error("Receive after the close returned a message")
	}
}

// A client that never answers the server's close is dropped after
// CloseTimeout.
func TestServerCloseUnanswered(t *testing.T) {
	opts := testOpts()
	opts.CloseTimeout = 200e6
	ts := startWS(t, opts, HandshakeOptions{})
	c, _ := dialWS(t, ts.addr, "/hold", "")
	conn := ts.conn(t)
	conn.Close(t.Context(), 1001, "going away")
	h, _ := c.readFrame()
	if h.OpCode != ws.OpClose {
		t.Fatalf("got %v", h.OpCode)
	}
	c.expectEOF()
	if s := ts.summary(t); s.Code != CloseAbnormal || s.SentCode != 1001 {
		t.Errorf("summary %+v", s)
	}
}

// TestClipReason: a reason Close would refuse for its length is cut at a
// character boundary to at most 123 bytes; a short one is kept.
func TestClipReason(t *testing.T) {
	long := strings.Repeat("r", 122) + "é" + "tail" // é straddles byte 123
	for in, want := range map[string]string{
		"bye":                    "bye",
		strings.Repeat("x", 123): strings.Repeat("x", 123),
		strings.Repeat("x", 130): strings.Repeat("x", 123),
		long:                     strings.Repeat("r", 122),
		strings.Repeat("€", 42):  strings.Repeat("€", 41),
	} {
		if got := ClipReason(in); got != want || !utf8.ValidString(got) || len(got) > MaxCloseReason {
			t.Errorf("ClipReason(%d bytes) = %d bytes %q, want %d bytes", len(in), len(got), got, len(want))
		}
	}
}
