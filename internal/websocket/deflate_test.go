package websocket

import (
	"bytes"
	"compress/flate"
	"io"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

func TestDeflateNegotiation(t *testing.T) {
	on := startWS(t, testOpts(), HandshakeOptions{Compression: true})
	off := startWS(t, testOpts(), HandshakeOptions{})
	cases := []struct {
		offer, want string
		off         bool
	}{
		{"permessage-deflate", "permessage-deflate; server_no_context_takeover", false},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover", false},
		{"permessage-deflate; client_max_window_bits=10", "permessage-deflate; server_no_context_takeover", false},
		{"permessage-deflate; client_no_context_takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", false},
		{"permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover", false},
		{"permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_no_context_takeover; server_max_window_bits=10", false},
		{"permessage-deflate; server_max_window_bits=\"9\"", "permessage-deflate; server_no_context_takeover; server_max_window_bits=9", false},
		{"permessage-deflate; server_max_window_bits=7", "", false},
		{"permessage-deflate; server_max_window_bits=16", "", false},
		{"permessage-deflate; server_max_window_bits", "", false},
		{"permessage-deflate; client_no_context_takeover=1", "", false},
		{"permessage-deflate; unknown_param", "", false},
		{"permessage-deflate; server_max_window_bits=20, permessage-deflate; client_no_context_takeover",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", false},
		{"x-webkit-deflate-frame", "", false},
		{"permessage-deflate", "", true},
	}
	for _, tc := range cases {
		ts := on
		if tc.off {
			ts = off
		}
		c, resp := dialWS(t, ts.addr, "/echo", "Sec-WebSocket-Extensions: "+tc.offer+"\r\n")
		if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tc.want {
			t.Errorf("offer %q (compression on: %v): got %q, want %q", tc.offer, !tc.off, got, tc.want)
		}
		c.Close()
	}
}

// deflateClient compresses as a client keeping its context, as browsers do.
type deflateClient struct {
	buf bytes.Buffer
	fw  *flate.Writer
}

func newDeflateClient() *deflateClient {
	d := &deflateClient{}
	d.fw, _ = flate.NewWriter(&d.buf, flate.BestCompression)
	return d
}

func (d *deflateClient) compress(p []byte) []byte {
	d.buf.Reset()
	d.fw.Write(p)
	d.fw.Flush()
	b := d.buf.Bytes()
	return append([]byte(nil), b[:len(b)-4]...)
}

func inflateServer(t *testing.T, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail)))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("the server's compressed message does not decompress alone (no context takeover): %v", err)
	}
	return out
}

// expectDeflated reads a message the server must have compressed.
func (c *wsClient) expectDeflated(op ws.OpCode, want []byte) {
	c.t.Helper()
	h, p := c.readFrame()
	if h.OpCode != op || !h.Fin || !h.Rsv1() {
		c.t.Fatalf("got op %v fin %v rsv %d, want a compressed %v", h.OpCode, h.Fin, h.Rsv, op)
	}
	if got := inflateServer(c.t, p); !bytes.Equal(got, want) {
		c.t.Fatalf("decompressed %q, want %q", trunc(got), trunc(want))
	}
}

func TestDeflateMessages(t *testing.T) {
	for _, offer := range []string{"permessage-deflate", "permessage-deflate; client_no_context_takeover", "permessage-deflate; server_max_window_bits=8"} {
		t.Run(offer, func(t *testing.T) {
			ts := startWS(t, testOpts(), HandshakeOptions{Compression: true})
			c, _ := dialWS(t, ts.addr, "/echo", "Sec-WebSocket-Extensions: "+offer+"\r\n")
			keep := !strings.Contains(offer, "client_no_context_takeover")
			d := newDeflateClient()
			msgs := []string{
				strings.Repeat("the quick brown fox jumps over the lazy dog ", 20),
				strings.Repeat("the quick brown fox jumps over the lazy dog ", 21), // refers to the first when context is kept
				"short",
				strings.Repeat("κόσμε ", 300),
			}
			for _, m := range msgs {
				if !keep {
					d = newDeflateClient()
				}
				c.write(frame(true, 4, ws.OpText, d.compress([]byte(m))))
				if len(m) >= DefaultCompressMin {
					c.expectDeflated(ws.OpText, []byte(m))
				} else {
					c.expect(ws.OpText, []byte(m))
				}
			}
			// A compressed message in three fragments: RSV1 on the first only.
			z := d.compress(bytes.Repeat([]byte{1, 2, 3}, 1000))
			c.write(frame(false, 4, ws.OpBinary, z[:3]), frame(false, 0, ws.OpContinuation, z[3:10]),
				frame(true, 0, ws.OpContinuation, z[10:]))
			c.expectDeflated(ws.OpBinary, bytes.Repeat([]byte{1, 2, 3}, 1000))
			// Uncompressed messages are still fine.
			c.send(ws.OpText, []byte("plain"))
			c.expect(ws.OpText, []byte("plain"))
			c.send(ws.OpClose, closePayload(1000, ""))
			c.expectClose(1000)
		})
	}
}

