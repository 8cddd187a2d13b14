package static

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

func TestCheckRange(t *testing.T) {
	const size = 100000
	const unsat = "bytes=100000-"
	many := func(n int) string { // n disjoint one-byte ranges
		var s []string
		for i := 0; i < n; i++ {
			s = append(s, strconv.Itoa(2*i)+"-"+strconv.Itoa(2*i))
		}
		return "bytes=" + strings.Join(s, ",")
	}
	for _, c := range []struct {
		in   []string
		size int64
		want string // "" means: ignore the Range field
	}{
		{[]string{"bytes=-0"}, size, unsat},
		{[]string{"bytes=100000-"}, size, unsat},
		{[]string{"bytes=100000-100005"}, size, unsat},
		{[]string{"bytes=-0, 200000-"}, size, unsat},
		{[]string{"bytes=0-0"}, size, "bytes=0-0"},
		{[]string{"bytes=0-"}, size, "bytes=0-99999"},
		{[]string{"bytes=-500"}, size, "bytes=99500-99999"},
		{[]string{"bytes=-200000"}, size, "bytes=0-99999"},
		{[]string{"bytes=99990-200000"}, size, "bytes=99990-99999"},
		{[]string{"bytes=0-4,5-9"}, size, "bytes=0-9"},
		{[]string{"bytes=10-20,0-5,3-12"}, size, "bytes=0-20"},
		{[]string{"bytes=0-5, 200000-"}, size, "bytes=0-5"},
		{[]string{"bytes= 1-2 ,, 4-5 "}, size, "bytes=1-2,4-5"},
		{[]string{"Bytes=1-2"}, size, "bytes=1-2"},
		{[]string{many(16)}, size, many(16)},
		{[]string{many(17)}, size, unsat},
		{[]string{"bytes=0-99999," + many(17)[6:]}, size, "bytes=0-99999"}, // merged into one
		// Ignored: malformed, other units, several fields, empty files.
		{[]string{"bytes=5-1"}, size, ""},
		{[]string{"items=0-5"}, size, ""},
		{[]string{"bytes=abc"}, size, ""},
		{[]string{"bytes="}, size, ""},
		{[]string{"bytes=,"}, size, ""},
		{[]string{"bytes=1-2-3"}, size, ""},
		{[]string{"bytes=+1-2"}, size, ""},
		{[]string{"bytes=99999999999999999999-"}, size, ""},
		{[]string{"0-5"}, size, ""},
		{[]string{"bytes=0-1", "bytes=2-3"}, size, ""},
		{[]string{"bytes=0-5"}, 0, ""},
		{[]string{"bytes=-5"}, 0, ""},
	} {
		got, ok := checkRange(c.in, c.size)
		if !ok {
			got = ""
		}
		if got != c.want {
			t.Errorf("checkRange(%q, %d) = %q, want %q", c.in, c.size, got, c.want)
		}
	}
}

// TestSibling: the precompressed sibling served is the one Accept-Encoding
// weighs highest among those that exist (compress.ParseAccept's reading,
// ties to zstd, then br, then gzip); none for a range; anySibling whenever
// one exists.
func TestSibling(t *testing.T) {
	dir := t.TempDir()
	for name, siblings := range map[string][]string{
		"all.css": {".br", ".zst", ".gz"}, "brgz.css": {".br", ".gz"}, "gz.css": {".gz"}, "none.css": nil,
	} {
		os.WriteFile(filepath.Join(dir, name), []byte("plain"), 0o644)
		for _, ext := range siblings {
			os.WriteFile(filepath.Join(dir, name+ext), []byte(ext), 0o644)
		}
	}
	m, err := NewMount("/s", dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		accept []string
		ranged bool
		want   string // the coding served, "" for the plain file
	}{
		{"all.css", nil, false, ""},
		{"all.css", []string{""}, false, ""},
		{"all.css", []string{"identity"}, false, ""},
		{"all.css", []string{"gzip, deflate, br, zstd"}, false, "zstd"},
		{"all.css", []string{"*"}, false, "zstd"},
		{"all.css", []string{"br", "gzip"}, false, "br"},
		{"all.css", []string{"gzip"}, false, "gzip"},
		{"all.css", []string{"x-gzip"}, false, "gzip"},
		{"all.css", []string{"GZIP;q=0.5"}, false, "gzip"},
		{"all.css", []string{"br;q=0, gzip"}, false, "gzip"},
		{"all.css", []string{"gzip;q=1, br;q=0.5, zstd;q=0.4"}, false, "gzip"},
		{"all.css", []string{"br ; q=0.000"}, false, ""},
		{"all.css", []string{"*;q=0"}, false, ""},
		{"all.css", []string{"*, zstd;q=0"}, false, "br"},
		{"all.css", []string{"*, br;q=0"}, false, "zstd"},
		{"all.css", []string{"*;q=0, zstd"}, false, "zstd"},
		{"all.css", []string{"*, zstd;q=2"}, false, "br"}, // q > 1 is no qvalue: refused
		{"all.css", []string{"*"}, true, ""},
		{"brgz.css", []string{"*"}, false, "br"},
		{"brgz.css", []string{"zstd"}, false, ""},
		{"gz.css", []string{"br, zstd, gzip;q=0.1"}, false, "gzip"},
		{"none.css", []string{"*"}, false, ""},
	} {
		full := filepath.Join(dir, c.name)
		f, _, coding, any := m.sibling(full, "/"+c.name, c.accept, c.ranged)
		if f != nil {
			f.Close()
		}
		if coding != c.want || (f != nil) != (c.want != "") || any != (c.name != "none.css") {
			t.Errorf("%s, Accept-Encoding %q (ranged %v): coding %q, file %v, anySibling %v; want %q",
				c.name, c.accept, c.ranged, coding, f != nil, any, c.want)
		}
	}
}

