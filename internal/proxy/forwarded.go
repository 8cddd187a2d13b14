package proxy

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// DefaultSchemeHeaders is gunicorn's secure_scheme_headers: a trusted
// proxy's header, upper-cased, and the value that means the client used
// https (any other value means http).
var DefaultSchemeHeaders = map[string]string{
	"X-FORWARDED-PROTOCOL": "ssl",
	"X-FORWARDED-PROTO":    "https",
	"X-FORWARDED-SSL":      "on",
}

// Forwarding says which peers' forwarding headers are believed, and how the
// scheme is read from them.
type Forwarding struct {
	// Trusted are the proxies whose headers are believed
	// (--forwarded-allow-ips). From other peers the headers are plain
	// request headers and change nothing.
	Trusted *AllowList
	// SchemeHeaders is gunicorn's secure_scheme_headers, names upper-cased.
	SchemeHeaders map[string]string

	schemes []schemeHeader // SchemeHeaders as a slice, by NewForwarding
}

type schemeHeader struct{ name, https string }

// NewForwarding returns the Forwarding for trusted peers and scheme headers
// (nil = DefaultSchemeHeaders), prepared for the per-request path.
func NewForwarding(trusted *AllowList, schemeHeaders map[string]string) *Forwarding {
	if schemeHeaders == nil {
		schemeHeaders = DefaultSchemeHeaders
	}
	f := &Forwarding{Trusted: trusted, SchemeHeaders: schemeHeaders}
	for k, v := range schemeHeaders {
		f.schemes = append(f.schemes, schemeHeader{k, v})
	}
	return f
}

// Origin is what a trusted proxy's headers say about the client's request.
// Empty fields: the headers did not say; the connection's values stand.
type Origin struct {
	// Scheme is "https" or "http", from secure_scheme_headers, else from
	// Forwarded's proto=.
	Scheme string
	// Addr is the client's IP address: the nearest untrusted address in
	// the X-Forwarded-For (or Forwarded for=) chain, walking from the right.
	Addr string
	// Port is the client's port, when the chain's entry carried one.
	Port string
	// Host is the Host the client asked for (X-Forwarded-Host, Forwarded
	// host=), port included if it had one; a value that is not a valid
	// Host is ignored.
	Host string
	// ServerPort is X-Forwarded-Port: the port the client connected to.
	ServerPort string
}

// Resolve reads the forwarding headers of a request that came from a
// trusted peer; the caller has checked f.Trusted.TrustsPeer. Conflicting
// secure_scheme_headers (one says https, another http), which gunicorn
// answers with 400, leave the connection's scheme: gowsgi never claims
// https on a contradiction.
func (f *Forwarding) Resolve(fields []http1.Field) Origin {
	var o Origin
	var xff []string // X-Forwarded-For values, in order
	var fwd []string // Forwarded values, in order
	var xfh string   // the last X-Forwarded-Host item
	schemeSet, conflict := false, false
	for _, fl := range fields {
		name := fl.Name
		switch len(name) {
		case 9:
			if strings.EqualFold(name, "Forwarded") {
				fwd = append(fwd, fl.Value)
				continue
			}
		case 15:
			if strings.EqualFold(name, "X-Forwarded-For") {
				xff = append(xff, fl.Value)
				continue
			}
		case 16:
			if strings.EqualFold(name, "X-Forwarded-Host") {
				if v := lastItem(fl.Value); v != "" {
					xfh = v
				}
				continue
			}
			if strings.EqualFold(name, "X-Forwarded-Port") {
				if v := lastItem(fl.Value); validPort(v) {
					o.ServerPort = v
				}
				continue
			}
		}
		if len(f.SchemeHeaders) > 0 {
			if want, ok := f.schemeHeader(name); ok {
				s := "http"
				if strings.TrimSpace(fl.Value) == want {
					s = "https"
				}
				if schemeSet && s != o.Scheme {
					conflict = true
				}
				schemeSet, o.Scheme = true, s
			}
		}
	}
	if conflict {
		o.Scheme = ""
	}
	if validHost(xfh) {
		o.Host = xfh
	}
	if len(fwd) > 0 {
		f.resolveForwarded(&o, fwd, schemeSet)
	} else if len(xff) > 0 {
		f.resolveChain(&o, xff)
	}
	return o
}

