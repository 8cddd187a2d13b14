package http1

import (
	"bytes"
	"math"
	"time"
)

// reqLine holds offsets into a request line that passed parseRequestLine.
type reqLine struct {
	mEnd           int // method is line[:mEnd]
	tStart, tEnd   int // target is line[tStart:tEnd]
	minor          int
	form           int
	authorityStart int // absolute form: where the authority begins in the target
}

// fieldIdx locates a header field in the request head: name is head[ns:ne]
// and the (trimmed) value is head[vs:ve].
type fieldIdx struct{ ns, ne, vs, ve int32 }

// parseRequestLine checks a request line (without its CRLF) and records
// where its parts are. It returns 0 when the line is acceptable, 505 for an
// HTTP version other than 1.x, and 400 for anything malformed.
func parseRequestLine(b []byte, rl *reqLine) int {
	i := tokenLen(b)
	if i == 0 || i == len(b) || b[i] != ' ' {
		return 400
	}
	j := i + 1 + targetLen(b[i+1:])
	if j == i+1 || j == len(b) || b[j] != ' ' {
		return 400
	}
	v := b[j+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return 400
	}
	if v[5] != '1' {
		return 505
	}
	rl.mEnd, rl.tStart, rl.tEnd = i, i+1, j
	rl.minor = 0
	if v[7] != '0' {
		rl.minor = 1
	}
	var st int
	rl.form, rl.authorityStart, st = checkTarget(b[:i], b[i+1:j])
	return st
}

// parseFieldLine checks one field line (without its CRLF) and returns where
// its name and trimmed value are, relative to the line.
func parseFieldLine(b []byte) (fieldIdx, bool) {
	i := tokenLen(b)
	// An empty name also catches obs-fold (a line starting with SP/HTAB)
	// and whitespace before the colon.
	if i == 0 || i == len(b) || b[i] != ':' {
		return fieldIdx{}, false
	}
	vs, ve := i+1, len(b)
	for vs < ve && (b[vs] == ' ' || b[vs] == '\t') {
		vs++
	}
	for ve > vs && (b[ve-1] == ' ' || b[ve-1] == '\t') {
		ve--
	}
	if !validValue(b[vs:ve]) {
		return fieldIdx{}, false
	}
	return fieldIdx{0, int32(i), int32(vs), int32(ve)}, true
}

