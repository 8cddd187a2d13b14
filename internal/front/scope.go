package front

import (
	"crypto/tls"
	"encoding/pem"
	"net"
	"strings"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// appendScope encodes the ASGI HTTP scope of r (asgiref's www.rst) for an
// ASGI worker: its values, in the order of wire's ScopeFields (the worker
// adds the keys, "type", "asgi", "state" and the extensions every request
// advertises). Every field comes from the facts appendEnviron gives a
// WSGI worker, decided the same way: the root path split, the one trust
// decision on proxy headers (originOf) for scheme and client, and the
// listening address for server.
//
//	http_version  "1.0", "1.1" or "2"
//	method        the request method
//	scheme        "http" or "https", or what a trusted proxy says
//	path          the percent-decoded path of the request-target, UTF-8
//	              decoded with U+FFFD for invalid bytes
//	raw_path      the request-target's path, as received
//	query_string  what follows "?", as received
//	root_path     --root-path; the worker puts it before path and
//	              raw_path when the app takes it there (asgi.py's
//	              root_in_path), so the rule lives in one place
//	headers       every field as received, in order, duplicates kept,
//	              names lower-cased, as (bytes, bytes); HTTP/2's
//	              :authority first as host when no Host field came
//	client        (address, port) of the peer or of the trusted proxy's
//	              client (port 0 when it gave none); None on a Unix socket
//	server        the listening address the request came in on (scopeServer):
//	              (host, port), or (path, None) on a Unix socket; never
//	              the Host header nor a proxy's word (uvicorn's rule)
//	tls           the tls extension over TLS, else None
//	request_id    the ID gowsgi answers with (gowsgi.request_id), or None
func (h *Handler) appendScope(e *wire.Environ, r *request) {
	o := originOf(h.Forwarded, h.Scheme, r.Request)
	e.Latin1(asgiHTTPVersion(r.proto))
	e.Latin1(r.Method)
	e.Latin1(o.scheme)

	// path and raw_path as received: the worker puts root_path in front
	// where the app expects it there (asgi.py's root_in_path, prefix_root).
	e.Text(unquote(r.Path))
	e.Bytes(r.Path) // the target's path, as received (of an absolute-form target too)
	e.Bytes(r.RawQuery)
	e.Text(h.RootPath)

	addHost := r.Host != "" && !hasField(r.Header, "Host")
	n := len(r.Header)
	if addHost {
		n++
	}
	e.List(n)
	if addHost {
		e.Tuple(2)
		e.Bytes("host")
		e.Bytes(r.Host)
	}
	for _, f := range r.Header {
		e.Tuple(2)
		e.LowerBytes(f.Name)
		e.Bytes(f.Value)
	}

	if o.remoteAddr == "" {
		e.None()
	} else {
		e.Tuple(2)
		e.Latin1(o.remoteAddr)
		if p, ok := portNumber(o.remotePort); ok {
			e.Int(p)
		} else {
			e.Int(0)
		}
	}
	if host, port, ok := scopeServer(r.LocalAddr); !ok {
		e.None()
	} else {
		e.Tuple(2)
		e.Text(host)
		if port >= 0 {
			e.Int(int64(port))
		} else {
			e.None()
		}
	}

	if r.TLS != nil {
		appendTLSExtension(e, r.TLS)
	} else {
		e.None()
	}
	if r.ID != "" {
		e.Latin1(r.ID)
	} else {
		e.None()
	}
}

// scopeServer is an ASGI scope's server (asgiref's www.rst: "[host, port]
// where host is the listening address for this server, and port is the
// integer listening port", "[path, None]" for a Unix socket): the local
// address of the connection, as uvicorn gives it (getsockname), also
// behind a trusted proxy, whose headers change only client and scheme.
// The PROXY protocol's destination address stands in for the local
// address, as it does for everything else the connection tells. port is
// -1 for a Unix socket; ok is false when there is no address to give (an
// unnamed socket). WSGI's SERVER_NAME and SERVER_PORT stay Host-based, as
// PEP 3333 and CGI say (serverNamePort).
func scopeServer(a net.Addr) (host string, port int, ok bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String(), a.Port, true
	case *net.UnixAddr:
		return a.Name, -1, a.Name != ""
	}
	return "", 0, false
}

// appendTLSExtension encodes the scope's tls extension (asgiref's
// tls.rst): the session's version and cipher suite numbers, and the
// client's certificate chain (PEM, leaf first) and subject (RFC 4514)
// when it sent one.
func appendTLSExtension(e *wire.Environ, st *tls.ConnectionState) {
	e.Dict()
	e.Key("server_cert")
	e.None()
	e.Key("client_cert_chain")
	e.List(len(st.PeerCertificates))
	for _, c := range st.PeerCertificates {
		e.Latin1(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	e.Key("client_cert_name")
	if len(st.PeerCertificates) > 0 {
		e.Text(st.PeerCertificates[0].Subject.String())
	} else {
		e.None()
	}
	e.Key("client_cert_error")
	e.None()
	e.Key("tls_version")
	e.Int(int64(st.Version))
	e.Key("cipher_suite")
	e.Int(int64(st.CipherSuite))
	e.EndDict()
}

// asgiHTTPVersion is the scope's http_version for a request's protocol
// ("HTTP/1.1" → "1.1", HTTP/2's "HTTP/2.0" → "2").
func asgiHTTPVersion(proto string) string {
	switch proto {
	case "HTTP/1.1":
		return "1.1"
	case "HTTP/1.0":
		return "1.0"
	case "HTTP/2.0", "HTTP/2":
		return "2"
	}
	return strings.TrimPrefix(proto, "HTTP/")
}

// portNumber reads a port as Python's int() would read the digits a CGI
// environ holds; ok is false when s is empty or not all digits.
func portNumber(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
