// Package compress decides whether a response is worth compressing on the
// fly, and with which content coding, and provides pooled encoders for the
// codings it chooses: zstd and gzip from github.com/klauspost/compress,
// brotli from github.com/andybalholm/brotli.
//
// It knows nothing of the HTTP engine: the caller passes the request's
// Accept-Encoding and the response's head to Choose, and, when it gets an
// encoding back, sets "Content-Encoding: <Encoding.Token>", adds
// "Vary: Accept-Encoding", drops the Content-Length (the compressed length
// is not known up front) and writes the body through NewWriter. A response
// Choose turns down for a reason that depends on the request
// (Accept-Encoding) should still carry "Vary: Accept-Encoding"; see Vary.
package compress

import (
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// An Encoding is a content coding (RFC 9110 §8.4.1).
type Encoding int

const (
	None   Encoding = iota // identity: send the body as it is
	Gzip                   // gzip
	Zstd                   // zstd (RFC 8878)
	Brotli                 // br (RFC 7932)
)

// Token returns the coding's name for Content-Encoding: "gzip", "zstd",
// "br", or "" for None.
func (e Encoding) Token() string {
	switch e {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Brotli:
		return "br"
	}
	return ""
}

func (e Encoding) String() string {
	if e == None {
		return "identity"
	}
	return e.Token()
}

// MinLength is the smallest body, in bytes, worth compressing when its
// length is known: below it the coding's framing and the CPU cost outweigh
// the bytes saved.
const MinLength = 1024

// Levels used on the fly: each close to its library's best speed per byte
// saved, since the server pays for every response.
const (
	gzipLevel   = 5
	brotliLevel = 4
	// zstdWindow bounds the zstd window (and so the encoder's memory).
	// RFC 9659 requires at most 8 MiB for the zstd content coding; a
	// smaller window costs web-sized bodies almost nothing.
	zstdWindow = 1 << 20
	// brotliLGWin is brotli's window, as log2 bytes: 1 MiB, like zstd's.
	brotliLGWin = 20
)

// Choose returns the encoding to compress a response with, or None:
//
//   - None for a HEAD request, a response to a request with a Range header
//     (hasRange: ranges count bytes of the identity representation), a
//     status without a body or with partial content (1xx, 204, 206, 304),
//     a response that already has a Content-Encoding other than identity,
//     a body known (contentLength >= 0) to be shorter than MinLength, and a
//     content type that does not compress well (see Compressible);
//   - otherwise the coding acceptEncoding (the request's Accept-Encoding
//     values, joined with commas) weighs highest, by name or through "*",
//     with q > 0; ties go to zstd, then br, then gzip. No Accept-Encoding
//     at all means None: RFC 9110 lets a server pick any coding then, but
//     clients that send none are typically tools that cannot decode.
//
// contentLength is -1 when unknown (a streamed body).
func Choose(acceptEncoding, contentType, contentEncoding string, contentLength int64, status int, isHead bool, hasRange bool) Encoding {
	switch {
	case isHead, hasRange:
		return None
	case status < 200, status == 204, status == 206, status == 304:
		return None
	case contentEncoding != "" && !strings.EqualFold(strings.TrimSpace(contentEncoding), "identity"):
		return None
	case contentLength >= 0 && contentLength < MinLength:
		return None
	case !Compressible(contentType):
		return None
	}
	return Negotiate(acceptEncoding)
}

// Vary reports whether a response for which Choose was asked should carry
// "Vary: Accept-Encoding": whenever its answer depended on the request's
// Accept-Encoding, that is when everything but Accept-Encoding allowed
// compression. (Range, too, is request-dependent; a cache stores 206
// answers by range anyway.)
func Vary(contentType, contentEncoding string, contentLength int64, status int) bool {
	return Choose("*", contentType, contentEncoding, contentLength, status, false, false) != None
}

// Negotiate returns the coding an Accept-Encoding value (several field
// values joined with commas) prefers among those this package provides:
// the highest weight above zero, by name or through "*", ties broken by
// Preference (see ParseAccept). An empty value gives None.
func Negotiate(acceptEncoding string) Encoding {
	return ParseAccept(acceptEncoding).Best(nil)
}

// Compressible reports whether a body of the given Content-Type is worth
// compressing: text (but not text/event-stream, which must reach the client
// event by event), JSON, JavaScript, XML, SVG, WebAssembly and a few other
// uncompressed formats. Images, audio, video, fonts in WOFF, archives and
// anything unknown are left alone: they are compressed already, or might
// be.
func Compressible(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.Trim(mt, " \t"))
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || sub == "" {
		return false
	}
	switch typ {
	case "text":
		return sub != "event-stream"
	case "application":
		switch sub {
		case "json", "javascript", "x-javascript", "ecmascript", "xml", "wasm",
			"x-www-form-urlencoded", "graphql", "x-ndjson", "ndjson",
			"vnd.ms-fontobject", "x-font-ttf", "x-sh", "x-tar", "rtf",
			"postscript", "x-yaml", "yaml", "toml":
			return true
		}
		return strings.HasSuffix(sub, "+json") || strings.HasSuffix(sub, "+xml")
	case "image":
		return sub == "svg+xml" || sub == "x-icon" || sub == "vnd.microsoft.icon" || sub == "bmp"
	case "font":
		return sub == "ttf" || sub == "otf"
	}
	return false
}

