// Package front is the HTTP side of gowsgi: it turns each request into a
// WSGI environ, hands it to an idle worker slot, and relays the response
// frames to the client as they arrive.
package front

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/static"
	"github.com/gowsgi/gowsgi/internal/wire"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// Handler serves HTTP requests with the worker pool.
type Handler struct {
	Pool     *workers.Pool
	RootPath string // SCRIPT_NAME; stripped from PATH_INFO
	Scheme   string // wsgi.url_scheme

	MaxBodySize     int64  // larger request bodies get 413; 0 = no limit
	BodyMemoryLimit int64  // bodies above this are spooled to a temp file
	TempDir         string // where spooled bodies go; "" = os.TempDir()

	// Timeout is how long a worker may go without sending anything for a
	// request; then its stacks are logged, the client gets 504 and the
	// worker is replaced. 0 = no limit.
	Timeout time.Duration

	Static []*static.Mount // URL prefixes served from directories by Go

	AccessLog *AccessLog // nil: no access log
	Log       *slog.Logger
}

// frameBufs recycles request frame buffers; most requests fit in 4 KiB.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// ServeHTTP1 implements http1.Handler.
func (h *Handler) ServeHTTP1(w *http1.ResponseWriter, r *http1.Request) {
	var start time.Time
	if h.AccessLog != nil {
		start = time.Now()
		defer func() { h.AccessLog.Log(r, w, start) }()
	}

	if len(h.Static) > 0 {
		path := unquote(r.Path)
		for _, m := range h.Static {
			if rel, ok := m.Match(path); ok {
				m.Serve(w, r, rel)
				return
			}
		}
	}

	body, file, n, err := h.readBody(r)
	if file != nil {
		defer file.Close()
	}
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			w.SetClose()
			h.plain(w, he.status, he.msg, nil)
			return
		}
		w.Abort() // the client stalled or went away mid-body
		return
	}
	defer putBody(body)

	bp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bp)
	frame, off := wire.BeginRequest((*bp)[:0], 0) // the pool fills in the id
	frame = h.appendEnviron(frame, r, n)
	frame = wire.FinishRequest(frame, off, len(body), file != nil)
	*bp = frame

	t, err := h.Pool.Dispatch(frame, body, file)
	if t == nil {
		h.Log.Warn("request refused", "request", requestLine(r), "reason", err)
		h.plain(w, 503, "Service Unavailable", []http1.Field{{Name: "Retry-After", Value: "1"}})
		return
	}
	defer h.Pool.Release(t)
	t.Turn()
	if err != nil {
		h.workerLost(w, r, t.Slot, false, err)
		return
	}
	h.relay(w, r, t.Slot, t.ID)
}

