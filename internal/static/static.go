// Package static serves files from directories straight from the Go front
// (--static /static=DIR), so collected assets never occupy a Python thread.
//
// The HTTP semantics — conditional requests, content types, HEAD — come from
// net/http's ServeContent, bridged onto the http1 engine; a whole file, or a
// single range of one, goes out with sendfile(2).
//
// # What is served
//
// Only regular files under the mount's directory: no listings, no devices or
// FIFOs, and, unless the Options say otherwise, nothing whose real path (all
// symbolic links resolved) lies outside the directory, and no path with a
// segment starting with '.' (.git, .env, .htpasswd) before or after the
// links are resolved. The one dot segment let through is ".well-known"
// (RFC 8615), which exists to be served; dotfiles inside it are still
// refused. A refused file is answered 404, like a missing one, so that a
// client cannot tell which names exist.
//
// # Ranges
//
// Range requests follow RFC 9110 §14, which ServeContent alone does not:
// the Range header is checked and rewritten before ServeContent sees it.
// Only GET honours it (RFC 9110 §14.2; HEAD ignores it); a unit other than
// bytes, or a malformed byte-range set, is ignored (200 with the whole
// file). Overlapping and adjacent ranges are merged and ranges past the end
// dropped; one range left gives 206, several give a multipart/byteranges
// 206, more than 16 (after merging) give 416, and so does a set with no
// satisfiable range ("bytes=-0", a first position at or past the end), with
// "Content-Range: bytes */SIZE". An empty file is always served whole.
// If-Range and the other conditional headers keep ServeContent's meaning,
// evaluated in RFC 9110 §13.2.2 order (a 304 or 412 wins over a 416).
//
// # Precompressed files
//
// For a GET or HEAD of FILE (which must exist itself) without a Range
// header, when FILE.br, FILE.zst or FILE.gz exists (a regular file that
// passes the same checks) and the client's Accept-Encoding allows that
// coding (q > 0, by name or by "*"), the sibling's bytes are served (the
// one weighed highest; ties go to zstd, then br, then gzip, as
// compress.ParseAccept reads the field for on-the-fly compression too), with
// "Content-Encoding", the Content-Type of FILE and the sibling's own
// Last-Modified and length. With a Range header the plain file is served, so
// that ranges always count bytes of the one identity representation (nginx's
// gzip_static would serve ranges of the compressed bytes instead). Whenever
// a sibling exists, every answer for FILE carries "Vary: Accept-Encoding".
//
// # Caching
//
// With Options.MaxAge > 0, answers carry "Cache-Control: public,
// max-age=N". A fingerprinted name — a dot-separated segment of 8 or more
// lower-case hex digits that is neither the first nor the last segment
// ("app.3f2a9c1b.css"), or a segment ending in "-" and 8 or more such digits
// before the extension ("main-5d41402abc4b2a76.js"), in both cases with at
// least one digit and one letter so that dates and words do not count — is
// taken to change name whenever its content changes, and gets
// "Cache-Control: public, max-age=31536000, immutable" whatever MaxAge says.
package static

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/internal/compress"
	"github.com/gowsgi/gowsgi/internal/http1"
)

// Options adjust what a Mount serves. The zero value is the safe default.
type Options struct {
	// AllowDotfiles serves paths with segments starting with '.'. By
	// default they are answered 404: a collected static directory may
	// still hold a .git, an .env or an editor's backup.
	AllowDotfiles bool

	// FollowSymlinks serves files reached through symbolic links that lead
	// out of the mount's directory. By default a file whose real path is
	// outside the directory is answered 404, so that a stray link (or one
	// planted by an upload) cannot publish /etc or the application's
	// settings.
	FollowSymlinks bool

	// MaxAge, when positive, adds "Cache-Control: public, max-age=N" (N in
	// whole seconds) to the answers. Fingerprinted names are cached for a
	// year whatever MaxAge says; see the package documentation.
	MaxAge time.Duration
}

// Mount maps a URL prefix to a directory.
type Mount struct {
	Prefix string // "/static", no trailing slash ("" for "/")
	Dir    string // absolute directory

	opts         Options
	cacheControl string                 // from MaxAge; "" for none
	realDir      atomic.Pointer[string] // Dir with every link resolved
}

// immutable is the Cache-Control of fingerprinted names.
const immutable = "public, max-age=31536000, immutable"

// maxRanges is the most ranges, after merging, that one request may ask
// for; more get 416.
const maxRanges = 16