// readHead reads and checks the head of the next request on c, and fills in
// c.req. It returns 0 when a request is ready for the handler, the status
// code of an error response the engine must send, or -1 when the
// connection must be closed silently (client gone, idle timeout, shutdown).
//
// Each line is checked as soon as its LF arrives, so a bad request line is
// answered at once instead of after the whole head. The size limits are
// enforced on partial lines too, so a client cannot make the server buffer
// more than the limits allow.
func (c *conn) readHead() int {
	cfg := c.cfg
	var (
		rl         reqLine
		lineNo     int
		ls, scan   int // start of the current line and first unscanned byte, relative to c.rpos
		hb         int // header section bytes so far
		first      time.Time
		started    bool
		idleArmed  bool
		fieldCount int
	)
	if c.fidx == nil { // dropped while parked
		c.hdr, c.fidx = make([]Field, 0, 16), make([]fieldIdx, 0, 16)
	}
	c.fidx = c.fidx[:0]
	for {
		if lineNo == 0 {
			// RFC 9112 §2.2: skip empty lines before the request line.
			for c.rend-c.rpos >= 2 && c.rbuf[c.rpos] == '\r' && c.rbuf[c.rpos+1] == '\n' {
				c.rpos += 2
				scan = 0
			}
		}
		buf := c.rbuf[c.rpos:c.rend]
		if k := bytes.IndexByte(buf[scan:], '\n'); k >= 0 {
			le := scan + k
			line := buf[ls:le]
			cr := len(line) > 0 && line[len(line)-1] == '\r'
			if lineNo == 0 {
				n := len(line)
				if cr {
					n--
				}
				if n > cfg.maxRequestLine {
					return 414
				}
				if !cr {
					return 400
				}
				if st := parseRequestLine(line[:n], &rl); st != 0 {
					return st
				}
			} else {
				if len(line) == 1 && cr {
					return c.buildRequest(&rl, le+1)
				}
				hb += len(line) + 1
				// The field line counts with its CRLF against
				// limit_request_field_size, as gunicorn counts it.
				if hb > cfg.maxHeaderBytes || len(line)+1 > cfg.maxFieldBytes {
					return 431
				}
				if !cr {
					return 400
				}
				fieldCount++
				if fieldCount > cfg.maxHeaderFields {
					return 431
				}
				f, ok := parseFieldLine(line[:len(line)-1])
				if !ok {
					return 400
				}
				f.ns, f.ne, f.vs, f.ve = f.ns+int32(ls), f.ne+int32(ls), f.vs+int32(ls), f.ve+int32(ls)
				c.fidx = append(c.fidx, f)
			}
			lineNo++
			ls = le + 1
			scan = ls
			continue
		}
		scan = len(buf)
		if l := len(buf) - ls; lineNo == 0 {
			if l-1 > cfg.maxRequestLine {
				return 414
			}
		} else if l >= 2 {
			// The line still needs its LF, and its CR unless that came.
			crlf := 2
			if buf[len(buf)-1] == '\r' {
				crlf = 1
			}
			if hb+l+1 > cfg.maxHeaderBytes || l+crlf > cfg.maxFieldBytes {
				return 431
			}
		}

		// Need more bytes.
		idle := len(buf) == 0
		if idle {
			c.releaseOut()
			c.state.Store(stateIdle)
			if c.srv.shuttingDown() && c.used.Load() && !c.woken {
				return -1
			}
			c.woken = false
			if !idleArmed {
				idleArmed = true
				now := c.now
				if !c.nowFresh {
					now = time.Now()
				}
				c.idleEnd = now.Add(cfg.idleTimeout)
				if p := cfg.idlePark; p < cfg.idleTimeout && c.canPark() {
					// Wait this long with the goroutine, then park (park.go).
					c.setReadDeadline(now.Add(p), p/2)
				} else {
					c.setReadDeadline(c.idleEnd, cfg.idleTimeout/8)
				}
			}
		} else {
			if !started {
				started = true
				first = time.Now()
			}
			c.setReadDeadline(first.Add(cfg.readHeaderTimeout), 0)
		}
		err := c.fill(cfg.maxHead)
		if idle && err != nil && c.rend == c.rpos && isTimeout(err) && c.canPark() {
			// The wait before parking is over; the keep-alive wait may not be.
			if left := time.Until(c.idleEnd); left > cfg.idleTimeout/8 {
				switch c.park(left) {
				case stParked:
					return stParked
				case -1:
					return -1
				}
				c.setReadDeadline(c.idleEnd, 0) // not parked: wait here
				continue
			}
		}
		if idle {
			if !c.state.CompareAndSwap(stateIdle, stateActive) {
				return -1 // closed by Shutdown
			}
		}
		if err != nil {
			if err == errBufferFull {
				return 431
			}
			if isTimeout(err) && c.rend > c.rpos {
				return 408
			}
			return -1
		}
	}
}

