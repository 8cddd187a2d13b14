package http1

import "math"

// This file holds the request rules: what a method, a request-target, a
// field name, a field value, a Host and a Content-Length may be. The
// HTTP/1.x parser applies them as it reads a head; the exported functions
// below apply the very same code to requests that reached gowsgi another
// way (HTTP/2 streams, a trusted proxy's X-Forwarded-Host), so that every
// protocol refuses what HTTP/1.1 refuses, with the same status.

// Byte classes, indexed by octet.
var (
	isTchar    [256]bool // RFC 9110 tchar: the octets of a token
	isValueOct [256]bool // field-value octets: HTAB, SP, VCHAR, obs-text
	isTargetOc [256]bool // request-target octets: anything but CTLs, SP and DEL
	isRegName  [256]bool // RFC 3986 reg-name octets: unreserved, sub-delims, '%'
	isIPLit    [256]bool // octets inside an IP-literal's brackets
	isHexDigit [256]bool
)

func init() {
	for c := 0; c < 256; c++ {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		isTchar[c] = alnum
		isRegName[c] = alnum
		isIPLit[c] = alnum
		isValueOct[c] = c == '\t' || c >= 0x20 && c != 0x7f
		isTargetOc[c] = c > ' ' && c != 0x7f // obs-text is let through, as the doc says
		isHexDigit[c] = c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		isTchar[c] = true
	}
	for _, c := range []byte("-._~!$&'()*+,;=%") {
		isRegName[c] = true
	}
	for _, c := range []byte(":.-_~!$&'()*+,;=%") {
		isIPLit[c] = true
	}
}

// tokenLen is the length of the token (RFC 9110 §5.6.2) at the start of s.
func tokenLen[S ~string | ~[]byte](s S) int {
	i := 0
	for i < len(s) && isTchar[s[i]] {
		i++
	}
	return i
}

// targetLen is the length of the run of request-target octets at the start
// of s.
func targetLen[S ~string | ~[]byte](s S) int {
	i := 0
	for i < len(s) && isTargetOc[s[i]] {
		i++
	}
	return i
}

// ValidToken reports whether s is a token: what a method and a field name
// must be (RFC 9110 §9.1, §5.1).
func ValidToken(s string) bool { return s != "" && tokenLen(s) == len(s) }

// The forms of request-target (RFC 9112 §3.2).
const (
	formOrigin    = iota // "/path?query"
	formAbsolute         // "http://host/path?query"
	formAuthority        // "host:port", CONNECT only
	formAsterisk         // "*", OPTIONS only
)

// checkTarget decides the form of a request-target t, whose octets were
// checked, and checks that the form is allowed with the method (RFC 9112
// §3.2). It returns the form, where the authority starts in the absolute
// form, and 0 or 400.
func checkTarget[S ~string | ~[]byte](method, t S) (form, authorityStart, status int) {
	connect := string(method) == "CONNECT"
	switch {
	case len(t) == 0:
		return 0, 0, 400
	case t[0] == '/':
		if connect {
			return 0, 0, 400
		}
		return formOrigin, 0, 0
	case len(t) == 1 && t[0] == '*':
		if string(method) != "OPTIONS" {
			return 0, 0, 400
		}
		return formAsterisk, 0, 0
	case schemeLen(t) > 0:
		if connect {
			return 0, 0, 400
		}
		n := schemeLen(t)
		a := authorityEnd(t[n:])
		if !validHost(t[n:n+a], false, false) {
			return 0, 0, 400
		}
		return formAbsolute, n, 0
	default:
		if !connect || !validHost(t, false, true) {
			return 0, 0, 400
		}
		return formAuthority, 0, 0
	}
}