// relay copies the response frames of request id to the client.
func (h *Handler) relay(w *http1.ResponseWriter, r *http1.Request, slot *workers.Slot, id uint32) {
	headSent := false
	clientGone := false
	var fields []http1.Field
	for {
		if h.Timeout > 0 {
			slot.SetReadDeadline(time.Now().Add(h.Timeout))
		}
		fh, p, err := slot.ReadFrame()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				h.timedOut(w, r, slot, headSent && !clientGone)
				return
			}
			h.workerLost(w, r, slot, headSent && !clientGone, err)
			return
		}
		if fh.ID != id {
			slot.MarkBroken()
			h.workerLost(w, r, slot, headSent && !clientGone, fmt.Errorf("frame for request %d while serving %d", fh.ID, id))
			return
		}
		switch fh.Type {
		case wire.Start, wire.Whole, wire.File:
			if headSent {
				slot.MarkBroken()
				h.workerLost(w, r, slot, !clientGone, errors.New("second response head"))
				return
			}
			headSent = true
			fields = fields[:0]
			var bad error
			contentLengths := 0
			status, data, err := wire.DecodeHead(p, func(name, value string) {
				f := http1.Field{Name: name, Value: value}
				if bad == nil {
					bad = checkField(f)
				}
				if strings.EqualFold(name, "Content-Length") {
					contentLengths++
				}
				fields = append(fields, f)
			})
			var he *wire.HeadError
			if err != nil && !errors.As(err, &he) {
				slot.MarkBroken()
				h.workerLost(w, r, slot, false, err)
				return
			}
			code, reason := 0, ""
			if err == nil && bad == nil {
				code, reason, bad = parseStatus(status)
			}
			if err == nil && bad == nil && contentLengths > 1 {
				bad = errors.New("more than one Content-Length header")
			}
			if err == nil {
				err = bad
			}
			var file *os.File
			if fh.Type == wire.File {
				if file = slot.TakeFile(); file == nil || len(data) != 16 {
					slot.MarkBroken()
					h.workerLost(w, r, slot, false, errors.New("file frame without a descriptor"))
					return
				}
				defer file.Close()
			}
			if err != nil {
				h.Log.Error("invalid response from the application; answering 500", "request", requestLine(r), "reason", err.Error())
				h.plain(w, 500, "Internal Server Error", nil)
				clientGone = true // nothing more goes to the client
				if fh.Type != wire.Start {
					return
				}
				slot.SendAbort(id)
				continue
			}
			if fh.Type == wire.File {
				h.sendFile(w, file, code, reason, fields, contentLengths > 0, data)
				return
			}
			w.WriteHeader(code, reason, fields)
			if len(data) > 0 {
				if _, err := w.Write(data); err != nil {
					clientGone = h.abandon(slot, id, fh.Type)
				}
			}
			if fh.Type == wire.Whole {
				if !clientGone {
					w.Finish()
				}
				return
			}
			if !clientGone && !slot.Buffered() {
				if w.Flush() != nil {
					clientGone = h.abandon(slot, id, fh.Type)
				}
			}
		case wire.Body:
			if !headSent {
				slot.MarkBroken()
				h.workerLost(w, r, slot, false, errors.New("body before head"))
				return
			}
			if clientGone {
				continue
			}
			if _, err := w.Write(p); err != nil {
				clientGone = h.abandon(slot, id, fh.Type)
				continue
			}
			if !slot.Buffered() && w.Flush() != nil {
				clientGone = h.abandon(slot, id, fh.Type)
			}
		case wire.End:
			if !clientGone {
				w.Finish()
			}
			return
		case wire.Error:
			// The worker has logged the traceback already.
			if clientGone {
				return
			}
			if headSent {
				w.Flush() // what the app produced before failing
				w.Abort()
				return
			}
			h.plain(w, 500, "Internal Server Error", nil)
			return
		default:
			slot.MarkBroken()
			h.workerLost(w, r, slot, headSent && !clientGone, fmt.Errorf("unexpected frame type %s", fh.Type))
			return
		}
	}
}

// sendFile answers with a regular file the worker passed over (a
// wsgi.file_wrapper): the kernel copies it to the client. tail holds the
// offset and length to send. Without a Content-Length from the app, the
// known length gives one.
func (h *Handler) sendFile(w *http1.ResponseWriter, f *os.File, code int, reason string, fields []http1.Field, hasLength bool, tail []byte) {
	offset := int64(binary.LittleEndian.Uint64(tail))
	count := int64(binary.LittleEndian.Uint64(tail[8:]))
	if !hasLength && code != 204 && code != 304 {
		fields = append(fields, http1.Field{Name: "Content-Length", Value: strconv.FormatInt(count, 10)})
	}
	w.WriteHeader(code, reason, fields)
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		h.Log.Error("cannot seek the response file", "err", err)
		w.Abort()
		return
	}
	if _, err := w.SendFile(f, count); err != nil {
		return // the client went away, or the file shrank: the connection is closed
	}
	w.Finish()
}

// abandon stops relaying to a client that went away: the worker is told to
// stop (so the app's close() runs promptly) and the rest of the response is
// drained and dropped. It returns true for use as the new clientGone.
func (h *Handler) abandon(slot *workers.Slot, id uint32, t wire.Type) bool {
	if t != wire.Whole {
		slot.SendAbort(id)
	}
	return true
}

// workerLost answers a request whose worker stopped answering: 502 when
// nothing was sent yet, a cut connection otherwise.
func (h *Handler) workerLost(w *http1.ResponseWriter, r *http1.Request, slot *workers.Slot, started bool, cause error) {
	wk := slot.Worker()
	status := ""
	if errors.Is(cause, workers.ErrWorkerGone) {
		select {
		case <-wk.Exited():
			status = wk.ExitStatus()
		case <-time.After(time.Second):
			status = "still running"
		}
		h.Log.Error("worker died while serving a request", "worker", wk.ID, "pid", wk.PID, "status", status, "request", requestLine(r))
	} else {
		h.Log.Error("protocol error from worker; it will be replaced", "worker", wk.ID, "pid", wk.PID, "err", cause.Error(), "request", requestLine(r))
	}
	if started {
		w.Flush()
		w.Abort()
		return
	}
	w.SetClose()
	h.plain(w, 502, "Bad Gateway", nil)
}

