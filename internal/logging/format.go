// Package logging holds what gowsgi's two logs share: destinations that
// can be reopened for logrotate (SIGUSR1, as gunicorn), the error log's
// slog handler (text or JSON), and gunicorn's access_log_format syntax.
package logging

import (
	"fmt"
	"strings"
)

// Atom is one piece of a parsed access log format: literal text, or one of
// gunicorn's atoms (see glogging.Logger.atoms).
type Atom struct {
	// Lit is literal text, when Key is "".
	Lit string
	// Key is the atom: "h", "r", "s"...; for the header and environ forms
	// %({name}i)s, %({name}o)s and %({name}e)s it is "i", "o" or "e".
	Key string
	// Name is the header or environ variable of an i/o/e atom, as given
	// (gunicorn matches it case-insensitively).
	Name string
}

// Atoms are gunicorn's simple atoms and what they stand for.
var Atoms = map[string]string{
	"h": "remote address (REMOTE_ADDR)",
	"l": "'-'",
	"u": "user name (HTTP Basic auth)",
	"t": "date of the request, [10/Oct/2000:13:55:36 -0700]",
	"r": "status line (GET /path HTTP/1.1)",
	"m": "request method",
	"U": "URL path without query string",
	"q": "query string",
	"H": "protocol",
	"s": "status",
	"B": "response length",
	"b": "response length or '-' (CLF format)",
	"f": "referrer",
	"a": "user agent",
	"T": "request time in seconds",
	"D": "request time in microseconds",
	"M": "request time in milliseconds",
	"L": "request time in decimal seconds",
	"p": "process ID",
}

// ParseAccessFormat reads gunicorn's access_log_format, Python %-formatting
// with a mapping: %(h)s, %({x-request-id}i)s, %% for a percent sign. Unknown
// atoms are kept and print "-", as gunicorn's SafeAtoms do.
func ParseAccessFormat(f string) ([]Atom, error) {
	var out []Atom
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, Atom{Lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		if i+1 >= len(f) || f[i+1] != '(' {
			return nil, fmt.Errorf("access log format %q: %% at offset %d must start %%(name)s or be %%%%", f, i)
		}
		end := strings.IndexByte(f[i+2:], ')')
		if end < 0 {
			return nil, fmt.Errorf("access log format %q: unclosed %%( at offset %d", f, i)
		}
		key := f[i+2 : i+2+end]
		j := i + 2 + end + 1
		// Python's conversion flags and width are accepted and ignored;
		// the value is always written as a string.
		for j < len(f) && strings.IndexByte("#0- +123456789.", f[j]) >= 0 {
			j++
		}
		if j >= len(f) || strings.IndexByte("sdirfaxX", f[j]) < 0 {
			return nil, fmt.Errorf("access log format %q: %%(%s) needs a conversion such as s", f, key)
		}
		i = j
		flush()
		a := Atom{Key: key}
		if len(key) > 3 && key[0] == '{' && key[len(key)-2] == '}' {
			switch key[len(key)-1] {
			case 'i', 'o', 'e':
				a = Atom{Key: key[len(key)-1:], Name: key[1 : len(key)-2]}
			}
		}
		out = append(out, a)
	}
	flush()
	return out, nil
}