// splitTarget splits a checked request-target into what Request documents:
// the absolute form's authority (hasHost), the path ("/" when the absolute
// form has none, "*" for the asterisk form, "" for the authority form) and
// the query, with any fragment dropped.
func splitTarget(form, authorityStart int, t string) (host string, hasHost bool, path, rawQuery string) {
	switch form {
	case formAsterisk:
		return "", false, "*", ""
	case formAuthority:
		return "", false, "", ""
	case formAbsolute:
		t = t[authorityStart:]
		a := authorityEnd(t)
		host, hasHost = t[:a], true
		t = t[a:]
	}
	for i := 0; i < len(t); i++ {
		if t[i] == '#' {
			t = t[:i]
			break
		}
	}
	path = t
	for i := 0; i < len(t); i++ {
		if t[i] == '?' {
			path, rawQuery = t[:i], t[i+1:]
			break
		}
	}
	if path == "" {
		path = "/"
	}
	return host, hasHost, path, rawQuery
}

// Target is a request-target that passed ParseTarget, split as Request's
// Host, Path and RawQuery are.
type Target struct {
	// Absolute is set for the absolute form ("http://a/p"); Authority is
	// then its authority.
	Absolute  bool
	Authority string
	// Path and RawQuery are as in Request.
	Path, RawQuery string
}

// ParseTarget checks a method and request-target with the HTTP/1.1
// parser's rules and splits the target. The method must be a token; the
// target must be non-empty, hold no control character, SP or DEL, and be
// of a form its method allows: origin form ("/p?q"), absolute form with a
// valid authority, "*" for OPTIONS only, host:port for CONNECT only.
// status is 0 when both pass, else 400.
func ParseTarget(method, target string) (t Target, status int) {
	if !ValidToken(method) || targetLen(target) != len(target) {
		return Target{}, 400
	}
	form, as, st := checkTarget(method, target)
	if st != 0 {
		return Target{}, st
	}
	t.Authority, t.Absolute, t.Path, t.RawQuery = splitTarget(form, as, target)
	return t, 0
}

// schemeLen returns the length of an "http://" or "https://" prefix of t
// (scheme compared case-insensitively), or 0 when t has neither.
func schemeLen[S ~string | ~[]byte](t S) int {
	if len(t) >= 7 && lowerEq(t[:4], "http") {
		if string(t[4:7]) == "://" {
			return 7
		}
		if len(t) >= 8 && lower(t[4]) == 's' && string(t[5:8]) == "://" {
			return 8
		}
	}
	return 0
}

// authorityEnd returns the length of the authority at the start of s, which
// ends at the first '/', '?' or '#'.
func authorityEnd[S ~string | ~[]byte](s S) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || s[i] == '?' || s[i] == '#' {
			return i
		}
	}
	return len(s)
}

// ValidHost reports whether h is what a Host header may hold, non-empty:
// uri-host [":" port] (RFC 9110 §7.2), with no userinfo. It is the rule for
// a trusted proxy's X-Forwarded-Host and Forwarded host= too, and for an
// HTTP/2 request's :authority.
func ValidHost(h string) bool { return validHost(h, false, false) }