// NewMount returns a mount that serves the files under dir at the URL path
// prefix (e.g. "/static"; trailing slashes are dropped, and "/" serves
// every path). dir may be relative to the working directory; it must be a
// directory.
func NewMount(prefix, dir string, o Options) (*Mount, error) {
	m, err := newMount(prefix, dir, o)
	if err != nil {
		return nil, fmt.Errorf("static: %v", err)
	}
	return m, nil
}

func newMount(prefix, dir string, o Options) (*Mount, error) {
	if !strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("URL prefix %q does not start with /", prefix)
	}
	if dir == "" {
		return nil, errors.New("no directory")
	}
	if o.MaxAge < 0 {
		return nil, fmt.Errorf("negative MaxAge %v", o.MaxAge)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	m := &Mount{Prefix: strings.TrimRight(prefix, "/"), Dir: abs, opts: o}
	m.realDir.Store(&real)
	if o.MaxAge > 0 {
		m.cacheControl = "public, max-age=" + strconv.FormatInt(int64(o.MaxAge/time.Second), 10)
	}
	return m, nil
}

// ParseMount reads "/URL-PREFIX=DIR" (the --static flag) into a mount with
// the default Options.
func ParseMount(s string) (*Mount, error) {
	prefix, dir, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(prefix, "/") || dir == "" {
		return nil, fmt.Errorf("--static %q: expected /URL-PREFIX=DIRECTORY, e.g. /static=./staticfiles", s)
	}
	m, err := newMount(prefix, dir, Options{})
	if err != nil {
		return nil, fmt.Errorf("--static %q: %v", s, err)
	}
	return m, nil
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
func (m *Mount) Serve(w ResponseWriter, r *http1.Request, rel string) {
	if r.Method != "GET" && r.Method != "HEAD" {
		plain(w, 405, "Method Not Allowed", http1.Field{Name: "Allow", Value: "GET, HEAD"})
		return
	}
	name := path.Clean("/" + rel)
	if !m.opts.AllowDotfiles && hasDotSegment(name) {
		notFound(w)
		return
	}
	full := filepath.Join(m.Dir, filepath.FromSlash(name))
	f, fi, ok := m.open(full, name)
	if !ok {
		notFound(w)
		return
	}
	defer f.Close()

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
	h := sw.h
	if isFingerprinted(path.Base(name)) {
		h.Set("Cache-Control", immutable)
	} else if m.cacheControl != "" {
		h.Set("Cache-Control", m.cacheControl)
	}

	// A precompressed sibling, unless ranges are asked for.
	ranged := r.Method == "GET" && len(req.Header.Values("Range")) > 0
	content, modtime := f, fi.ModTime()
	sib, sibInfo, enc, anySibling := m.sibling(full, name, req.Header.Values("Accept-Encoding"), ranged)
	if anySibling {
		h.Set("Vary", "Accept-Encoding")
	}
	if sib != nil {
		defer sib.Close()
		ctype := mime.TypeByExtension(filepath.Ext(name))
		if ctype == "" {
			var buf [512]byte
			n, _ := f.ReadAt(buf[:], 0)
			ctype = http.DetectContentType(buf[:n])
		}
		h.Set("Content-Type", ctype)
		sw.encoding = enc
		content, modtime, fi = sib, sibInfo.ModTime(), sibInfo
	}

	if r.Method != "GET" {
		req.Header.Del("Range") // RFC 9110 §14.2: defined for GET only
	} else if ranged {
		if v, ok := checkRange(req.Header.Values("Range"), fi.Size()); ok {
			req.Header.Set("Range", v)
		} else {
			req.Header.Del("Range")
		}
	}
	// ServeContent does conditional requests, If-Range, the (now checked)
	// ranges and the content type.
	http.ServeContent(sw, req, fi.Name(), modtime, content)
	if !sw.wrote {
		sw.WriteHeader(200)
	}
	w.Finish()
}

func plain(w ResponseWriter, status int, reason string, extra ...http1.Field) {
	msg := strconv.Itoa(status) + " " + reason + "\n"
	fields := append(extra,
		http1.Field{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
		http1.Field{Name: "Content-Length", Value: strconv.Itoa(len(msg))})
	w.WriteHeader(status, reason, fields)
	w.Write([]byte(msg))
	w.Finish()
}

func notFound(w ResponseWriter) { plain(w, 404, "Not Found") }

// hasDotSegment reports whether the slash-separated path p has a segment
// starting with '.', other than ".well-known".
func hasDotSegment(p string) bool {
	for p != "" {
		var seg string
		seg, p, _ = strings.Cut(p, "/")
		if seg != "" && seg[0] == '.' && seg != ".well-known" {
			return true
		}
	}
	return false
}

// open opens the regular file full (the mount's Dir joined with the cleaned
// URL path name) after the checks of the package documentation.
func (m *Mount) open(full, name string) (*os.File, os.FileInfo, bool) {
	p, ok := m.resolve(full, name)
	if !ok {
		return nil, nil, false
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, false
	}
	return f, fi, true
}

// resolve returns the path to open for full, or false when full is missing,
// not a regular file, or refused. Without a symbolic link below Dir (the
// common case) it costs one lstat per path segment; with one, the real path
// is checked against the real directory and for dot segments.
func (m *Mount) resolve(full, name string) (string, bool) {
	link := false
	p := m.Dir
	rest := name[1:]
	for rest != "" {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		p += string(filepath.Separator) + seg
		fi, err := os.Lstat(p)
		if err != nil {
			return "", false
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			link = true
			break
		}
		if rest == "" && !fi.Mode().IsRegular() {
			return "", false // a directory, FIFO or device: never opened
		}
	}
	if !link {
		return full, true
	}
	if m.opts.FollowSymlinks && m.opts.AllowDotfiles {
		return full, isRegular(full)
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", false
	}
	relReal, inside := m.inside(real)
	if !inside && !m.opts.FollowSymlinks {
		return "", false
	}
	if !m.opts.AllowDotfiles {
		if inside && hasDotSegment(filepath.ToSlash(relReal)) ||
			!inside && strings.HasPrefix(filepath.Base(real), ".") {
			return "", false
		}
	}
	return real, isRegular(real)
}

// inside reports whether the real path p lies under the mount's real
// directory, and returns the part below it. When it does not, Dir is
// resolved again in case its links changed since (a deploy switching a
// "current" link to a new release).
func (m *Mount) inside(p string) (string, bool) {
	for try := 0; try < 2; try++ {
		root := *m.realDir.Load()
		if rel, ok := under(root, p); ok {
			return rel, true
		}
		if try == 0 {
			now, err := filepath.EvalSymlinks(m.Dir)
			if err != nil || now == root {
				break
			}
			m.realDir.Store(&now)
		}
	}
	return "", false
}

// under reports whether p is root or below it, with the rest of p.
func under(root, p string) (string, bool) {
	if p == root {
		return "", true
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	rest, ok := strings.CutPrefix(p, prefix)
	return rest, ok
}

func isRegular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// codings are the precompressed siblings looked for.
var codings = [...]struct {
	enc compress.Encoding
	ext string
}{
	{compress.Zstd, ".zst"},
	{compress.Brotli, ".br"},
	{compress.Gzip, ".gz"},
}

// sibling opens the precompressed sibling of full to serve, if any: of the
// siblings that exist, the one acceptEncoding weighs highest (q > 0, ties
// broken by compress.Preference), none when ranged. anySibling reports
// whether one exists at all (for Vary).
func (m *Mount) sibling(full, name string, acceptEncoding []string, ranged bool) (f *os.File, fi os.FileInfo, coding string, anySibling bool) {
	var accept compress.Accept // the zero value accepts nothing
	if !ranged {
		accept = compress.ParseAccept(acceptEncoding...)
	}
	var present [compress.Brotli + 1]bool
	for _, c := range codings {
		if _, err := os.Lstat(full + c.ext); err == nil { // the common case: one failed lstat per coding
			present[c.enc] = true
		}
	}
	for {
		e := accept.Best(func(e compress.Encoding) bool { return present[e] })
		if e == compress.None {
			break
		}
		present[e] = false
		ext := extOf(e)
		if f, fi, ok := m.open(full+ext, name+ext); ok {
			return f, fi, e.Token(), true
		}
	}
	for _, c := range codings {
		if present[c.enc] && accept.Weight(c.enc) == 0 {
			if _, ok := m.resolve(full+c.ext, name+c.ext); ok {
				anySibling = true
			}
		}
	}
	return nil, nil, "", anySibling
}

// extOf is the file name extension of e's siblings.
func extOf(e compress.Encoding) string {
	for _, c := range codings {
		if c.enc == e {
			return c.ext
		}
	}
	return ""
}

// isFingerprinted reports whether a file name carries a content hash; see
// the package documentation.
func isFingerprinted(base string) bool {
	segs := strings.Split(base, ".")
	if len(segs) < 2 {
		return false
	}
	for i, s := range segs[:len(segs)-1] {
		if i > 0 && isHash(s) {
			return true // app.3f2a9c1b.css
		}
		if k := strings.LastIndexByte(s, '-'); k > 0 && isHash(s[k+1:]) {
			return true // main-5d41402abc4b2a76.js
		}
	}
	return false
}

// isHash reports whether s is 8 or more lower-case hex digits with at least
// one decimal digit and one letter.
func isHash(s string) bool {
	if len(s) < 8 {
		return false
	}
	digit, letter := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'f':
			letter = true
		default:
			return false
		}
	}
	return digit && letter
}

type byteRange struct{ first, last int64 } // inclusive

// checkRange checks the Range field values of a GET for a representation of
// size bytes and returns the Range value to hand to ServeContent, or false
// to ignore the field (serve the whole file). Unsatisfiable sets, and sets
// of more than maxRanges after merging, become "bytes=SIZE-", which
// ServeContent answers with 416 and "Content-Range: bytes */SIZE" once the
// preconditions and If-Range have had their say.
func checkRange(values []string, size int64) (string, bool) {
	if len(values) != 1 || size == 0 {
		// Several Range fields are malformed; an empty file has no range
		// to send (ServeContent, too, serves it whole).
		return "", false
	}
	unit, set, ok := strings.Cut(values[0], "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return "", false // RFC 9110 §14.2: an unknown unit is ignored
	}
	var rs []byteRange
	specs := 0
	for _, spec := range strings.Split(set, ",") {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue // RFC 9110 §5.6.1: empty list elements
		}
		specs++
		a, b, ok := strings.Cut(spec, "-")
		if !ok {
			return "", false
		}
		if a == "" { // suffix-range: the last b bytes
			n, ok := digits(b)
			if !ok {
				return "", false
			}
			if n > 0 {
				rs = append(rs, byteRange{max(0, size-n), size - 1})
			}
			continue
		}
		first, ok := digits(a)
		if !ok {
			return "", false
		}
		last := int64(-1)
		if b != "" {
			if last, ok = digits(b); !ok || last < first {
				return "", false
			}
		}
		if first >= size {
			continue // unsatisfiable
		}
		if last < 0 || last >= size {
			last = size - 1
		}
		rs = append(rs, byteRange{first, last})
	}
	if specs == 0 {
		return "", false
	}
	unsatisfiable := "bytes=" + strconv.FormatInt(size, 10) + "-"
	if len(rs) == 0 {
		return unsatisfiable, true
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].first < rs[j].first })
	merged := rs[:1]
	for _, r := range rs[1:] {
		cur := &merged[len(merged)-1]
		if r.first <= cur.last+1 {
			cur.last = max(cur.last, r.last)
		} else {
			merged = append(merged, r)
		}
	}
	if len(merged) > maxRanges {
		return unsatisfiable, true
	}
	var sb strings.Builder
	sb.WriteString("bytes=")
	for i, r := range merged {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatInt(r.first, 10))
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatInt(r.last, 10))
	}
	return sb.String(), true
}

// digits parses 1*DIGIT into an int64.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// ResponseWriter is what Serve needs of a response: the http1 engine's
// *http1.ResponseWriter, or the front's adapter over an HTTP/2 stream.
type ResponseWriter interface {
	WriteHeader(status int, reason string, header []http1.Field)
	Write(p []byte) (int, error)
	SendFile(f *os.File, n int64) (int64, error)
	Finish() error
}

// stdWriter lets a net/http handler write to an http1 response.
type stdWriter struct {
	w        ResponseWriter
	h        http.Header
	encoding string // Content-Encoding of a precompressed sibling, for a 200
	wrote    bool
}

func (s *stdWriter) Header() http.Header { return s.h }

func (s *stdWriter) WriteHeader(code int) {
	if s.wrote {
		return
	}
	s.wrote = true
	if s.encoding != "" && code == 200 {
		// Set here, not before ServeContent, which leaves Content-Length
		// out when it sees a Content-Encoding.
		s.h.Set("Content-Encoding", s.encoding)
	}
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

// ReadFrom sends a whole file, or a single range, with sendfile; other
// readers (multipart ranges) are copied.
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
