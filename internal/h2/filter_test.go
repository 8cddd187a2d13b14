package h2

import (
	"bytes"
	"io"
	"net"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// pipeFilter writes client bytes into a filterConn and returns what the
// server side reads.
func filtered(t *testing.T, write func(fr *http2.Framer)) []byte {
	t.Helper()
	client, server := net.Pipe()
	f := newFilterConn(server, 64<<10, 16<<10)
	go func() {
		io.WriteString(client, http2.ClientPreface)
		write(http2.NewFramer(client, nil))
		client.Close()
	}()
	out, _ := io.ReadAll(f)
	if !bytes.HasPrefix(out, []byte(http2.ClientPreface)) {
		t.Fatalf("the preface did not pass: %q", out)
	}
	return out[len(http2.ClientPreface):]
}

func TestFilterDedupsSettings(t *testing.T) {
	out := filtered(t, func(fr *http2.Framer) {
		fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100},
			http2.Setting{ID: http2.SettingMaxFrameSize, Val: 20000},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		fr.WriteData(1, true, []byte("payload"))
	})
	fr := http2.NewFramer(nil, bytes.NewReader(out))
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf := f.(*http2.SettingsFrame)
	if sf.HasDuplicates() || sf.NumSettings() != 2 {
		t.Fatalf("settings %v", sf)
	}
	if v, _ := sf.Value(http2.SettingInitialWindowSize); v != 1 {
		t.Errorf("INITIAL_WINDOW_SIZE %d, want the last value, 1", v)
	}
	if f, err = fr.ReadFrame(); err != nil || string(f.(*http2.DataFrame).Data()) != "payload" {
		t.Errorf("the next frame: %v %v", f, err)
	}
}

// headerNames decodes the header blocks in out with one decoder (as the
// server would) and returns the names of each block.
func headerNames(t *testing.T, out []byte) [][]string {
	var blocks [][]string
	var cur []string
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) { cur = append(cur, f.Name) })
	fr := http2.NewFramer(nil, bytes.NewReader(out))
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return blocks
		}
		if err != nil {
			t.Fatal(err)
		}
		if hf, ok := f.(*http2.HeadersFrame); ok {
			if _, err := dec.Write(hf.HeaderBlockFragment()); err != nil {
				t.Fatal(err)
			}
			blocks, cur = append(blocks, cur), nil
		}
	}
}

func TestFilterMarksConnectionSpecificHeaders(t *testing.T) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	block := func(fields ...string) []byte {
		buf.Reset()
		for i := 0; i < len(fields); i += 2 {
			enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	out := filtered(t, func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
			BlockFragment: block(":method", "GET", ":path", "/", "x-ok", "1")})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: true, PadLength: 3,
			BlockFragment: block(":method", "GET", ":path", "/", "connection", "keep-alive")})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, EndHeaders: true, EndStream: true,
			BlockFragment: block(":method", "GET", ":path", "/", "te", "gzip")})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, EndHeaders: true, EndStream: true,
			BlockFragment: block(":method", "GET", ":path", "/", "te", "trailers", "x-ok", "1")})
	})
	got := headerNames(t, out)
	want := [][]string{
		{":method", ":path", "x-ok"},
		{"Malformed", ":method", ":path", "connection"},
		{"Malformed", ":method", ":path", "te"},
		{":method", ":path", "te", "x-ok"},
	}
	if len(got) != len(want) {
		t.Fatalf("blocks %v", got)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) || got[i][0] != want[i][0] {
			t.Errorf("block %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// TestFilterHoldsNoMoreThanTheServer: a header block that never ends (the
// CONTINUATION flood) is held only up to the header list limit; beyond,
// it passes to the server as it comes, whose own protections apply.
func TestFilterHoldsNoMoreThanTheServer(t *testing.T) {
	client, server := net.Pipe()
	f := newFilterConn(server, 8<<10, 16<<10).(*filterConn)
	frag := bytes.Repeat([]byte{0x40, 3, 'x', '-', 'a', 5, 'v', 'v', 'v', 'v', 'v'}, 1400) // literal fields, ~15 KB
	const frames = 64
	go func() {
		io.WriteString(client, http2.ClientPreface)
		fr := http2.NewFramer(client, nil)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag})
		for i := 0; i < frames; i++ {
			fr.WriteContinuation(1, false, frag)
		}
		client.Close()
	}()
	buf := make([]byte, 32<<10)
	total, most := 0, 0
	for {
		n, err := f.Read(buf)
		total += n
		most = max(most, len(f.held)+len(f.frame)+len(f.out))
		if err != nil {
			break
		}
	}
	if want := len(http2.ClientPreface) + (frames+1)*(9+len(frag)); total != want {
		t.Errorf("passed %d bytes, want %d", total, want)
	}
	if most > f.maxHold+16<<10 {
		t.Errorf("held up to %d bytes, limit %d", most, f.maxHold)
	}
}