// timedOut answers a request whose worker went silent past Timeout.
func (h *Handler) timedOut(w *http1.ResponseWriter, r *http1.Request, slot *workers.Slot, started bool) {
	wk := slot.Worker()
	h.Log.Error("request timed out; the worker's Python stacks follow, then it is killed and replaced",
		"timeout", h.Timeout.String(), "worker", wk.ID, "pid", wk.PID, "request", requestLine(r))
	h.Pool.TimedOut(slot)
	if started {
		w.Flush()
		w.Abort()
		return
	}
	w.SetClose()
	h.plain(w, 504, "Gateway Timeout", nil)
}

// plain sends a short text/plain response generated by gowsgi itself.
func (h *Handler) plain(w *http1.ResponseWriter, status int, reason string, extra []http1.Field) {
	msg := fmt.Sprintf("%d %s\n", status, reason)
	fields := append([]http1.Field{
		{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
		{Name: "Content-Length", Value: fmt.Sprint(len(msg))},
	}, extra...)
	w.WriteHeader(status, reason, fields)
	w.Write([]byte(msg))
	w.Finish()
}

func requestLine(r *http1.Request) string {
	return r.Method + " " + r.Target + " " + r.Proto()
}

// httpError is a request the front refuses before it reaches a worker.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func putBody(b []byte) {
	if b != nil && cap(b) <= 1<<20 {
		b = b[:0]
		bodyBufs.Put(&b)
	}
}

// readBody reads the whole request body before any worker is involved, so a
// slow upload holds a goroutine, never a Python thread. Up to BodyMemoryLimit
// it stays in memory; beyond, it goes to an unlinked temp file whose
// descriptor the worker reads.
func (h *Handler) readBody(r *http1.Request) (mem []byte, file *os.File, n int64, err error) {
	if r.ContentLength == 0 && !r.Chunked {
		return nil, nil, 0, nil
	}
	max := h.MaxBodySize
	if max > 0 && r.ContentLength > max {
		return nil, nil, 0, &httpError{413, "Content Too Large"}
	}
	memLimit := h.BodyMemoryLimit
	if r.ContentLength > memLimit {
		return h.spool(r, nil, max)
	}
	bp := bodyBufs.Get().(*[]byte)
	mem = (*bp)[:0]
	for {
		if len(mem) == cap(mem) {
			if int64(len(mem)) >= memLimit {
				return h.spool(r, mem, max)
			}
			mem = append(mem, 0)[:len(mem)]
		}
		m, err := r.Body.Read(mem[len(mem):cap(mem)])
		mem = mem[:len(mem)+m]
		if max > 0 && int64(len(mem)) > max {
			return nil, nil, 0, &httpError{413, "Content Too Large"}
		}
		if err == io.EOF {
			return mem, nil, int64(len(mem)), nil
		}
		if err != nil {
			return nil, nil, 0, bodyErr(err)
		}
	}
}

func (h *Handler) spool(r *http1.Request, head []byte, max int64) (_ []byte, _ *os.File, _ int64, err error) {
	f, err := os.CreateTemp(h.TempDir, "gowsgi-body-")
	if err != nil {
		h.Log.Error("cannot spool request body", "err", err)
		return nil, nil, 0, &httpError{500, "Internal Server Error"}
	}
	os.Remove(f.Name()) // the descriptor keeps it; nothing is left behind
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if _, err := f.Write(head); err != nil {
		return nil, nil, 0, &httpError{500, "Internal Server Error"}
	}
	putBody(head)
	src := r.Body
	if max > 0 {
		src = io.LimitReader(r.Body, max-int64(len(head))+1)
	}
	n, err := io.Copy(f, src)
	n += int64(len(head))
	if err != nil {
		return nil, nil, 0, bodyErr(err)
	}
	if max > 0 && n > max {
		return nil, nil, 0, &httpError{413, "Content Too Large"}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, 0, err
	}
	return nil, f, n, nil
}

func bodyErr(err error) error {
	var be *http1.BodyError
	if errors.As(err, &be) {
		return &httpError{400, "Bad Request"}
	}
	return err
}
