package wire

import (
	"encoding/binary"
	"unicode/utf8"
)

// An ASGI worker's request frame is a Request frame like WSGI's, marshal
// (scope, body), whose first item is the ASGI HTTP scope's values
// (asgiref's www.rst) rather than a CGI environ: a tuple of ScopeFields
// values in this order, each in the type the spec gives it:
//
//	0  http_version  str
//	1  method        str
//	2  scheme        str
//	3  path          str
//	4  raw_path      bytes
//	5  query_string  bytes
//	6  root_path     str
//	7  headers       list of (bytes, bytes) tuples
//	8  client        (str, int) tuple, or None
//	9  server        (str, int or None) tuple, or None: the listening
//	                 address, (path, None) on a Unix socket
//	10 tls           the tls extension's dict, or None
//	11 request_id    str (the scope's gowsgi.request_id), or None
//
// The worker's one marshal.loads returns them and it builds the scope dict
// with its keys as constants, adding what lives in the worker ("type",
// "asgi", "state", the extensions every request advertises): a dict
// written here cost the worker's marshal.loads an interned key per field,
// 15% of what it spent on a hello request (bench/RESULTS.md, "the ASGI
// worker's cost per request"). A tuple tells it from a CGI environ (a
// dict).
//
// ResetScope opens the tuple; the methods below append the values in
// order (a tuple's, a list's or a dict's items follow their opener, a
// dict's as Key and value).

// ScopeFields is the number of values of an ASGI HTTP scope's tuple.
const ScopeFields = 12

// ResetScope starts an ASGI HTTP scope's request frame in buf's storage:
// ScopeFields values follow, then Frame.
func (e *Environ) ResetScope(buf []byte) {
	e.b, e.start = BeginRequest(buf[:0], 0)
	e.b[len(e.b)-1] = mSmallTuple // BeginRequest opened a dict
	e.b = append(e.b, ScopeFields)
	e.tuple = true
}

// Key appends a dict key (ASCII, interned by marshal as environ keys are).
func (e *Environ) Key(key string) { e.b = AppendEnvKey(e.b, key) }

// Latin1 appends a str whose code points are the bytes of s (what a CGI
// environ's values are).
func (e *Environ) Latin1(s string) { e.b = appendLatin1(e.b, s) }

// Text appends a str decoded from the UTF-8 in s; what is not UTF-8 is
// replaced with U+FFFD exactly as Python's s.decode('utf-8', 'replace')
// does (one per maximal invalid subpart), so the scope's path reads as
// uvicorn's does.
func (e *Environ) Text(s string) { e.b = appendText(e.b, s) }

// Bytes appends a bytes object holding s.
func (e *Environ) Bytes(s string) {
	e.b = append(e.b, mBytes)
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(len(s)))
	e.b = append(e.b, s...)
}

// Int appends an int.
func (e *Environ) Int(n int64) { e.b = appendInt(e.b, n) }

// None appends None.
func (e *Environ) None() { e.b = append(e.b, mNone) }

// Tuple opens a tuple of n items, which follow.
func (e *Environ) Tuple(n int) {
	if n < 256 {
		e.b = append(e.b, mSmallTuple, byte(n))
		return
	}
	e.b = append(e.b, mTuple)
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(n))
}

// List opens a list of n items, which follow.
func (e *Environ) List(n int) {
	e.b = append(e.b, mList)
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(n))
}

// Dict opens a dict; Key and value pairs follow, then EndDict.
func (e *Environ) Dict() { e.b = append(e.b, mDict) }

// EndDict closes the dict opened last.
func (e *Environ) EndDict() { e.b = append(e.b, mNull) }

// LowerBytes appends a bytes object holding s with its ASCII letters
// lower-cased (Python's bytes.lower()): an ASGI header name.
func (e *Environ) LowerBytes(s string) {
	e.b = append(e.b, mBytes)
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(len(s)))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		e.b = append(e.b, c)
	}
}

// appendInt appends n as marshal writes it: 'i' within 32 bits, else 'l'
// (a signed count of 15-bit digits, least significant first).
func appendInt(dst []byte, n int64) []byte {
	if n >= -1<<31 && n < 1<<31 {
		dst = append(dst, mInt)
		return binary.LittleEndian.AppendUint32(dst, uint32(int32(n)))
	}
	neg := n < 0
	u := uint64(n)
	if neg {
		u = -u
	}
	var digits [5]uint16
	k := 0
	for ; u > 0; k++ {
		digits[k] = uint16(u & (1<<15 - 1))
		u >>= 15
	}
	count := int32(k)
	if neg {
		count = -count
	}
	dst = append(dst, mLong)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(count))
	for _, d := range digits[:k] {
		dst = binary.LittleEndian.AppendUint16(dst, d)
	}
	return dst
}

