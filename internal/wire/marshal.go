package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// CPython marshal type codes used on the wire (Python/marshal.c).
const (
	mNull        = '0'
	mNone        = 'N'
	mFalse       = 'F'
	mTrue        = 'T'
	mInt         = 'i'
	mLong        = 'l' // ints beyond 32 bits signed: base-2**15 digits
	mBytes       = 's'
	mTuple       = '('
	mSmallTuple  = ')'
	mList        = '['
	mDict        = '{'
	mUnicode     = 'u'
	mASCII       = 'a'
	mShortASCII  = 'z'
	mShortASCIIi = 'Z' // interned: environ keys compare by identity in the app
)

// BeginRequest appends the start of a request frame for id to dst: the frame
// header (its length is patched by FinishRequest), the outer tuple and the
// opening of the environ dict. It returns dst and the offset of the frame.
func BeginRequest(dst []byte, id uint32) ([]byte, int) {
	start := len(dst)
	dst = AppendHeader(dst, Request, id, 0)
	return append(dst, mSmallTuple, 2, mDict), start
}

// AppendEnvStr appends environ[key] = value. key must be ASCII. value holds raw bytes; the
// worker sees them as a str whose code points are those bytes (PEP 3333's
// "bytes as unicode", i.e. latin-1).
func AppendEnvStr(dst []byte, key, value string) []byte {
	return appendLatin1(AppendEnvKey(dst, key), value)
}

// AppendEnvKey appends an environ key; the caller appends its value next
// with AppendLatin1. key must be ASCII, as every CGI and wsgi key is.
func AppendEnvKey(dst []byte, key string) []byte {
	if len(key) < 256 {
		dst = append(dst, mShortASCIIi, byte(len(key)))
	} else {
		dst = append(dst, mASCII)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(key)))
	}
	return append(dst, key...)
}

// AppendLatin1 appends a str value holding the bytes of s as code points.
func AppendLatin1(dst []byte, s string) []byte { return appendLatin1(dst, s) }

// AppendEnvBool appends environ[key] = value as a Python bool.
func AppendEnvBool(dst []byte, key string, value bool) []byte {
	dst = AppendEnvKey(dst, key)
	if value {
		return append(dst, mTrue)
	}
	return append(dst, mFalse)
}

// FinishRequest closes the environ dict and announces the body: bodyLen bytes
// that the caller sends right after the returned frame prefix, or, when
// bodyInFD is true, None (the body travels as a file descriptor). It patches
// the frame length of the frame that starts at offset start.
func FinishRequest(dst []byte, start int, bodyLen int, bodyInFD bool) []byte {
	return finishRequest(append(dst, mNull), start, bodyLen, bodyInFD)
}

// finishRequest is FinishRequest after the request's first item is whole
// (an environ dict closed, or an ASGI scope's tuple).
func finishRequest(dst []byte, start int, bodyLen int, bodyInFD bool) []byte {
	if bodyInFD {
		dst = append(dst, mNone)
		bodyLen = 0
	} else {
		dst = append(dst, mBytes)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(bodyLen))
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-HeaderSize+bodyLen))
	return dst
}

func appendLatin1(dst []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	switch {
	case ascii && len(s) < 256:
		dst = append(dst, mShortASCII, byte(len(s)))
		return append(dst, s...)
	case ascii:
		dst = append(dst, mASCII)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
		return append(dst, s...)
	}
	// Each byte becomes one code point, UTF-8 encoded for marshal's 'u'.
	n := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			n++
		}
	}
	dst = append(dst, mUnicode)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	for i := 0; i < len(s); i++ {
		dst = utf8.AppendRune(dst, rune(s[i]))
	}
	return dst
}

// HeadError describes a response head that is not what PEP 3333 requires;
// its message is meant for the error log.
type HeadError struct{ Msg string }

func (e *HeadError) Error() string { return e.Msg }

func headErr(format string, a ...any) error { return &HeadError{fmt.Sprintf(format, a...)} }

// errShort reports a payload that ends inside a marshal value: a broken
// worker, not an application mistake.
var errShort = errors.New("wire: truncated marshal data")

