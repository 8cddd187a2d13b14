package tests

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	css := "body { color: #333; }\n"
	os.WriteFile(filepath.Join(dir, "site.css"), []byte(css), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "a.txt"), []byte("0123456789"), 0o644)
	big := strings.Repeat("static-bytes ", 100000)
	os.WriteFile(filepath.Join(dir, "big.bin"), []byte(big), 0o644)

	s := StartServer(t, probe, "--static", "/static="+dir)

	resp, body := get(t, s, "GET", "/static/site.css", nil)
	if resp.StatusCode != 200 || body != css || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") ||
		resp.ContentLength != int64(len(css)) || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body := get(t, s, "GET", "/static/big.bin", nil); resp.StatusCode != 200 || body != big {
		t.Fatalf("big file: %d, %d bytes", resp.StatusCode, len(body))
	}
	head := raw(t, s.Addr, "HEAD /static/site.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") || !strings.Contains(head, fmt.Sprintf("Content-Length: %d\r\n", len(css))) || !strings.HasSuffix(head, "\r\n\r\n") {
		t.Fatalf("HEAD: %q", head)
	}
	resp, _ = get(t, s, "GET", "/static/site.css", nil, "If-Modified-Since", resp.Header.Get("Last-Modified"))
	if resp.StatusCode != 304 {
		t.Fatalf("conditional: %d", resp.StatusCode)
	}
	resp, body = get(t, s, "GET", "/static/sub/a.txt", nil, "Range", "bytes=2-4")
	if resp.StatusCode != 206 || body != "234" {
		t.Fatalf("range: %d %q", resp.StatusCode, body)
	}
	for _, p := range []string{"/static/sub", "/static/", "/static/missing.css", "/static/../go.mod", "/static/%2e%2e/go.mod", "/static/..%2fgo.mod"} {
		out := raw(t, s.Addr, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		if !strings.HasPrefix(out, "HTTP/1.1 404 ") && !strings.HasPrefix(out, "HTTP/1.1 400 ") {
			t.Errorf("%s: %.80q", p, out)
		}
		if strings.Contains(out, "module github.com/gowsgi") {
			t.Fatalf("%s escaped the static directory", p)
		}
	}
	resp, _ = get(t, s, "POST", "/static/site.css", strings.NewReader("x"))
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d %v", resp.StatusCode, resp.Header)
	}
	// Everything else still goes to the app, and static hits are logged.
	if resp, body := get(t, s, "GET", "/staticky", nil); resp.StatusCode != 404 || body != "not found\n" {
		t.Fatalf("app path: %d %q", resp.StatusCode, body)
	}
	if !waitFor(5*time.Second, func() bool { return strings.Contains(s.Stdout.String(), `"GET /static/site.css HTTP/1.1" 200 22`) }) {
		t.Errorf("static request not in the access log:\n%s", s.Stdout)
	}

	code, _, stderr := runGowsgi(t, 30*time.Second, probe, "--static", "static=/nowhere")
	if code != 2 || !strings.Contains(stderr, "expected /URL-PREFIX=DIRECTORY") {
		t.Fatalf("bad --static: %d %s", code, stderr)
	}
}