// validHost reports whether h is a valid uri-host [":" port] (RFC 9110
// §7.2). Userinfo is refused, as RFC 9110 §4.2.4 asks. An empty h is valid
// only when allowEmpty is set (a Host header may be empty); needPort
// requires the ":port" part (CONNECT's authority form).
func validHost[S ~string | ~[]byte](h S, allowEmpty, needPort bool) bool {
	if len(h) == 0 {
		return allowEmpty && !needPort
	}
	var rest S
	if h[0] == '[' {
		k := 1
		for k < len(h) && h[k] != ']' {
			if !isIPLit[h[k]] {
				return false
			}
			k++
		}
		if k == len(h) || k == 1 {
			return false
		}
		rest = h[k+1:]
	} else {
		k := 0
		for k < len(h) && h[k] != ':' {
			if !isRegName[h[k]] {
				return false
			}
			k++
		}
		if k == 0 {
			return false
		}
		rest = h[k:]
	}
	if len(rest) == 0 {
		return !needPort
	}
	if rest[0] != ':' {
		return false
	}
	for i := 1; i < len(rest); i++ {
		if !isDigit(rest[i]) {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether v holds only field-value octets: HTAB,
// SP, VCHAR and obs-text (RFC 9110 §5.5), the HTTP/1.1 parser's rule for a
// (trimmed) value.
func ValidFieldValue(v string) bool { return validValueString(v) }

// validValue reports whether v holds only field-value octets: HTAB, SP,
// VCHAR and obs-text (RFC 9110 §5.5). This is the hottest loop of request
// parsing, and of response heads (every field the application or gowsgi
// sets), so it tests eight octets at a time for any octet below 0x20 or
// equal to 0x7F, and only looks closer at the rare words that have one
// (usually an HTAB).
func validValue[S ~string | ~[]byte](v S) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := load64(v)
		y := x ^ (0x7f * lo)
		// Nonzero exactly when some octet is < 0x20, or == 0x7F.
		if ((x-0x20*lo)&^x|(y-lo)&^y)&hi != 0 {
			for i := 0; i < 8; i++ {
				if !isValueOct[v[i]] {
					return false
				}
			}
		}
		v = v[8:]
	}
	for i := 0; i < len(v); i++ {
		if !isValueOct[v[i]] {
			return false
		}
	}
	return true
}

// load64 is v's first eight octets as a little-endian word (the compiler
// makes it one load).
func load64[S ~string | ~[]byte](v S) uint64 {
	_ = v[7]
	return uint64(v[0]) | uint64(v[1])<<8 | uint64(v[2])<<16 | uint64(v[3])<<24 |
		uint64(v[4])<<32 | uint64(v[5])<<40 | uint64(v[6])<<48 | uint64(v[7])<<56
}

// validValueString is validValue for strings: response fields, and
// requests that did not come through the parser.
func validValueString(v string) bool { return validValue(v) }

// contentLength applies the request rule for Content-Length, one field at
// a time: one field line holding 1*DIGIT, nothing else. A list ("5, 5") or
// a repeated field, even with equal values, is refused. RFC 9110 §8.6 lets
// a recipient accept those, but a proxy in front that reads them otherwise
// (first value, last value, refusal) frames the message differently from
// us: request smuggling. The zero value has seen no field.
type contentLength struct {
	n    int64 // the length; meaningful when seen && !bad
	seen bool
	bad  bool
}

func (c *contentLength) add(v string) {
	n, ok := parseDigits(v)
	if !ok || c.seen {
		c.bad = true
	}
	c.n, c.seen = n, true
}

// RequestContentLength applies the HTTP/1.1 parser's Content-Length rule
// to a request's fields: n is the length (-1 without the field); ok is
// false (answer 400) for a value that is not exactly 1*DIGIT or for more
// than one Content-Length field.
func RequestContentLength(fields []Field) (n int64, ok bool) {
	var cl contentLength
	for _, f := range fields {
		if len(f.Name) == 14 && lowerEq(f.Name, "content-length") {
			cl.add(f.Value)
		}
	}
	if !cl.seen {
		return -1, true
	}
	return cl.n, !cl.bad
}

// parseDigits parses a request's Content-Length field value, which must be
// exactly 1*DIGIT (leading zeros allowed) and fit an int64.
func parseDigits(v string) (int64, bool) {
	if v == "" {
		return -1, false
	}
	var m int64
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) || m > (math.MaxInt64-int64(v[i]-'0'))/10 {
			return -1, false
		}
		m = m*10 + int64(v[i]-'0')
	}
	return m, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// lowerEq reports whether s equals the lower-case ASCII string l, ignoring
// ASCII case in s.
func lowerEq[S ~string | ~[]byte](s S, l string) bool {
	if len(s) != len(l) {
		return false
	}
	for i := 0; i < len(l); i++ {
		if lower(s[i]) != l[i] {
			return false
		}
	}
	return true
}
