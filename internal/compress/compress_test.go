package compress

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

func TestNegotiate(t *testing.T) {
	for in, want := range map[string]Encoding{
		"":                             None,
		"identity":                     None,
		"deflate":                      None,
		"gzip, deflate, br, zstd":      Zstd, // ties: zstd, br, gzip
		"gzip, deflate, br":            Brotli,
		"gzip":                         Gzip,
		"x-gzip":                       Gzip,
		"GZIP ; Q=0.5":                 Gzip,
		"gzip;q=1, br;q=0.9, zstd;q=0": Gzip,
		"gzip;q=0.5, br;q=0.8":         Brotli,
		"zstd;q=0, br;q=0, gzip;q=0":   None,
		"*":                            Zstd,
		"*;q=0":                        None,
		"*, zstd;q=0":                  Brotli,
		"*;q=0.1, gzip":                Gzip,
		"br;q=2":                       None, // malformed weights count as 0
		"br;q=0.1234":                  None,
		"br;q=abc":                     None,
		"br;q=":                        None,
		"br;level=5;q=0.5, gzip;q=0.4": Brotli,
		" , ,gzip":                     Gzip,
	} {
		if got := Negotiate(in); got != want {
			t.Errorf("Negotiate(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCompressible(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/html; charset=utf-8":      true,
		"TEXT/CSS":                      true,
		"text/plain":                    true,
		"text/event-stream":             false,
		"application/json":              true,
		"application/problem+json":      true,
		"application/javascript":        true,
		"application/xml":               true,
		"application/atom+xml":          true,
		"image/svg+xml":                 true,
		"application/wasm":              true,
		"image/png":                     false,
		"image/jpeg":                    false,
		"font/woff2":                    false,
		"application/zip":               false,
		"application/gzip":              false,
		"application/octet-stream":      false,
		"video/mp4":                     false,
		"":                              false,
		"text":                          false,
		" application/json ; charset=x": true,
	} {
		if got := Compressible(ct); got != want {
			t.Errorf("Compressible(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestChoose(t *testing.T) {
	const ae = "gzip, br"
	const html = "text/html; charset=utf-8"
	for _, c := range []struct {
		name         string
		ae, ct, ce   string
		n            int64
		status       int
		head, ranged bool
		want         Encoding
	}{
		{"plain", ae, html, "", 5000, 200, false, false, Brotli},
		{"unknown length", ae, html, "", -1, 200, false, false, Brotli},
		{"error page", ae, html, "", 5000, 404, false, false, Brotli},
		{"exactly MinLength", ae, html, "", MinLength, 200, false, false, Brotli},
		{"tiny", ae, html, "", MinLength - 1, 200, false, false, None},
		{"empty", ae, html, "", 0, 200, false, false, None},
		{"head", ae, html, "", 5000, 200, true, false, None},
		{"range", ae, html, "", 5000, 200, false, true, None},
		{"206", ae, html, "", 5000, 206, false, false, None},
		{"204", ae, html, "", -1, 204, false, false, None},
		{"304", ae, html, "", -1, 304, false, false, None},
		{"1xx", ae, html, "", -1, 103, false, false, None},
		{"already gzip", ae, html, "gzip", 5000, 200, false, false, None},
		{"identity encoding", ae, html, "identity", 5000, 200, false, false, Brotli},
		{"image", ae, "image/png", "", 5000, 200, false, false, None},
		{"no type", ae, "", "", 5000, 200, false, false, None},
		{"no accept-encoding", "", html, "", 5000, 200, false, false, None},
		{"json gzip only", "gzip", "application/json", "", 5000, 200, false, false, Gzip},
	} {
		if got := Choose(c.ae, c.ct, c.ce, c.n, c.status, c.head, c.ranged); got != c.want {
			t.Errorf("%s: Choose = %v, want %v", c.name, got, c.want)
		}
	}
	if !Vary(html, "", 5000, 200) || Vary("image/png", "", 5000, 200) || Vary(html, "", 10, 200) {
		t.Error("Vary")
	}
}

func decode(t *testing.T, e Encoding, b []byte) string {
	t.Helper()
	var r io.Reader
	switch e {
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case Zstd:
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	case Brotli:
		r = brotli.NewReader(bytes.NewReader(b))
	default:
		r = bytes.NewReader(b)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%v: decoding: %v", e, err)
	}
	return string(out)
}

func TestWriterRoundTrip(t *testing.T) {
	text := strings.Repeat("Hello, WSGI! Compressible text. ", 2000)
	for _, e := range []Encoding{Gzip, Zstd, Brotli} {
		// Twice, so that the second round uses a pooled encoder.
		for round := 0; round < 2; round++ {
			var buf bytes.Buffer
			w := NewWriter(&buf, e)
			if cw, ok := w.(*Writer); !ok || cw.Encoding() != e {
				t.Fatalf("%v: NewWriter returned %T", e, w)
			}
			for i := 0; i < len(text); i += 1000 {
				if _, err := w.Write([]byte(text[i:min(i+1000, len(text))])); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("%v: second Close: %v", e, err)
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Fatalf("%v: Write after Close succeeded", e)
			}
			if buf.Len() >= len(text)/4 {
				t.Errorf("%v: %d bytes for %d of repetitive text", e, buf.Len(), len(text))
			}
			if got := decode(t, e, buf.Bytes()); got != text {
				t.Fatalf("%v round %d: decoded %d bytes, want %d", e, round, len(got), len(text))
			}
		}
	}
}

// TestWriterFlush: after Flush, everything written so far can be decoded
// from what reached the underlying writer, before Close.
func TestWriterFlush(t *testing.T) {
	for _, e := range []Encoding{Gzip, Zstd, Brotli} {
		var buf bytes.Buffer
		w := NewWriter(&buf, e).(*Writer)
		w.Write([]byte("first event\n"))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		var got string
		switch e {
		case Gzip:
			zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 64)
			n, _ := io.ReadAtLeast(zr, b, len("first event\n"))
			got = string(b[:n])
		case Zstd:
			zr, _ := zstd.NewReader(bytes.NewReader(buf.Bytes()))
			b := make([]byte, 64)
			n, _ := io.ReadAtLeast(zr, b, len("first event\n"))
			zr.Close()
			got = string(b[:n])
		case Brotli:
			b := make([]byte, 64)
			n, _ := io.ReadAtLeast(brotli.NewReader(bytes.NewReader(buf.Bytes())), b, len("first event\n"))
			got = string(b[:n])
		}
		if got != "first event\n" {
			t.Errorf("%v: after Flush decoded %q", e, got)
		}
		w.Close()
	}
}

func TestNoneWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, None)
	w.Write([]byte("as is"))
	if err := w.Close(); err != nil || buf.String() != "as is" {
		t.Fatalf("%q %v", buf.String(), err)
	}
	if None.Token() != "" || Gzip.Token() != "gzip" || Zstd.Token() != "zstd" || Brotli.Token() != "br" {
		t.Error("Token")
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(6 << 20)
	if !l.Reserve(Brotli) || l.Reserve(Zstd) || !l.Reserve(Gzip) {
		t.Fatalf("reserve: in use %d", l.InUse())
	}
	l.Release(Brotli)
	if !l.Reserve(Zstd) || l.InUse() != 3<<20 {
		t.Fatalf("after release: in use %d", l.InUse())
	}
	var none *Limiter
	if !none.Reserve(Brotli) {
		t.Fatal("a nil Limiter refused")
	}
}
