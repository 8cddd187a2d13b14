package front

import (
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/internal/compress"
	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// compression decides, for a response head the application gave, whether
// to compress its body on the fly (Handler.Compress), as
// compress.Choose says: by the request's Accept-Encoding, never for HEAD,
// ranges, 204/206/304, bodies already encoded, tiny bodies (a known length
// under compress.MinLength) or types that do not compress. It returns the
// fields to send (Content-Encoding added, Content-Length dropped, a strong
// ETag made weak, Vary: Accept-Encoding added whenever the answer depended
// on it) and the encoding. Both engines go through it, in relay.
//
// An encoding is chosen only when lim has room for its encoder (Reserve);
// otherwise the response goes uncompressed. The compressWriter gives the
// room back.
func compression(r *request, fields []http1.Field, code int, resp *workers.Response, lim *compress.Limiter) ([]http1.Field, compress.Encoding, int64) {
	ctype, cenc := "", ""
	clen := int64(-1)
	for _, f := range fields {
		switch {
		case strings.EqualFold(f.Name, "Content-Type"):
			ctype = f.Value
		case strings.EqualFold(f.Name, "Content-Encoding"):
			cenc = f.Value
		case strings.EqualFold(f.Name, "Content-Length"):
			clen, _ = strconv.ParseInt(f.Value, 10, 64)
		}
	}
	known := clen
	switch {
	case known >= 0:
	case resp.File != nil:
		known = resp.FileLength
	case resp.Complete && r.Method != "HEAD": // HEAD's body is not made: its GET's length is unknown
		known = int64(len(resp.Body))
	}
	var accept []string
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, "Accept-Encoding") {
			accept = append(accept, f.Value)
		}
	}
	e := compress.Choose(strings.Join(accept, ","), ctype, cenc, known, code, r.Method == "HEAD", hasField(r.Header, "Range"))
	if compress.Vary(ctype, cenc, known, code) {
		fields = addVary(fields)
	}
	if e == compress.None || !lim.Reserve(e) {
		return fields, compress.None, -1
	}
	out := fields[:0]
	for _, f := range fields {
		switch {
		case strings.EqualFold(f.Name, "Content-Length"):
			continue // the compressed length is not known yet
		case strings.EqualFold(f.Name, "ETag") && !strings.HasPrefix(f.Value, "W/"):
			f.Value = "W/" + f.Value // the bytes differ from the identity body's
		}
		out = append(out, f)
	}
	return append(out, http1.Field{Name: "Content-Encoding", Value: e.Token()}), e, clen
}

// addVary adds Accept-Encoding to the response's Vary, unless it is there
// (or Vary is "*").
func addVary(fields []http1.Field) []http1.Field {
	for i, f := range fields {
		if !strings.EqualFold(f.Name, "Vary") {
			continue
		}
		for _, v := range strings.Split(f.Value, ",") {
			if v = strings.TrimSpace(v); v == "*" || strings.EqualFold(v, "Accept-Encoding") {
				return fields
			}
		}
		fields[i].Value += ", Accept-Encoding"
		return fields
	}
	return append(fields, http1.Field{Name: "Vary", Value: "Accept-Encoding"})
}

// compressWriter compresses the body written to it onto an engine's
// responseWriter. The application's Content-Length still bounds what is
// taken from it; a body shorter than it is cut off (Abort) instead of
// finished, as the engines do without compression.
//
// Its encoder's room in the Limiter is held until the stream is finished,
// aborted or, whatever happened, release is called (relay defers it).
type compressWriter struct {
	responseWriter
	enc     *compress.Writer
	e       compress.Encoding
	lim     *compress.Limiter
	limit   int64 // the application's Content-Length, or -1
	in      int64
	aborted bool
	done    bool // the encoder is back in its pool, its room released
}

func newCompressWriter(w responseWriter, e compress.Encoding, limit int64, lim *compress.Limiter) *compressWriter {
	cw := &compressWriter{responseWriter: w, limit: limit, e: e, lim: lim}
	cw.enc = compress.NewWriter(rawWriter{w}, e).(*compress.Writer)
	return cw
}

// release gives the encoder and its room back, writing nothing more.
func (c *compressWriter) release() {
	if c.done {
		return
	}
	c.done = true
	c.enc.Abandon()
	c.lim.Release(c.e)
}

// rawWriter is the engine's Write, under the compressor.
type rawWriter struct{ w responseWriter }

func (r rawWriter) Write(p []byte) (int, error) { return r.w.Write(p) }

func (c *compressWriter) Write(p []byte) (int, error) {
	n := len(p)
	if c.limit >= 0 && int64(len(p)) > c.limit-c.in {
		p = p[:c.limit-c.in]
	}
	c.in += int64(len(p))
	if len(p) == 0 {
		return n, nil
	}
	if _, err := c.enc.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

func (c *compressWriter) Flush() error {
	if err := c.enc.Flush(); err != nil {
		return err
	}
	return c.responseWriter.Flush()
}

func (c *compressWriter) Finish() error {
	if err := c.close(); err != nil || c.aborted {
		return err
	}
	return c.responseWriter.Finish()
}

// FinishTrailers ends the compressed body, then the response with its
// trailers.
func (c *compressWriter) FinishTrailers(trailer []http1.Field) error {
	if err := c.close(); err != nil || c.aborted {
		return err
	}
	return c.responseWriter.FinishTrailers(trailer)
}

// close writes the end of the compressed body.
func (c *compressWriter) close() error {
	if c.aborted {
		return nil
	}
	if c.limit >= 0 && c.in < c.limit {
		c.Abort() // shorter than the app said: the client must see it cut
		return nil
	}
	err := c.enc.Close()
	c.release()
	return err
}

func (c *compressWriter) SendFile(f *os.File, n int64) (int64, error) {
	return io.Copy(writerOnly{c}, io.LimitReader(f, n))
}

func (c *compressWriter) Abort() {
	c.aborted = true
	c.responseWriter.Abort()
	c.release()
}

// writerOnly hides everything but Write from io.Copy.
type writerOnly struct{ io.Writer }
