package logging

import (
	"bufio"
	"io"
	"log/slog"
)

// CaptureMsg is the msg of the JSON records that carry captured worker
// output.
const CaptureMsg = "worker output"

// CopyLines copies the workers' captured stdout and stderr, read from r,
// to out until r ends (--capture-output). Each line reaches out in one
// Write, so it never interleaves with gowsgi's own records mid-line.
//
// In the text format ("" or "text") each line is written as it came, as
// gunicorn's --capture-output does. In the JSON format each line becomes
// the "output" string of a record of gowsgi's own:
//
//	{"time":"...","level":"INFO","msg":"worker output","output":"the line"}
//
// The line is escaped by encoding/json's rules, so a line the application
// prints (an exception message holding request data, say) can never pass
// for a record of its own, whatever quotes, braces or newlines it holds.
// The line's newline is not part of "output"; a line longer than 64 KiB
// comes as several records.
func CopyLines(out io.Writer, r io.Reader, format string) {
	br := bufio.NewReaderSize(r, 64<<10)
	var log *slog.Logger
	if format == "json" {
		// Its own handler, at the lowest level: captured output is never
		// filtered by --log-level, in either format.
		log = slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if log == nil {
				out.Write(line)
			} else {
				log.Info(CaptureMsg, "output", string(trimEOL(line)))
			}
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// trimEOL drops a trailing LF or CRLF.
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
