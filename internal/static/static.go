// Package static serves files from directories straight from the Go front
// (--static /static=DIR), so collected assets never occupy a Python thread.
//
// The HTTP semantics — conditional requests, ranges, content types, HEAD —
// come from net/http's ServeContent, bridged onto the http1 engine; a whole
// file goes out with sendfile(2).
package static

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// Mount maps a URL prefix to a directory.
type Mount struct {
	Prefix string // "/static", no trailing slash
	Dir    string // absolute directory
	files  http.FileSystem
}

// ParseMount reads "/URL-PREFIX=DIR".
func ParseMount(s string) (*Mount, error) {
	prefix, dir, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(prefix, "/") || dir == "" {
		return nil, fmt.Errorf("--static %q: expected /URL-PREFIX=DIRECTORY, e.g. /static=./staticfiles", s)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--static %q: %s is not a directory", s, dir)
	}
	return &Mount{Prefix: strings.TrimRight(prefix, "/"), Dir: abs, files: filesOnly{http.Dir(abs)}}, nil
}

// Match returns the part of path (percent-decoded) under the mount, and
// whether path is under it at all.
func (m *Mount) Match(path string) (string, bool) {
	if m.Prefix == "" {
		return path, true
	}
	rest, ok := strings.CutPrefix(path, m.Prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", false
	}
	if rest == "" {
		rest = "/"
	}
	return rest, true
}

// Serve answers r with the file at rel (a path under the mount).
func (m *Mount) Serve(w *http1.ResponseWriter, r *http1.Request, rel string) {
	if r.Method != "GET" && r.Method != "HEAD" {
		msg := "405 Method Not Allowed\n"
		w.WriteHeader(405, "Method Not Allowed", []http1.Field{
			{Name: "Allow", Value: "GET, HEAD"},
			{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
			{Name: "Content-Length", Value: fmt.Sprint(len(msg))},
		})
		w.Write([]byte(msg))
		w.Finish()
		return
	}
	req := &http.Request{
		Method:     r.Method,
		URL:        &url.URL{Path: rel, RawQuery: r.RawQuery},
		Proto:      r.Proto(),
		ProtoMajor: 1,
		ProtoMinor: r.ProtoMinor,
		Header:     http.Header{},
		Host:       r.Host,
		RequestURI: r.Target,
	}
	for _, f := range r.Header {
		req.Header.Add(f.Name, f.Value)
	}
	sw := &stdWriter{w: w, h: http.Header{}}
	f, err := m.files.Open(path.Clean("/" + rel))
	if err != nil {
		msg := "404 Not Found\n"
		w.WriteHeader(404, "Not Found", []http1.Field{
			{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
			{Name: "Content-Length", Value: fmt.Sprint(len(msg))},
		})
		w.Write([]byte(msg))
		w.Finish()
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		w.Abort()
		return
	}
	// ServeContent does conditional requests, ranges and the content type.
	http.ServeContent(sw, req, fi.Name(), fi.ModTime(), f)
	if !sw.wrote {
		sw.WriteHeader(200)
	}
	w.Finish()
}

// filesOnly hides directories (no listings). http.Dir already keeps names
// inside the root ("/../x" is cleaned to "/x").
type filesOnly struct{ fs http.FileSystem }

func (f filesOnly) Open(name string) (http.File, error) {
	file, err := f.fs.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := file.Stat(); err != nil || fi.IsDir() {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}

// stdWriter lets a net/http handler write to an http1 response.
type stdWriter struct {
	w     *http1.ResponseWriter
	h     http.Header
	wrote bool
}

func (s *stdWriter) Header() http.Header { return s.h }

func (s *stdWriter) WriteHeader(code int) {
	if s.wrote {
		return
	}
	s.wrote = true
	names := make([]string, 0, len(s.h))
	for k := range s.h {
		names = append(names, k)
	}
	sort.Strings(names)
	var fields []http1.Field
	for _, k := range names {
		for _, v := range s.h[k] {
			fields = append(fields, http1.Field{Name: k, Value: v})
		}
	}
	s.w.WriteHeader(code, http.StatusText(code), fields)
}

func (s *stdWriter) Write(p []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(200)
	}
	return s.w.Write(p)
}

// ReadFrom sends a whole file with sendfile; ranges and other readers are
// copied.
func (s *stdWriter) ReadFrom(r io.Reader) (int64, error) {
	if !s.wrote {
		s.WriteHeader(200)
	}
	if lr, ok := r.(*io.LimitedReader); ok {
		if f, ok := lr.R.(*os.File); ok {
			n, err := s.w.SendFile(f, lr.N)
			lr.N -= n
			return n, err
		}
	}
	return io.Copy(writerOnly{s}, r)
}

// writerOnly hides ReadFrom so io.Copy does not recurse into it.
type writerOnly struct{ io.Writer }
