package front

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// AccessLog writes one line per request in the Combined Log Format:
//
//	127.0.0.1 - - [24/Nov/2026:09:44:11 +0000] "GET / HTTP/1.1" 200 13 "-" "curl/8.0"
//
// Lines go through a channel to one writer goroutine, which flushes whenever
// it has no more lines waiting: immediate when idle, batched under load, and
// a slow log file never stalls a request.
type AccessLog struct {
	lines chan []byte
	done  chan struct{}
}

// NewAccessLog starts writing lines to w.
func NewAccessLog(w io.Writer) *AccessLog {
	l := &AccessLog{lines: make(chan []byte, 4096), done: make(chan struct{})}
	go l.run(bufio.NewWriterSize(w, 64<<10))
	return l
}

func (l *AccessLog) run(bw *bufio.Writer) {
	defer close(l.done)
	for line := range l.lines {
		bw.Write(line)
		if len(l.lines) == 0 {
			bw.Flush()
		}
	}
	bw.Flush()
}

// Close flushes the remaining lines. No Log call may follow.
func (l *AccessLog) Close() {
	close(l.lines)
	<-l.done
}

// Log records one finished request.
func (l *AccessLog) Log(r *request, w responseWriter, start time.Time) {
	b := make([]byte, 0, 160)
	host := "-"
	if a, ok := r.RemoteAddr.(*net.TCPAddr); ok {
		host = a.IP.String()
	}
	b = append(b, host...)
	b = append(b, " - - ["...)
	b = start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.Target)
	b = append(b, ' ')
	b = append(b, r.Proto()...)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(w.Status()), 10)
	b = append(b, ' ')
	if n := w.Written(); n > 0 {
		b = strconv.AppendInt(b, n, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, " \""...)
	b = appendEscaped(b, headerOr(r, "Referer", "-"))
	b = append(b, "\" \""...)
	b = appendEscaped(b, headerOr(r, "User-Agent", "-"))
	b = append(b, "\"\n"...)
	l.lines <- b
}

func headerOr(r *request, name, def string) string {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return def
}

// appendEscaped keeps a client-controlled string on one line and inside its
// quotes: quotes, backslashes and non-printable bytes become \xNN.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