// buildRequest turns the checked head (the first n buffered bytes) into
// c.req and applies the rules that need the whole header section: Host,
// message framing, Expect and Connection.
func (c *conn) buildRequest(rl *reqLine, n int) int {
	s := string(c.rbuf[c.rpos : c.rpos+n]) // the one allocation per request
	c.rpos += n
	r := &c.req
	r.Method = s[:rl.mEnd]
	r.Target = s[rl.tStart:rl.tEnd]
	r.ProtoMinor = rl.minor
	r.ID = ""
	hdr := c.hdr[:0]
	for _, f := range c.fidx {
		hdr = append(hdr, Field{s[f.ns:f.ne], s[f.vs:f.ve]})
	}
	c.hdr = hdr
	r.Header = hdr

	var (
		hostN                int
		host                 string
		cl                   contentLength
		te, chunked          bool
		teBad, teUnknown     bool
		connClose, keepAlive bool
		expect100            bool
	)
	for i := range hdr {
		name, v := hdr[i].Name, hdr[i].Value
		switch len(name) {
		case 4:
			if lowerEq(name, "host") {
				hostN++
				host = v
			}
		case 6:
			if lowerEq(name, "expect") {
				for len(v) > 0 {
					var e string
					e, v = nextElem(v)
					if e == "" {
						continue
					}
					// Other expectations are ignored: RFC 9110 §10.1.1
					// allows a 417 but does not require one, and gunicorn,
					// too, serves such requests.
					if lowerEq(e, "100-continue") {
						expect100 = true
					}
				}
			}
		case 10:
			if lowerEq(name, "connection") {
				for len(v) > 0 {
					var e string
					e, v = nextElem(v)
					if lowerEq(e, "close") {
						connClose = true
					} else if lowerEq(e, "keep-alive") {
						keepAlive = true
					}
				}
			}
		case 14:
			if lowerEq(name, "content-length") {
				cl.add(v) // see contentLength for the rule
			}
		case 17:
			if lowerEq(name, "transfer-encoding") {
				te = true
				for len(v) > 0 {
					var e string
					e, v = nextElem(v)
					switch {
					case e == "":
						// RFC 9110 §5.6.1: empty list elements are ignored.
					case chunked:
						teBad = true // chunked must be the final coding, and only once
					case lowerEq(e, "chunked"):
						chunked = true
					default:
						teUnknown = true
					}
				}
			}
		}
	}

	switch {
	case hostN > 1, hostN == 0 && rl.minor == 1, hostN == 1 && !validHost(host, true, false):
		return 400
	case cl.bad:
		return 400
	case te && (rl.minor == 0 || cl.seen || teBad):
		return 400
	case te && teUnknown:
		return 501
	case te && !chunked:
		return 400 // a Transfer-Encoding field with no coding at all
	}

	r.Host = host
	if h, ok, path, q := splitTarget(rl.form, rl.authorityStart, r.Target); ok {
		r.Host, r.Path, r.RawQuery = h, path, q
	} else {
		r.Path, r.RawQuery = path, q
	}
	length := int64(-1)
	if cl.seen {
		length = cl.n
	}
	return c.setBody(length, chunked, expect100, connClose, keepAlive)
}

// setBody finishes c.req: body framing and connection persistence.
func (c *conn) setBody(cl int64, chunked, expect100, connClose, keepAlive bool) int {
	r := &c.req
	r.Chunked = chunked
	c.body.reset(c)
	switch {
	case chunked:
		r.ContentLength = -1
		c.body.kind = bodyChunked
	case cl > 0:
		r.ContentLength = cl
		c.body.kind = bodyFixed
		c.body.n = cl
	default:
		r.ContentLength = 0
	}
	r.expectContinue = expect100 && r.ProtoMinor == 1
	c.continuePending = r.expectContinue && c.body.kind != bodyNone
	if r.ProtoMinor == 1 {
		r.Close = connClose
	} else {
		r.Close = connClose || !keepAlive
	}
	if c.srv.shuttingDown() {
		r.Close = true
	}
	c.closeAfter = r.Close
	return 0
}

// parseContentLength parses a response's Content-Length field value (as the
// application set it): 1*DIGIT, or a comma-separated list of such values that are all the same (RFC 9110 §8.6).
func parseContentLength(v string) (int64, bool) {
	var n int64 = -1
	for {
		var e string
		e, v = nextElem(v)
		if e == "" {
			return -1, false
		}
		var m int64
		for i := 0; i < len(e); i++ {
			if !isDigit(e[i]) || m > (math.MaxInt64-int64(e[i]-'0'))/10 {
				return -1, false
			}
			m = m*10 + int64(e[i]-'0')
		}
		if n >= 0 && m != n {
			return -1, false
		}
		n = m
		if v == "" {
			return n, true
		}
	}
}

// nextElem splits the first element off a comma-separated list and trims
// optional whitespace around it. rest is "" after the last element.
func nextElem(v string) (elem, rest string) {
	i := 0
	for i < len(v) && v[i] != ',' {
		i++
	}
	elem = v[:i]
	if i < len(v) {
		rest = v[i+1:]
		if rest == "" {
			rest = " " // keep a trailing empty element visible to callers
		}
	}
	for len(elem) > 0 && (elem[0] == ' ' || elem[0] == '\t') {
		elem = elem[1:]
	}
	for len(elem) > 0 && (elem[len(elem)-1] == ' ' || elem[len(elem)-1] == '\t') {
		elem = elem[:len(elem)-1]
	}
	return elem, rest
}
