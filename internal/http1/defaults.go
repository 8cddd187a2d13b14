package http1

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults are the header fields a server adds to the responses it sends
// (uvicorn's --server-header, --date-header and --header). The zero value
// is gowsgi's default: "Server: gowsgi" and a Date field, each unless the
// response has its own.
//
// This is the one rule for every protocol: the HTTP/1.1 engine applies it
// to every response it writes, its own errors included (Server.Defaults);
// the front applies it, with Append, to HTTP/2 responses and WebSocket
// handshakes.
type Defaults struct {
	// Server is the Server field's value, sent unless the response has a
	// Server field; "" = "gowsgi".
	Server string
	// NoServer sends no Server field of the server's own.
	NoServer bool
	// NoDate sends no Date field of the server's own.
	NoDate bool
	// Extra are sent first on every response, before its own fields; a
	// response field of the same name does not replace one (uvicorn sends
	// both). An Extra field named Server or Date stands for the server's.
	Extra []Field
}

// CheckField reports whether f can be sent as a header field: a token for
// a name, a value without control characters other than tab.
func CheckField(f Field) error {
	if f.Name == "" {
		return fmt.Errorf("empty field name")
	}
	for i := 0; i < len(f.Name); i++ {
		if !isTchar[f.Name[i]] {
			return fmt.Errorf("%q is not a valid field name", f.Name)
		}
	}
	if !validValueString(f.Value) {
		return fmt.Errorf("the value of %s has a control character", f.Name)
	}
	return nil
}

// server is the Server value to send, "" for none.
func (d *Defaults) server() string {
	switch {
	case d.NoServer || d.extraHas("server"):
		return ""
	case d.Server != "":
		return d.Server
	}
	return "gowsgi"
}

// date reports whether a Date field of the server's own is sent.
func (d *Defaults) date() bool { return !d.NoDate && !d.extraHas("date") }

func (d *Defaults) extraHas(name string) bool {
	for _, f := range d.Extra {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Append appends to dst the fields a response whose own fields are have
// gets from the server, in the order they go out before have: Server and
// Date (each unless have has one), then Extra.
func (d *Defaults) Append(dst, have []Field, now time.Time) []Field {
	hasServer, hasDate := false, false
	for _, f := range have {
		hasServer = hasServer || strings.EqualFold(f.Name, "server")
		hasDate = hasDate || strings.EqualFold(f.Name, "date")
	}
	if s := d.server(); s != "" && !hasServer {
		dst = append(dst, Field{"Server", s})
	}
	if d.date() && !hasDate {
		dst = append(dst, Field{"Date", currentDate(now).value})
	}
	return append(dst, d.Extra...)
}

// lines are the engine's precomputed form of d: the Server line ("" for
// none), whether to write a Date line, and the Extra lines.
func (d *Defaults) lines() (server string, date bool, extra string) {
	if s := d.server(); s != "" {
		server = "Server: " + s + "\r\n"
	}
	var b strings.Builder
	for _, f := range d.Extra {
		b.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	return server, d.date(), b.String()
}

// ErrorResponse is the whole HTTP/1.1 response a server sends on its own
// before it closes a connection it will not serve (a malformed request, a
// limit): status, a plain-text body (body, or "<code> <reason>\n" when
// body is ""), "Connection: close" and d's fields. The engine's errors and
// the front's answers outside the engine (h2c sniffing, plain HTTP on a TLS
// port) are all written by it.
func (d *Defaults) ErrorResponse(status int, body string, now time.Time) []byte {
	server, date, extra := d.lines()
	return errorResponse(status, body, server, date, extra, now)
}

func errorResponse(status int, body, serverLine string, date bool, extraLines string, now time.Time) []byte {
	text := statusText[status]
	if body == "" {
		body = strconv.Itoa(status) + " " + text + "\n"
	}
	b := make([]byte, 0, 160+len(serverLine)+len(extraLines)+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n"...)
	if date {
		b = append(b, dateLine(now)...)
	}
	b = append(b, serverLine...)
	b = append(b, extraLines...)
	b = append(b, "\r\n"...)
	return append(b, body...)
}
