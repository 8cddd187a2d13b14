package tests

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// decode undoes a response's Content-Encoding.
func decode(t testing.TB, coding string, body []byte) string {
	t.Helper()
	var r io.Reader
	switch coding {
	case "":
		return string(body)
	case "gzip":
		z, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = z
	case "zstd":
		z, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer z.Close()
		r = z
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	default:
		t.Fatalf("unexpected Content-Encoding %q", coding)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", coding, err)
	}
	return string(b)
}

// TestCompress: --compress encodes bodies by Accept-Encoding, streamed
// ones too, on HTTP/1.1 and HTTP/2 alike, with Vary; never HEAD, ranges,
// tiny or already-encoded bodies, 204/304, and not at all without the flag.
func TestCompress(t *testing.T) {
	t.Parallel()
	s, _ := StartProbe(t, "--compress", "--http2-cleartext", "both")
	plain, _ := StartProbe(t)
	var want strings.Builder
	for i := 0; i < 300; i++ {
		want.WriteString("chunk " + strconv.Itoa(i) + "\n")
	}
	for _, c := range []struct {
		path, accept, coding string
	}{
		{"/stream?n=300", "gzip", "gzip"},
		{"/stream?n=300", "gzip, br", "br"},
		{"/stream?n=300", "gzip, deflate, br, zstd", "zstd"},
		{"/stream?n=300", "br;q=0.5, gzip;q=0.9", "gzip"},
		{"/stream?n=300", "", ""},
		{"/stream?n=300", "identity", ""},
	} {
		hdr := []string{}
		if c.accept != "" {
			hdr = []string{"Accept-Encoding", c.accept}
		}
		resp, body := get(t, s, "GET", c.path, nil, hdr...)
		if got := resp.Header.Get("Content-Encoding"); got != c.coding {
			t.Errorf("%s with %q: Content-Encoding %q, want %q", c.path, c.accept, got, c.coding)
			continue
		}
		if resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s with %q: Vary %q", c.path, c.accept, resp.Header.Get("Vary"))
		}
		if got := decode(t, c.coding, []byte(body)); got != want.String() {
			t.Errorf("%s with %q: decoded body %.60q..., want the 300 chunks", c.path, c.accept, got)
		}
	}

	// The app's Content-Length still bounds the body: 3000 of its 5000 bytes.
	resp, body := get(t, s, "GET", "/cl?declared=3000&actual=5000", nil, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.ContentLength == 3000 || decode(t, "gzip", []byte(body)) != strings.Repeat("x", 3000) {
		t.Errorf("declared length: %v, %d bytes", resp.Header, len(body))
	}

	for _, c := range []struct {
		method, path string
		hdr          []string
		vary         bool
	}{
		{"HEAD", "/stream?n=300", nil, true},
		{"GET", "/stream?n=300", []string{"Range", "bytes=0-10"}, true},
		{"GET", "/status", nil, false},                    // 14 bytes with a Content-Length: tiny
		{"GET", "/big?n=100000", nil, false},              // application/octet-stream
		{"GET", "/nobody?s=204+No+Content", nil, false},   // no body
		{"GET", "/nobody?s=304+Not+Modified", nil, false}, // no body
	} {
		hdr := append([]string{"Accept-Encoding", "gzip"}, c.hdr...)
		resp, _ := get(t, s, c.method, c.path, nil, hdr...)
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s %s %v: compressed (%s)", c.method, c.path, c.hdr, resp.Header.Get("Content-Encoding"))
		}
		if (resp.Header.Get("Vary") == "Accept-Encoding") != c.vary {
			t.Errorf("%s %s %v: Vary %q", c.method, c.path, c.hdr, resp.Header.Get("Vary"))
		}
	}

	// Over HTTP/2 the same relay compresses.
	r2, err := h2Client(nil, "").Do(mustRequest(t, "GET", s.URL("/stream?n=300"), "Accept-Encoding", "gzip"))
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.ProtoMajor != 2 || r2.Header.Get("Content-Encoding") != "gzip" || decode(t, "gzip", b2) != want.String() {
		t.Errorf("HTTP/2: %s %v", r2.Proto, r2.Header)
	}

	// Off by default.
	if resp, _ := get(t, plain, "GET", "/stream?n=300", nil, "Accept-Encoding", "gzip"); resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "" {
		t.Errorf("without --compress: %v", resp.Header)
	}
}

func mustRequest(t testing.TB, method, url string, hdr ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}