// A Writer compresses what is written to it onto the underlying writer. It
// is what NewWriter returns for an encoding other than None.
type Writer struct {
	e      Encoding
	enc    encoder
	closed bool
}

// encoder is what the three libraries' writers have in common.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
}

var errClosed = errors.New("compress: write after Close")

var (
	gzipPool   sync.Pool // *gzip.Writer
	zstdPool   sync.Pool // *zstd.Encoder
	brotliPool sync.Pool // *brotli.Writer
)

// NewWriter returns a writer that compresses with e onto w; for None it
// returns a writer that passes bytes through and whose Close does nothing.
// The caller must Close it to finish the compressed stream (Close does not
// close w); the encoder then goes back to a pool for the next response.
// For e other than None the result is a *Writer, which can also Flush.
func NewWriter(w io.Writer, e Encoding) io.WriteCloser {
	var enc encoder
	switch e {
	case Gzip:
		if z, ok := gzipPool.Get().(*gzip.Writer); ok {
			z.Reset(w)
			enc = z
		} else {
			z, _ := gzip.NewWriterLevel(w, gzipLevel) // a valid level: no error
			enc = z
		}
	case Zstd:
		if z, ok := zstdPool.Get().(*zstd.Encoder); ok {
			z.Reset(w)
			enc = z
		} else {
			z, err := zstd.NewWriter(w,
				zstd.WithEncoderLevel(zstd.SpeedDefault),
				zstd.WithEncoderConcurrency(1), // no goroutines per response
				zstd.WithWindowSize(zstdWindow),
				zstd.WithLowerEncoderMem(true))
			if err != nil {
				panic("compress: zstd options: " + err.Error()) // constant options
			}
			enc = z
		}
	case Brotli:
		if b, ok := brotliPool.Get().(*brotli.Writer); ok {
			b.Reset(w)
			enc = b
		} else {
			enc = brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotliLevel, LGWin: brotliLGWin})
		}
	default:
		return nopCloser{w}
	}
	return &Writer{e: e, enc: enc}
}

// Encoding returns the writer's encoding.
func (w *Writer) Encoding() Encoding { return w.e }

// Write compresses p. The bytes may stay buffered until Flush or Close.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errClosed
	}
	return w.enc.Write(p)
}

// Flush writes what has been compressed so far to the underlying writer, so
// that the client can decode everything written up to now (for a streamed
// response that flushes).
func (w *Writer) Flush() error {
	if w.closed {
		return errClosed
	}
	return w.enc.Flush()
}

// Close finishes the compressed stream and releases the encoder. It does not
// close the underlying writer. Calling Close again does nothing.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.enc.Close()
	w.release()
	return err
}

// Abandon releases the encoder without finishing the stream: nothing more
// is written to the underlying writer (a response cut off, or one whose
// writer is gone). Calling it after Close does nothing.
func (w *Writer) Abandon() {
	if w.closed {
		return
	}
	w.closed = true
	w.release()
}

// release puts the encoder back in its pool.
func (w *Writer) release() {
	switch enc := w.enc.(type) {
	case *gzip.Writer:
		enc.Reset(nil)
		gzipPool.Put(enc)
	case *zstd.Encoder:
		enc.Reset(nil)
		zstdPool.Put(enc)
	case *brotli.Writer:
		enc.Reset(nil)
		brotliPool.Put(enc)
	}
	w.enc = nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