func TestIsFingerprinted(t *testing.T) {
	for name, want := range map[string]bool{
		"app.3f2a9c1b.css":         true,
		"main-5d41402abc4b2a76.js": true,
		"app.3f2a9c1b12ab.min.css": true,
		"main-5d41402a.min.js":     true,
		"app.css":                  false,
		"3f2a9c1b.css":             false, // the whole stem: maybe just a name
		"app.3f2a9c1.css":          false, // 7 digits
		"app.3F2A9C1B.css":         false,
		"report-20240101.pdf":      false, // a date, not a hash
		"app.deadbeef.css":         false, // a word
		"jquery-3.6.0.min.js":      false,
		"main-5d41402abc4b2a76":    false, // no extension
		"-5d41402abc4b2a76.js":     false,
		"app.css.3f2a9c1b":         false, // the hash is the extension
	} {
		if got := isFingerprinted(name); got != want {
			t.Errorf("isFingerprinted(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHasDotSegment(t *testing.T) {
	for p, want := range map[string]bool{
		"/a/b.css":                  false,
		"/.env":                     true,
		"/.git/config":              true,
		"/a/.hidden/b":              true,
		"/a/..b":                    true,
		"/.well-known/acme":         false,
		"/.well-known/.secret":      true,
		"/a.b/c":                    false,
		"/":                         false,
		"/.well-known":              false,
		"/sub/.well-known.evil/x":   true,
		"/sub/.well-known/security": false,
	} {
		if got := hasDotSegment(p); got != want {
			t.Errorf("hasDotSegment(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestNewMount(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	m, err := NewMount("/static/", dir, Options{})
	if err != nil || m.Prefix != "/static" || m.Dir != dir {
		t.Fatalf("NewMount: %+v, %v", m, err)
	}
	if m, err := NewMount("/", dir, Options{}); err != nil || m.Prefix != "" {
		t.Fatalf("NewMount /: %+v, %v", m, err)
	}
	wd, _ := os.Getwd()
	rel, _ := filepath.Rel(wd, dir)
	if m, err := NewMount("/s", rel, Options{}); err != nil || m.Dir != dir {
		t.Fatalf("relative dir: %+v, %v", m, err)
	}
	for _, c := range []struct {
		prefix, dir string
		o           Options
		msg         string
	}{
		{"/s", filepath.Join(dir, "f"), Options{}, "is not a directory"},
		{"/s", filepath.Join(dir, "missing"), Options{}, "is not a directory"},
		{"/s", "", Options{}, "no directory"},
		{"s", dir, Options{}, "does not start with /"},
		{"/s", dir, Options{MaxAge: -time.Second}, "negative MaxAge"},
	} {
		if _, err := NewMount(c.prefix, c.dir, c.o); err == nil || !strings.HasPrefix(err.Error(), "static: ") || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("NewMount(%q, %q, %+v): %v, want %q", c.prefix, c.dir, c.o, err, c.msg)
		}
	}
	if _, err := ParseMount("/s=" + filepath.Join(dir, "f")); err == nil || !strings.Contains(err.Error(), "--static") {
		t.Errorf("ParseMount of a file: %v", err)
	}
}

// serve starts an http1 server that serves m and returns its base URL.
func serve(t *testing.T, m *Mount) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http1.Server{
		ErrorLog: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: http1.HandlerFunc(func(w *http1.ResponseWriter, r *http1.Request) {
			if rel, ok := m.Match(r.Path); ok {
				m.Serve(w, r, rel)
				return
			}
			w.WriteHeader(418, "Not Static", nil)
		}),
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return "http://" + ln.Addr().String()
}

func fetch(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestOptions: the defaults refuse dotfiles and links out of the directory;
// the Options let them through, and MaxAge sets Cache-Control.
func TestOptions(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("outside secret"), 0o644)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("DOTENV SECRET"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.css"), []byte("css"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.3f2a9c1b.css"), []byte("hashed"), 0o644)
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "out.txt")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(".env", filepath.Join(dir, "env.txt"))
	os.Symlink("app.css", filepath.Join(dir, "alias.css"))

	def, _ := NewMount("/", dir, Options{})
	u := serve(t, def)
	for _, p := range []string{"/.env", "/out.txt", "/env.txt"} {
		if resp, body := fetch(t, u+p); resp.StatusCode != 404 || strings.Contains(body, "SECRET") || strings.Contains(body, "secret") {
			t.Errorf("default %s: %d %q", p, resp.StatusCode, body)
		}
	}
	if resp, body := fetch(t, u+"/alias.css"); resp.StatusCode != 200 || body != "css" || resp.Header.Get("Cache-Control") != "" {
		t.Errorf("link inside the directory: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := fetch(t, u+"/app.3f2a9c1b.css"); resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("fingerprinted: %v", resp.Header)
	}

	dots, _ := NewMount("/", dir, Options{AllowDotfiles: true})
	u = serve(t, dots)
	if resp, body := fetch(t, u+"/.env"); resp.StatusCode != 200 || body != "DOTENV SECRET" {
		t.Errorf("AllowDotfiles /.env: %d %q", resp.StatusCode, body)
	}
	if resp, body := fetch(t, u+"/env.txt"); resp.StatusCode != 200 || body != "DOTENV SECRET" {
		t.Errorf("AllowDotfiles /env.txt: %d %q", resp.StatusCode, body)
	}
	if resp, _ := fetch(t, u+"/out.txt"); resp.StatusCode != 404 {
		t.Errorf("AllowDotfiles /out.txt: %d", resp.StatusCode)
	}

	links, _ := NewMount("/", dir, Options{FollowSymlinks: true, MaxAge: 90 * time.Second})
	u = serve(t, links)
	if resp, body := fetch(t, u+"/out.txt"); resp.StatusCode != 200 || body != "outside secret" || resp.Header.Get("Cache-Control") != "public, max-age=90" {
		t.Errorf("FollowSymlinks /out.txt: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	for _, p := range []string{"/.env", "/env.txt"} {
		if resp, _ := fetch(t, u+p); resp.StatusCode != 404 {
			t.Errorf("FollowSymlinks %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := fetch(t, u+"/app.3f2a9c1b.css"); resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("fingerprinted with MaxAge: %v", resp.Header)
	}
	resp, _ := fetch(t, u+"/app.css", "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	if resp.StatusCode != 304 || resp.Header.Get("Cache-Control") != "public, max-age=90" {
		t.Errorf("304 without Cache-Control: %d %v", resp.StatusCode, resp.Header)
	}

	both, _ := NewMount("/", dir, Options{FollowSymlinks: true, AllowDotfiles: true})
	u = serve(t, both)
	for p, want := range map[string]string{"/out.txt": "outside secret", "/env.txt": "DOTENV SECRET", "/.env": "DOTENV SECRET"} {
		if resp, body := fetch(t, u+p); resp.StatusCode != 200 || body != want {
			t.Errorf("both %s: %d %q", p, resp.StatusCode, body)
		}
	}
}

// TestMovedDirectoryLink: a mount whose directory is a link that is later
// switched to another directory (a deploy's "current" link) serves the new
// target's files, including through links inside it.
func TestMovedDirectoryLink(t *testing.T) {
	base := t.TempDir()
	for _, rel := range []string{"r1", "r2"} {
		os.Mkdir(filepath.Join(base, rel), 0o755)
		os.WriteFile(filepath.Join(base, rel, "v.txt"), []byte(rel), 0o644)
		os.Symlink("v.txt", filepath.Join(base, rel, "link.txt"))
	}
	cur := filepath.Join(base, "current")
	os.Symlink("r1", cur)
	m, err := NewMount("/", cur, Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := serve(t, m)
	if _, body := fetch(t, u+"/link.txt"); body != "r1" {
		t.Fatalf("before: %q", body)
	}
	os.Remove(cur)
	os.Symlink("r2", cur)
	for _, p := range []string{"/v.txt", "/link.txt"} {
		if resp, body := fetch(t, u+p); resp.StatusCode != 200 || body != "r2" {
			t.Errorf("after the switch %s: %d %q", p, resp.StatusCode, body)
		}
	}
}