// appendText appends s, UTF-8 text, as a str; see Environ.Text.
func appendText(dst []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return appendLatin1(dst, s)
	}
	dst = append(dst, mUnicode)
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	if utf8.ValidString(s) {
		dst = append(dst, s...)
	} else {
		dst = appendReplacingUTF8(dst, s)
	}
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// appendReplacingUTF8 appends s with every maximal subpart of an invalid
// UTF-8 sequence replaced by U+FFFD (Unicode's "best practice", which
// CPython's UTF-8 decoder follows): a lead byte and the continuation bytes
// that can still follow it make one replacement; a byte that can start
// nothing makes one by itself.
func appendReplacingUTF8(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			dst = append(dst, c)
			i++
			continue
		}
		var n int                        // bytes of the sequence c starts
		lo, hi := byte(0x80), byte(0xBF) // the range of its second byte
		switch {
		case c >= 0xC2 && c <= 0xDF:
			n = 2
		case c == 0xE0:
			n, lo = 3, 0xA0
		case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
			n = 3
		case c == 0xED:
			n, hi = 3, 0x9F
		case c == 0xF0:
			n, lo = 4, 0x90
		case c >= 0xF1 && c <= 0xF3:
			n = 4
		case c == 0xF4:
			n, hi = 4, 0x8F
		default:
			dst = utf8.AppendRune(dst, utf8.RuneError)
			i++
			continue
		}
		j := i + 1
		for k := 1; k < n && j < len(s); k++ {
			b := s[j]
			if k == 1 && (b < lo || b > hi) || k > 1 && (b < 0x80 || b > 0xBF) {
				break
			}
			j++
		}
		if j-i == n {
			dst = append(dst, s[i:j]...)
		} else {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		}
		i = j
	}
	return dst
}

// DecodeASGIHead decodes the payload of a Start, Whole or File frame from an
// ASGI worker: marshal (version 2) (status, headers) followed by body
// bytes, where status is a str ("200 OK", which the worker makes from the
// app's int) and headers are the app's http.response.start headers as it
// gave them: a list or tuple of [name, value] lists or tuples of bytes
// (marshal writes bytearray and memoryview as bytes too). header is called
// for each pair in order. An application that sent other types gets a
// *HeadError; anything else is a protocol error.
func DecodeASGIHead(p []byte, header func(name, value string)) (status string, body []byte, err error) {
	d := decoder{p: p}
	if n, ok := d.seqHeader(mTuple); !ok || n != 2 {
		return "", nil, d.fail("head is not a 2-tuple")
	}
	status, err = d.latin1("status", "")
	if err != nil {
		return "", nil, err
	}
	n, err := d.anySeq(-1)
	if err != nil {
		return "", nil, err
	}
	for k := 0; k < n; k++ {
		m, err := d.anySeq(k)
		if err != nil {
			return "", nil, err
		}
		if m != 2 {
			return "", nil, headErr("ASGI response header %d must be a [name, value] pair, not %d items", k, m)
		}
		name, err := d.bytes("ASGI response header name", "")
		if err != nil {
			return "", nil, err
		}
		value, err := d.bytes("value of ASGI response header", name)
		if err != nil {
			return "", nil, err
		}
		header(name, value)
	}
	return status, d.p[d.i:], nil
}

// anySeq consumes a list or tuple header and returns its length: the
// header list when k is -1, else header k. What is neither is the
// application's mistake.
func (d *decoder) anySeq(k int) (int, error) {
	if d.i >= len(d.p) {
		return 0, errShort
	}
	t := d.p[d.i]
	if t != mList && t != mTuple {
		if k < 0 {
			return 0, headErr("ASGI response headers must be an iterable of [name, value] pairs, not %s", typeName(t))
		}
		return 0, headErr("ASGI response header %d must be a [name, value] pair, not %s", k, typeName(t))
	}
	n, ok := d.seqHeader(t)
	if !ok {
		return 0, d.fail("bad ASGI response header list")
	}
	return n, nil
}

// bytes consumes a bytes object; what (and name) say what it is, for the
// error message only.
func (d *decoder) bytes(what, name string) (string, error) {
	raw, err := d.sized(mBytes, "bytes", what, name)
	return string(raw), err
}
