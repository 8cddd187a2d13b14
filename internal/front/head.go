package front

import (
	"fmt"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// hopByHop are the headers PEP 3333 forbids an application to set: they
// describe one connection, which the server owns.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "TE", "Trailers", "Trailer", "Transfer-Encoding", "Upgrade"}

// parseStatus checks a WSGI status string ("200 OK": three digits, a space,
// a reason phrase without control characters) and splits it.
func parseStatus(s string) (int, string, error) {
	code, reason, err := splitStatus(s)
	if err == nil && code < 200 {
		return 0, "", fmt.Errorf("status %q: an informational (1xx) status cannot be a final response", s)
	}
	return code, reason, err
}

// parseInterim checks the status of an interim response ("103 Early
// Hints") as parseStatus checks a final one.
func parseInterim(s string) (int, string, error) {
	code, reason, err := splitStatus(s)
	if err == nil && (code < 100 || code > 199 || code == 101) {
		return 0, "", fmt.Errorf("status %q is not an interim (1xx) status", s)
	}
	return code, reason, err
}

// splitStatus checks the form of a status string and splits it.
func splitStatus(s string) (int, string, error) {
	if len(s) < 4 || s[3] != ' ' || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[2]) {
		return 0, "", fmt.Errorf("status %q is not of the form '200 OK'", s)
	}
	code := int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	reason := s[4:]
	for i := 0; i < len(reason); i++ {
		if c := reason[i]; c < ' ' && c != '\t' || c == 0x7f {
			return 0, "", fmt.Errorf("status %q contains a control character", s)
		}
	}
	return code, reason, nil
}

// isHopByHop reports whether a response header name is one of hopByHop.
// A WSGI application that sets one gets a 500 (checkField); an ASGI
// application's are dropped, as its shim always did: the front owns the
// connection.
func isHopByHop(name string) bool {
	switch len(name) {
	case 2, 7, 8, 10, 17, 18, 19: // the lengths of hopByHop's names
	default:
		return false
	}
	for _, h := range hopByHop {
		if isField(name, h) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// checkField validates one application header: a token name that is not
// hop-by-hop, and a value free of CR, LF and other controls (header
// injection). A Content-Length must be a plain number.
func checkField(f http1.Field) error {
	if f.Name == "" {
		return fmt.Errorf("empty response header name")
	}
	if !http1.ValidToken(f.Name) {
		i := strings.IndexFunc(f.Name, func(r rune) bool { return r > 0x7f || !http1.ValidToken(string(r)) })
		return fmt.Errorf("response header name %q contains %q, not allowed in a header name", f.Name, f.Name[i])
	}
	if !http1.ValidFieldValue(f.Value) {
		i := strings.IndexFunc(f.Value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f })
		return fmt.Errorf("value of response header %q contains the control character %q (CR/LF would allow header injection)", f.Name, f.Value[i])
	}
	if isHopByHop(f.Name) {
		return fmt.Errorf("response header %q is hop-by-hop; PEP 3333 leaves it to the server", f.Name)
	}
	if isField(f.Name, "Content-Length") {
		if f.Value == "" {
			return fmt.Errorf("Content-Length is empty")
		}
		for i := 0; i < len(f.Value); i++ {
			if !isDigit(f.Value[i]) {
				return fmt.Errorf("Content-Length %q is not a number", f.Value)
			}
		}
	}
	return nil
}

// checkTrailer validates one trailer field of the application's: a header
// field (checkField) that may also be a trailer, which one that frames,
// routes, authenticates or describes the content may not (RFC 9110
// §6.5.1; the list Go's HTTP/2 server applies, httpguts.ValidTrailerHeader).
func checkTrailer(f http1.Field) error {
	if err := checkField(f); err != nil {
		return err
	}
	if !httpguts.ValidTrailerHeader(f.Name) {
		return fmt.Errorf("%q cannot be a trailer field (RFC 9110 section 6.5.1)", f.Name)
	}
	return nil
}

// checkTrailerNames validates the Trailer field the application declared:
// a list of names that may be trailer fields.
func checkTrailerNames(names string) error {
	for _, name := range strings.Split(names, ",") {
		if name = strings.Trim(name, " \t"); name != "" {
			if err := checkTrailer(http1.Field{Name: name}); err != nil {
				return fmt.Errorf("Trailer %q: %w", names, err)
			}
		}
	}
	return nil
}