func TestDeflateErrors(t *testing.T) {
	opts := testOpts()
	opts.MaxMessageSize = 64 << 10
	ts := startWS(t, opts, HandshakeOptions{Compression: true})
	const ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	bomb := newDeflateClient().compress(make([]byte, 16<<20)) // 16 MiB of zeros in ~16 KiB
	if int64(len(bomb)) > opts.MaxMessageSize {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	cases := map[string]struct {
		frames [][]byte
		code   int
	}{
		"decompression bomb": {[][]byte{frame(true, 4, ws.OpBinary, bomb)}, 1009},
		"rsv1 on a continuation": {[][]byte{frame(false, 0, ws.OpBinary, []byte("a")),
			frame(true, 4, ws.OpContinuation, []byte("b"))}, 1002},
		"rsv1 on a ping":           {[][]byte{frame(true, 4, ws.OpPing, nil)}, 1002},
		"not deflate data":         {[][]byte{frame(true, 4, ws.OpBinary, []byte{0xff, 0xff, 0xff, 0xff})}, 1007},
		"compressed invalid UTF-8": {[][]byte{frame(true, 4, ws.OpText, newDeflateClient().compress([]byte("ok \xed\xa0\x80")))}, 1007},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, _ := dialWS(t, ts.addr, "/echo", ext)
			c.write(tc.frames...)
			c.expectClose(tc.code)
		})
	}
}

func TestInflaterDictionary(t *testing.T) {
	var f inflater
	f.keep = true
	d := newDeflateClient()
	var all []byte
	for i := 0; i < 50; i++ {
		m := bytes.Repeat([]byte{byte('a' + i%26)}, 3000+i*100)
		m = append(m, []byte(strings.Repeat("shared tail ", 50))...)
		all = append(all, m...)
		out, err := f.inflate(d.compress(m), 1<<20)
		if err != nil || !bytes.Equal(out, m) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if len(f.dict) != maxWindow || !bytes.Equal(f.dict, all[len(all)-maxWindow:]) {
		t.Fatalf("dictionary of %d bytes is not the last 32 KiB", len(f.dict))
	}
}

// The dictionary kept for a client with context takeover is the last
// 32 KiB of what it sent, and grows only as far as that: a connection
// that sent a few small messages holds a few small bytes.
func TestInflaterDictionaryWindow(t *testing.T) {
	var f inflater
	var all []byte
	for i, n := range []int{5, 100, 3000, 20000, 1, 9000, 40000, 7, 32768, 12} {
		msg := bytes.Repeat([]byte{byte('a' + i)}, n)
		f.remember(msg)
		all = append(all, msg...)
		want := all[max(0, len(all)-maxWindow):]
		if !bytes.Equal(f.dict, want) {
			t.Fatalf("after %d messages the dictionary is %d bytes, not the last %d sent", i+1, len(f.dict), len(want))
		}
		if cap(f.dict) > maxWindow {
			t.Fatalf("after %d messages the dictionary's capacity is %d, over the window", i+1, cap(f.dict))
		}
		if i == 1 && cap(f.dict) > 1024 {
			t.Fatalf("after 105 bytes the dictionary holds %d bytes of capacity", cap(f.dict))
		}
	}
}