// schemeHeader looks name up in SchemeHeaders, case-insensitively.
func (f *Forwarding) schemeHeader(name string) (string, bool) {
	if f.schemes != nil {
		for _, sh := range f.schemes {
			if len(sh.name) == len(name) && strings.EqualFold(sh.name, name) {
				return sh.https, true
			}
		}
		return "", false
	}
	for k, v := range f.SchemeHeaders {
		if len(k) == len(name) && strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// resolveChain walks X-Forwarded-For from the right: each trusted address
// is a proxy that forwarded the request; the first untrusted one is the
// client. When every address is trusted, the leftmost is the client.
func (f *Forwarding) resolveChain(o *Origin, values []string) {
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for {
			item := v
			j := strings.LastIndexByte(v, ',')
			if j >= 0 {
				item, v = v[j+1:], v[:j]
			}
			if stop := f.step(o, strings.TrimSpace(item)); stop {
				return
			}
			if j < 0 {
				break
			}
		}
	}
}

// step takes one chain entry, right to left, and reports whether the walk
// ends here: at an untrusted address (the client), or at an entry that is
// not an address ("unknown", an obfuscated name), where the nearest proxy's
// word is the last one believed.
func (f *Forwarding) step(o *Origin, item string) bool {
	if item == "" {
		return false
	}
	ip, port, ok := parseNode(item)
	if !ok {
		return true
	}
	o.Addr, o.Port = ip.String(), port
	return !f.Trusted.Contains(ip)
}

// resolveForwarded reads RFC 7239 Forwarded: elements are walked from the
// right by their for=, as X-Forwarded-For; proto= and host= come from the
// element of the client found (what the client's request was).
func (f *Forwarding) resolveForwarded(o *Origin, values []string, schemeSet bool) {
	elems := parseForwarded(values)
	at := -1
	for i := len(elems) - 1; i >= 0; i-- {
		at = i
		if f.step(o, elems[i].forNode) {
			break
		}
	}
	if at < 0 {
		return
	}
	e := elems[at]
	if !schemeSet {
		switch strings.ToLower(e.proto) {
		case "https":
			o.Scheme = "https"
		case "http":
			o.Scheme = "http"
		}
	}
	if validHost(e.host) {
		o.Host = e.host
	}
}

// validHost reports whether a forwarded host (X-Forwarded-Host, Forwarded
// host=) may stand for the Host the client asked for: it must pass the
// Host header's own rule (http1.ValidHost: uri-host [":" port], no
// userinfo, no path, no spaces). One that does not is ignored, as if the
// proxy had not sent it, and the request keeps its own Host: gunicorn and
// uvicorn never take the host from these headers, so ignoring a bad one
// keeps their behaviour, where a 400 would fail every request behind a
// proxy with one wrong setting.
func validHost(h string) bool { return h != "" && http1.ValidHost(h) }

type forwardedElem struct{ forNode, proto, host string }

// parseForwarded splits Forwarded values into elements (comma-separated,
// pairs separated by ';', values token or quoted-string).
func parseForwarded(values []string) []forwardedElem {
	var out []forwardedElem
	for _, v := range values {
		var e forwardedElem
		for len(v) > 0 {
			v = strings.TrimLeft(v, " \t")
			eq := strings.IndexByte(v, '=')
			if eq < 0 {
				break
			}
			key := strings.ToLower(strings.TrimSpace(v[:eq]))
			v = v[eq+1:]
			var val string
			if strings.HasPrefix(v, `"`) {
				var b strings.Builder
				i := 1
				for ; i < len(v) && v[i] != '"'; i++ {
					if v[i] == '\\' && i+1 < len(v) {
						i++
					}
					b.WriteByte(v[i])
				}
				val = b.String()
				v = v[min(i+1, len(v)):]
			} else {
				i := strings.IndexAny(v, ";,")
				if i < 0 {
					i = len(v)
				}
				val, v = strings.TrimSpace(v[:i]), v[i:]
			}
			switch key {
			case "for":
				e.forNode = val
			case "proto":
				e.proto = val
			case "host":
				e.host = val
			}
			v = strings.TrimLeft(v, " \t")
			if strings.HasPrefix(v, ";") {
				v = v[1:]
			} else if strings.HasPrefix(v, ",") {
				out = append(out, e)
				e = forwardedElem{}
				v = v[1:]
			}
		}
		out = append(out, e)
	}
	return out
}

// parseNode reads a chain entry: an IP, IP:port, [IPv6] or [IPv6]:port.
func parseNode(s string) (netip.Addr, string, bool) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap(), "", true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), strconv.Itoa(int(ap.Port())), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if ip, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return ip, "", true
		}
	}
	return netip.Addr{}, "", false
}

// lastItem is the rightmost element of a comma-separated value: what the
// nearest proxy set.
func lastItem(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

func validPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
}