// TestStaticRefusals: by default a static mount answers 404 for dotfiles and
// for links whose real path leaves the directory, and never sends their
// bytes; links that stay inside still work.
func TestStaticRefusals(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("OUTSIDE-SECRET"), 0o644)
	os.MkdirAll(filepath.Join(outside, "sub"), 0o755)
	os.WriteFile(filepath.Join(outside, "sub", "more.txt"), []byte("OUTSIDE-SECRET"), 0o644)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("DOTENV-SECRET"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git", "config"), []byte("GIT-SECRET"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".well-known"), 0o755)
	os.WriteFile(filepath.Join(dir, ".well-known", "security.txt"), []byte("Contact: x"), 0o644)
	os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("fine"), 0o644)
	for link, target := range map[string]string{
		"leak.txt":  filepath.Join(outside, "secret.txt"), // a file outside
		"leakdir":   filepath.Join(outside, "sub"),        // a directory outside
		"rel.txt":   "../" + filepath.Base(outside) + "/secret.txt",
		"env.txt":   ".env",        // a dotfile inside
		"git.txt":   ".git/config", // inside a dot directory
		"alias.txt": "ok.txt",      // fine: stays inside
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	// rel.txt only leads outside when both temp dirs share a parent.
	if filepath.Dir(outside) != filepath.Dir(dir) {
		os.Remove(filepath.Join(dir, "rel.txt"))
		os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "rel.txt"))
	}

	s := StartServer(t, probe, "--static", "/static="+dir)
	for _, p := range []string{"/static/.env", "/static/.git/config", "/static/.git/", "/static/%2egit/config",
		"/static/sub/../.env", "/static/leak.txt", "/static/leakdir/more.txt", "/static/rel.txt",
		"/static/env.txt", "/static/git.txt", "/static/.well-known/../.env"} {
		for _, m := range []string{"GET", "HEAD"} {
			out := raw(t, s.Addr, m+" "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
			if !strings.HasPrefix(out, "HTTP/1.1 404 ") {
				t.Errorf("%s %s: %.80q", m, p, out)
			}
			if strings.Contains(out, "SECRET") {
				t.Fatalf("%s %s sent a secret: %q", m, p, out)
			}
		}
	}
	for p, want := range map[string]string{"/static/ok.txt": "fine", "/static/alias.txt": "fine", "/static/.well-known/security.txt": "Contact: x"} {
		if resp, body := get(t, s, "GET", p, nil); resp.StatusCode != 200 || body != want {
			t.Errorf("%s: %d %q", p, resp.StatusCode, body)
		}
	}
}