// DecodeHead decodes the payload of a Start or Whole frame: the marshal
// (version 2) encoding of (status, headers) followed by body bytes. header is
// called for each (name, value) pair in order, both as latin-1 bytes. An
// application that sent the wrong types or non-latin-1 text gets a
// *HeadError; anything else is a protocol error.
func DecodeHead(p []byte, header func(name, value string)) (status string, body []byte, err error) {
	d := decoder{p: p}
	if n, ok := d.seqHeader(mTuple); !ok || n != 2 {
		return "", nil, d.fail("head is not a 2-tuple")
	}
	status, err = d.latin1("status", "")
	if err != nil {
		return "", nil, err
	}
	if d.i >= len(d.p) {
		return "", nil, errShort
	}
	if t := d.p[d.i]; t != mList {
		return "", nil, headErr("response headers must be a list, not %s", typeName(t))
	}
	n, ok := d.seqHeader(mList)
	if !ok {
		return "", nil, d.fail("bad header list")
	}
	for k := 0; k < n; k++ {
		if d.i >= len(d.p) {
			return "", nil, errShort
		}
		if t := d.p[d.i]; t != mTuple {
			return "", nil, headErr("response header %d must be a (name, value) tuple, not %s", k, typeName(t))
		}
		if m, ok := d.seqHeader(mTuple); !ok || m != 2 {
			return "", nil, headErr("response header %d must be a (name, value) tuple of 2 items", k)
		}
		name, err := d.latin1("header name", "")
		if err != nil {
			return "", nil, err
		}
		value, err := d.latin1("value of header", name)
		if err != nil {
			return "", nil, err
		}
		header(name, value)
	}
	return status, d.p[d.i:], nil
}

