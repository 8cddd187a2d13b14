package front

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// spoolBufs recycles the buffers a fast upload is copied to its spool file
// through.
var spoolBufs = sync.Pool{New: func() any { b := make([]byte, spoolBuf); return &b }}

// spoolRefusalLogged is the second a spool refusal was last logged.
var spoolRefusalLogged atomic.Int64

const (
	spoolFirst = 4 << 10  // the first reads: a stalled upload holds this much
	spoolBuf   = 32 << 10 // once the body flows
)

// spool writes head and the rest of the body to an unlinked temp file. The
// file is opened at the first byte that needs it, never for a body
// announced and not sent, and only under SpoolFiles (the descriptors of
// all spools together): over it the request gets 503. The body is read
// through a small buffer until it flows, so a stalled upload holds little.
func (h *Handler) spool(r *http1.Request, head []byte, max int64) (b body, err error) {
	var f *os.File
	defer func() {
		if err != nil && f != nil {
			f.Close()
			h.SpoolFiles.Release(1)
		}
	}()
	write := func(p []byte) error {
		if f == nil {
			if !h.SpoolFiles.TryAcquire(1) {
				if now := time.Now().Unix(); spoolRefusalLogged.Swap(now) != now {
					h.Log.Warn("request refused: too many spool files open (--max-spool-files); logged at most once a second", "request", r.Method+" "+r.Target, "request_id", h.requestID(r), "limit", h.SpoolFiles.Limit())
				}
				return &httpError{503, "Service Unavailable"}
			}
			var err error
			if f, err = os.CreateTemp(h.TempDir, "gowsgi-body-"); err != nil {
				h.SpoolFiles.Release(1)
				h.Log.Error("cannot spool request body", "request", r.Method+" "+r.Target, "request_id", h.requestID(r), "err", err)
				return &httpError{500, "Internal Server Error"}
			}
			os.Remove(f.Name()) // the descriptor keeps it; nothing is left behind
		}
		if _, err := f.Write(p); err != nil {
			h.Log.Error("cannot spool request body", "request", r.Method+" "+r.Target, "request_id", h.requestID(r), "err", err)
			return &httpError{500, "Internal Server Error"}
		}
		return nil
	}
	n := int64(len(head))
	if n > 0 {
		if err := write(head); err != nil {
			return body{}, err
		}
	}
	var first [spoolFirst]byte
	buf := first[:]
	var pooled *[]byte
	defer func() {
		if pooled != nil {
			spoolBufs.Put(pooled)
		}
	}()
	for {
		m, rerr := r.Body.Read(buf)
		n += int64(m)
		if max > 0 && n > max {
			return body{}, &httpError{413, "Content Too Large"}
		}
		if m > 0 {
			if err := write(buf[:m]); err != nil {
				return body{}, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return body{}, bodyErr(rerr)
		}
		if m == len(buf) && pooled == nil {
			pooled = spoolBufs.Get().(*[]byte)
			buf = *pooled
		}
	}
	if f == nil {
		return body{}, nil // announced, but empty
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return body{}, err
	}
	if h.Observer != nil {
		h.Observer.Spooled(n)
	}
	return body{file: f, files: h.SpoolFiles, n: n}, nil
}