// TestStaticRanges: Range requests per RFC 9110 §14, where net/http's
// ServeContent alone gets them wrong.
func TestStaticRanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := make([]byte, 100000)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	os.WriteFile(filepath.Join(dir, "f.bin"), data, 0o644)
	s := StartServer(t, probe, "--static", "/static="+dir)
	const size = "100000"

	unsatisfiable := []string{"bytes=-0", "bytes=100000-", "bytes=100000-100010", "bytes=200000-, -0"}
	var many []string
	for i := 0; i < 17; i++ {
		many = append(many, fmt.Sprintf("%d-%d", 10*i, 10*i+1))
	}
	unsatisfiable = append(unsatisfiable, "bytes="+strings.Join(many, ","))
	for _, rg := range unsatisfiable {
		resp, body := get(t, s, "GET", "/static/f.bin", nil, "Range", rg)
		if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != "bytes */"+size || strings.Contains(body, "abcdef") {
			t.Errorf("Range %q: %d %q %.40q", rg, resp.StatusCode, resp.Header.Get("Content-Range"), body)
		}
	}
	for _, c := range []struct{ rg, cr, body string }{
		{"bytes=0-4", "bytes 0-4/" + size, "abcde"},
		{"bytes=-3", "bytes 99997-99999/" + size, string(data[99997:])},
		{"bytes=99998-200000", "bytes 99998-99999/" + size, string(data[99998:])},
		{"bytes=0-4,3-9", "bytes 0-9/" + size, "abcdefghij"},  // overlapping: merged
		{"bytes=5-9, 0-4", "bytes 0-9/" + size, "abcdefghij"}, // adjacent: merged
		{"bytes=2-3, 200000-", "bytes 2-3/" + size, "cd"},     // the unsatisfiable one dropped
		{"bytes=0-99999," + strings.Join(many, ","), "bytes 0-99999/" + size, string(data)},
	} {
		resp, body := get(t, s, "GET", "/static/f.bin", nil, "Range", c.rg)
		if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != c.cr || body != c.body {
			t.Errorf("Range %q: %d %q %.40q", c.rg, resp.StatusCode, resp.Header.Get("Content-Range"), body)
		}
	}
	// Two ranges apart: multipart/byteranges.
	resp, body := get(t, s, "GET", "/static/f.bin", nil, "Range", "bytes=0-1,10-11")
	if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges; boundary=") ||
		!strings.Contains(body, "Content-Range: bytes 0-1/"+size+"\r\n") || !strings.Contains(body, "\r\n\r\nab\r\n--") ||
		!strings.Contains(body, "Content-Range: bytes 10-11/"+size+"\r\n") || !strings.Contains(body, "\r\n\r\nkl\r\n--") {
		t.Errorf("two ranges: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	// Ignored: other units, malformed sets, HEAD.
	for _, rg := range []string{"items=0-5", "bytes=5-1", "bytes=x-"} {
		if resp, body := get(t, s, "GET", "/static/f.bin", nil, "Range", rg); resp.StatusCode != 200 || len(body) != len(data) {
			t.Errorf("Range %q: %d, %d bytes", rg, resp.StatusCode, len(body))
		}
	}
	if resp, _ := get(t, s, "HEAD", "/static/f.bin", nil, "Range", "bytes=0-4"); resp.StatusCode != 200 || resp.Header.Get("Content-Length") != size {
		t.Errorf("HEAD with Range: %d %v", resp.StatusCode, resp.Header)
	}

	// Preconditions come first (RFC 9110 §13.2.2), and If-Range still decides
	// whether the range counts.
	resp, _ = get(t, s, "GET", "/static/f.bin", nil)
	lm := resp.Header.Get("Last-Modified")
	if resp, _ := get(t, s, "GET", "/static/f.bin", nil, "Range", "bytes=-0", "If-Modified-Since", lm); resp.StatusCode != 304 {
		t.Errorf("If-Modified-Since with an unsatisfiable range: %d", resp.StatusCode)
	}
	old := time.Unix(1e9, 0).UTC().Format(http.TimeFormat)
	for _, rg := range []string{"bytes=-0", "bytes=0-4"} {
		if resp, body := get(t, s, "GET", "/static/f.bin", nil, "Range", rg, "If-Range", old); resp.StatusCode != 200 || len(body) != len(data) {
			t.Errorf("Range %q with a stale If-Range: %d", rg, resp.StatusCode)
		}
	}
	if resp, body := get(t, s, "GET", "/static/f.bin", nil, "Range", "bytes=0-4", "If-Range", lm); resp.StatusCode != 206 || body != "abcde" {
		t.Errorf("matching If-Range: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, s, "GET", "/static/f.bin", nil, "Range", "bytes=-0", "If-Range", lm); resp.StatusCode != 416 {
		t.Errorf("matching If-Range, unsatisfiable: %d", resp.StatusCode)
	}
}

// TestStaticPrecompressed: FILE.br, FILE.zst and FILE.gz stand in for FILE
// when the client accepts their coding, with FILE's type and a Vary; ranges
// and clients that accept none get FILE itself.
func TestStaticPrecompressed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	css := strings.Repeat("body { color: #333; }\n", 100)
	files := map[string]string{
		"site.css": css, "site.css.br": "BR-BYTES", "site.css.zst": "ZSTD-BYTES", "site.css.gz": "GZIP-BYTES",
		"app.js": "js", "app.js.gz": "GZIP-JS",
		"plain.txt":        "plain",
		"app.3f2a9c1b.css": "hashed", "main-5d41402abc4b2a76.js": "hashed js",
	}
	for name, body := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	s := StartServer(t, probe, "--static", "/static="+dir)

	for _, c := range []struct{ path, accept, enc, body string }{
		{"/static/site.css", "gzip, deflate, br, zstd", "zstd", "ZSTD-BYTES"}, // ties: zstd, br, gzip (compress.Preference)
		{"/static/site.css", "gzip, deflate, br", "br", "BR-BYTES"},
		{"/static/site.css", "gzip;q=1, br;q=0.5, zstd;q=0.5", "gzip", "GZIP-BYTES"},
		{"/static/site.css", "gzip, zstd", "zstd", "ZSTD-BYTES"},
		{"/static/site.css", "gzip", "gzip", "GZIP-BYTES"},
		{"/static/site.css", "br;q=0, zstd;q=0, *", "gzip", "GZIP-BYTES"},
		{"/static/site.css", "*", "zstd", "ZSTD-BYTES"},
		{"/static/site.css", "*, zstd;q=2", "br", "BR-BYTES"}, // q > 1 is no qvalue: zstd refused
		{"/static/site.css", "", "", css},
		{"/static/site.css", "deflate", "", css},
		{"/static/site.css", "br;q=0", "", css},
		{"/static/app.js", "br, gzip", "gzip", "GZIP-JS"},
		{"/static/app.js", "br", "", "js"},
	} {
		var hdr []string
		if c.accept != "" {
			hdr = []string{"Accept-Encoding", c.accept}
		}
		resp, body := get(t, s, "GET", c.path, nil, hdr...)
		plain, _ := get(t, s, "GET", c.path, nil) // the type of the plain file
		ctype := plain.Header.Get("Content-Type")
		if !strings.HasPrefix(ctype, "text/") {
			t.Fatalf("%s: plain Content-Type %q", c.path, ctype)
		}
		if resp.StatusCode != 200 || body != c.body || resp.Header.Get("Content-Encoding") != c.enc ||
			resp.Header.Get("Content-Type") != ctype || resp.Header.Get("Vary") != "Accept-Encoding" ||
			resp.ContentLength != int64(len(c.body)) {
			t.Errorf("%s, Accept-Encoding %q: %d %v %.40q", c.path, c.accept, resp.StatusCode, resp.Header, body)
		}
	}
	// HEAD gives the sibling's length; a range counts bytes of the plain file.
	if resp, _ := get(t, s, "HEAD", "/static/site.css", nil, "Accept-Encoding", "br"); resp.StatusCode != 200 ||
		resp.Header.Get("Content-Encoding") != "br" || resp.Header.Get("Content-Length") != "8" {
		t.Errorf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := get(t, s, "GET", "/static/site.css", nil, "Accept-Encoding", "br", "Range", "bytes=0-3")
	if resp.StatusCode != 206 || body != "body" || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("range: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	// A 304 keeps the Vary but no Content-Encoding.
	resp, _ = get(t, s, "GET", "/static/site.css", nil, "Accept-Encoding", "br")
	resp, _ = get(t, s, "GET", "/static/site.css", nil, "Accept-Encoding", "br", "If-Modified-Since", resp.Header.Get("Last-Modified"))
	if resp.StatusCode != 304 || resp.Header.Get("Vary") != "Accept-Encoding" || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("304: %d %v", resp.StatusCode, resp.Header)
	}
	// No sibling, no Vary; no --static max-age, no Cache-Control, except for
	// fingerprinted names.
	if resp, _ := get(t, s, "GET", "/static/plain.txt", nil, "Accept-Encoding", "gzip, br"); resp.Header.Get("Vary") != "" ||
		resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Cache-Control") != "" {
		t.Errorf("plain: %v", resp.Header)
	}
	for _, p := range []string{"/static/app.3f2a9c1b.css", "/static/main-5d41402abc4b2a76.js"} {
		if resp, _ := get(t, s, "GET", p, nil); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: %d %v", p, resp.StatusCode, resp.Header)
		}
	}
	// The siblings themselves can still be fetched as they are.
	if resp, body := get(t, s, "GET", "/static/site.css.gz", nil); resp.StatusCode != 200 || body != "GZIP-BYTES" || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("sibling itself: %d %v %q", resp.StatusCode, resp.Header, body)
	}
}
