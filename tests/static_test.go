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