// DecodeDict decodes a marshal (version 2) dict whose keys are str and whose
// values are str, int or bool, as sent in a Ready frame.
func DecodeDict(p []byte) (map[string]any, error) {
	d := decoder{p: p}
	if d.i >= len(d.p) || d.p[d.i] != mDict {
		return nil, d.fail("not a dict")
	}
	d.i++
	m := map[string]any{}
	for {
		if d.i >= len(d.p) {
			return nil, errShort
		}
		if d.p[d.i] == mNull {
			return m, nil
		}
		k, err := d.latin1("key", "")
		if err != nil {
			return nil, err
		}
		if d.i >= len(d.p) {
			return nil, errShort
		}
		switch d.p[d.i] {
		case mInt:
			if d.i+5 > len(d.p) {
				return nil, errShort
			}
			m[k] = int(int32(binary.LittleEndian.Uint32(d.p[d.i+1:])))
			d.i += 5
		case mTrue, mFalse:
			m[k] = d.p[d.i] == mTrue
			d.i++
		default:
			v, err := d.latin1("value", "")
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
	}
}

// DecodeRevoked decodes the payload of a Revoked frame: the marshal
// (version 2) encoding of (from, [ids...]) with every int in 0 .. 2**32-1.
// Anything else, or bytes after the value, is an error.
func DecodeRevoked(p []byte) (from uint32, ids []uint32, err error) {
	d := decoder{p: p}
	if n, ok := d.seqHeader(mTuple); !ok || n != 2 {
		return 0, nil, d.fail("revoked payload is not a 2-tuple")
	}
	if from, err = d.uint32(); err != nil {
		return 0, nil, err
	}
	n, ok := d.seqHeader(mList)
	if !ok {
		return 0, nil, d.fail("revoked ids are not a list")
	}
	ids = make([]uint32, 0, n)
	for k := 0; k < n; k++ {
		id, err := d.uint32()
		if err != nil {
			return 0, nil, err
		}
		ids = append(ids, id)
	}
	if d.i != len(d.p) {
		return 0, nil, d.fail("bytes after the revoked payload")
	}
	return from, ids, nil
}

type decoder struct {
	p []byte
	i int
}

func (d *decoder) fail(msg string) error {
	return fmt.Errorf("wire: %s at offset %d", msg, d.i)
}

// seqHeader consumes a tuple or list header of type t and returns its length.
func (d *decoder) seqHeader(t byte) (int, bool) {
	if d.i+5 > len(d.p) || d.p[d.i] != t {
		return 0, false
	}
	n := binary.LittleEndian.Uint32(d.p[d.i+1:])
	d.i += 5
	// Each element takes at least one byte; a larger count is corrupt.
	if int64(n) > int64(len(d.p)-d.i) {
		return 0, false
	}
	return int(n), true
}

// uint32 consumes an int in 0 .. 2**32-1: marshal writes those below 2**31
// as 'i' (int32) and the rest as 'l' (count of 15-bit digits, least
// significant first; a negative count is a negative number).
func (d *decoder) uint32() (uint32, error) {
	if d.i >= len(d.p) {
		return 0, errShort
	}
	switch d.p[d.i] {
	case mInt:
		if d.i+5 > len(d.p) {
			return 0, errShort
		}
		v := int32(binary.LittleEndian.Uint32(d.p[d.i+1:]))
		if v < 0 {
			return 0, d.fail("negative int")
		}
		d.i += 5
		return uint32(v), nil
	case mLong:
		if d.i+5 > len(d.p) {
			return 0, errShort
		}
		n := int32(binary.LittleEndian.Uint32(d.p[d.i+1:]))
		if n < 1 || n > 3 {
			return 0, d.fail("int out of range")
		}
		end := d.i + 5 + 2*int(n)
		if end > len(d.p) {
			return 0, errShort
		}
		var v uint64
		for k := int(n) - 1; k >= 0; k-- {
			digit := binary.LittleEndian.Uint16(d.p[d.i+5+2*k:])
			if digit >= 1<<15 {
				return 0, d.fail("bad long digit")
			}
			v = v<<15 | uint64(digit)
		}
		if v > 1<<32-1 {
			return 0, d.fail("int out of range")
		}
		d.i = end
		return uint32(v), nil
	}
	return 0, d.fail("not an int")
}

// latin1 consumes a str and returns it as latin-1 bytes. what (and name,
// when not empty) say what the str is, for the error message only.
func (d *decoder) latin1(what, name string) (string, error) {
	raw, err := d.sized(mUnicode, "str", what, name)
	if err != nil {
		return "", err
	}
	ascii := true
	for _, c := range raw {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(raw), nil
	}
	out := make([]byte, 0, len(raw))
	for len(raw) > 0 {
		r, size := utf8.DecodeRune(raw)
		if r > 0xFF || (r == utf8.RuneError && size == 1) {
			return "", headErr("%s contains %q, which is not latin-1 (PEP 3333 allows only code points up to U+00FF)", describe(what, name), r)
		}
		out = append(out, byte(r))
		raw = raw[size:]
	}
	return string(out), nil
}

// sized consumes an object of marshal type typ with a 32-bit length (a
// str or a bytes object) and returns its payload; kind, what and name
// word the error when the object is of another type.
func (d *decoder) sized(typ byte, kind, what, name string) ([]byte, error) {
	if d.i >= len(d.p) {
		return nil, errShort
	}
	if t := d.p[d.i]; t != typ {
		return nil, headErr("%s must be %s, not %s", describe(what, name), kind, typeName(t))
	}
	if d.i+5 > len(d.p) {
		return nil, errShort
	}
	n := int(binary.LittleEndian.Uint32(d.p[d.i+1:]))
	d.i += 5
	if n > len(d.p)-d.i {
		return nil, errShort
	}
	raw := d.p[d.i : d.i+n]
	d.i += n
	return raw, nil
}

// describe names a str for an error message: "value of header \"X\"".
func describe(what, name string) string {
	if name == "" {
		return what
	}
	return fmt.Sprintf("%s %q", what, name)
}

func typeName(t byte) string {
	switch t &^ 0x80 {
	case mNone:
		return "None"
	case mTrue, mFalse:
		return "bool"
	case mInt, 'l':
		return "int"
	case 'g', 'f':
		return "float"
	case mBytes:
		return "bytes"
	case mTuple, mSmallTuple:
		return "tuple"
	case mList:
		return "list"
	case mDict:
		return "dict"
	case mUnicode, mASCII, mShortASCII, mShortASCIIi, 'A', 't':
		return "str"
	case '<', '>':
		return "set"
	}
	return fmt.Sprintf("marshal type %q", t)
}
