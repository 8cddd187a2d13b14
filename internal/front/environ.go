package front

import (
	"crypto/tls"
	"encoding/pem"
	"net"
	"strconv"
	"strings"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/proxy"
	"github.com/gowsgi/gowsgi/internal/wire"
)

// appendEnviron adds the CGI part of the WSGI environ for r (PEP 3333
// "environ Variables"); the worker adds the wsgi.* objects. bodyLen is the
// length of the body as read, so a chunked request gets a real
// CONTENT_LENGTH, which apps that ignore wsgi.input_terminated rely on.
func (h *Handler) appendEnviron(e *wire.Environ, r *request, bodyLen int64) {
	e.Add("REQUEST_METHOD", r.Method)
	path := unquote(r.Path)
	script := h.RootPath
	if script != "" && strings.HasPrefix(path, script) && (len(path) == len(script) || path[len(script)] == '/') {
		path = path[len(script):]
	}
	e.Add("SCRIPT_NAME", script)
	e.Add("PATH_INFO", path)
	e.Add("QUERY_STRING", r.RawQuery)
	e.Add("REQUEST_URI", r.Target)
	e.Add("RAW_URI", r.Target)
	e.Add("SERVER_PROTOCOL", r.Proto())
	o := originOf(h.Forwarded, h.Scheme, r.Request)
	e.Add("wsgi.url_scheme", o.scheme)

	name, port := o.serverNamePort(r.Request)
	e.Add("SERVER_NAME", name)
	e.Add("SERVER_PORT", port)
	e.Add("REMOTE_ADDR", o.remoteAddr)
	e.Add("REMOTE_PORT", o.remotePort)
	if o.hostForwarded || o.host != "" && !hasField(r.Header, "Host") {
		// The forwarded host, or HTTP/2's :authority, which comes with no
		// Host field: PEP 3333 apps (Django, Flask's url_for) read HTTP_HOST.
		e.Add("HTTP_HOST", o.host)
	}
	if r.ID != "" {
		// The ID gowsgi gave the request, under a key of its own: an
		// HTTP_X_REQUEST_ID is there only when the client sent one.
		e.Add("gowsgi.request_id", r.ID)
	}
	if r.Chunked || r.ContentLength > 0 || hasField(r.Header, "Content-Length") {
		// Also "0" for an explicit empty body, as requests.post(url) sends.
		e.Add("CONTENT_LENGTH", strconv.FormatInt(bodyLen, 10))
	}

	var kb [128]byte
	key := kb[:0]
	for i, f := range r.Header {
		if strings.IndexByte(f.Name, '_') >= 0 {
			// "X_Forwarded_For" must not pass for "X-Forwarded-For".
			continue
		}
		switch {
		case strings.EqualFold(f.Name, "Content-Type"):
			e.Add("CONTENT_TYPE", f.Value)
			continue
		case strings.EqualFold(f.Name, "Content-Length"):
			continue // set above from what was read
		case r.Chunked && strings.EqualFold(f.Name, "Transfer-Encoding"):
			continue // the worker gets the body de-chunked
		case o.hostForwarded && strings.EqualFold(f.Name, "Host"):
			continue // HTTP_HOST is the forwarded host, added above
		}
		if hasField(r.Header[:i], f.Name) {
			continue // already joined into the first occurrence
		}
		key = append(key[:0], "HTTP_"...)
		for j := 0; j < len(f.Name); j++ {
			c := f.Name[j]
			switch {
			case c == '-':
				c = '_'
			case 'a' <= c && c <= 'z':
				c -= 'a' - 'A'
			}
			key = append(key, c)
		}
		e.AddKey(key)
		e.AddValue(joinValues(f, r.Header[i+1:]))
	}
	if u, ok := h.Upstream.(asgiTeller); ok && u.ASGI() {
		appendRawHeaders(e, r.Request)
		appendASGITLS(e, r.TLS)
		appendASGIServer(e, r.LocalAddr)
	}
}

// appendASGIServer adds what the ASGI scope's server is (scopeServer), for
// websocket_scope: gowsgi.server_host, and gowsgi.server_port, empty on a
// Unix socket. SERVER_NAME and SERVER_PORT are the Host's, for WSGI.
func appendASGIServer(e *wire.Environ, a net.Addr) {
	if host, port, ok := scopeServer(a); ok {
		e.Add("gowsgi.server_host", host)
		if port >= 0 {
			e.Add("gowsgi.server_port", strconv.Itoa(port))
		} else {
			e.Add("gowsgi.server_port", "")
		}
	}
}

// asgiTeller is an Upstream that knows whether its workers serve ASGI
// (PoolUpstream): an HTTP request then goes as its ASGI scope
// (appendScope), and a WebSocket's environ also carries what
// websocket_scope needs.
type asgiTeller interface{ ASGI() bool }

// asgi reports whether the upstream's workers serve an ASGI application.
func (h *Handler) asgi() bool {
	u, ok := h.Upstream.(asgiTeller)
	return ok && u.ASGI()
}

// appendASGITLS adds what the ASGI tls extension needs beyond the SSL_*
// variables: gowsgi.tls, the TLS version and cipher suite numbers
// ("772,4865"), and gowsgi.tls_client_chain, the client's certificates
// as PEM, leaf first.
func appendASGITLS(e *wire.Environ, st *tls.ConnectionState) {
	if st == nil {
		return
	}
	e.Add("gowsgi.tls", strconv.Itoa(int(st.Version))+","+strconv.Itoa(int(st.CipherSuite)))
	if len(st.PeerCertificates) > 0 {
		var b strings.Builder
		for _, c := range st.PeerCertificates {
			pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		e.Add("gowsgi.tls_client_chain", b.String())
	}
}

// appendRawHeaders adds gowsgi.headers for an ASGI worker: every header
// field as received, in order, duplicates kept, as "name\x00value\x00..."
// (a field never holds a NUL), which the ASGI scope's headers need and the
// HTTP_* variables, joined and filtered for WSGI, no longer tell. A request
// without a Host field (HTTP/2's :authority) gets one first.
func appendRawHeaders(e *wire.Environ, r *http1.Request) {
	var b strings.Builder
	if r.Host != "" && !hasField(r.Header, "Host") {
		b.WriteString("host\x00")
		b.WriteString(r.Host)
		b.WriteByte(0)
	}
	for _, f := range r.Header {
		b.WriteString(f.Name)
		b.WriteByte(0)
		b.WriteString(f.Value)
		b.WriteByte(0)
	}
	s := b.String()
	e.Add("gowsgi.headers", strings.TrimSuffix(s, "\x00"))
}

// hasField reports whether fields has one named name (case-insensitively).
func hasField(fields []http1.Field, name string) bool {
	for _, g := range fields {
		if strings.EqualFold(g.Name, name) {
			return true
		}
	}
	return false
}

// joinValues joins the values of f and of later fields of the same name with
// ",", as RFC 9110 §5.3 allows for list-valued fields.
func joinValues(f http1.Field, rest []http1.Field) string {
	v := f.Value
	for _, g := range rest {
		if strings.EqualFold(g.Name, f.Name) {
			v += "," + g.Value
		}
	}
	return v
}

// origin is where a request came from and what it asked for: the
// connection's values, or what a trusted proxy's headers say.
type origin struct {
	scheme                 string // wsgi.url_scheme
	remoteAddr, remotePort string
	host                   string // the Host asked for: HTTP_HOST, SERVER_NAME
	hostForwarded          bool   // host comes from a proxy header, not Host
	serverPort             string // X-Forwarded-Port; "" = from host
}

// originOf reads r's origin. The common case, no proxy or an untrusted
// peer, costs one check of the peer address; only a trusted peer's headers
// are read (see proxy.Forwarding.Resolve).
func originOf(fwd *proxy.Forwarding, scheme string, r *http1.Request) origin {
	if scheme == "https" && r.TLS == nil {
		scheme = "http" // a plain bind next to the TLS ones (--insecure-bind)
	}
	o := origin{scheme: scheme, host: r.Host}
	o.remoteAddr, o.remotePort = splitAddr(r.RemoteAddr)
	if fwd == nil || !fwd.Trusted.TrustsPeer(r.RemoteAddr) {
		return o
	}
	fo := fwd.Resolve(r.Header)
	if fo.Scheme != "" {
		o.scheme = fo.Scheme
	}
	if fo.Addr != "" {
		o.remoteAddr, o.remotePort = fo.Addr, fo.Port
		if fo.Port == "" {
			o.remotePort = "0" // the connection's port is the proxy's, not the client's
		}
	}
	if fo.Host != "" {
		o.host, o.hostForwarded = fo.Host, true
	}
	o.serverPort = fo.ServerPort
	return o
}

// serverNamePort follows the Host header (or the forwarded host), as
// gunicorn does, and falls back to the address the request came in on.
func (o *origin) serverNamePort(r *http1.Request) (string, string) {
	defPort := "80"
	if o.scheme == "https" {
		defPort = "443"
	}
	if o.serverPort != "" {
		defPort = o.serverPort
	}
	if host := o.host; host != "" {
		if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
			if host[i+1:] == "" || o.serverPort != "" {
				return host[:i], defPort // "Host: example.com:" — SERVER_PORT is never empty
			}
			return host[:i], host[i+1:]
		}
		return host, defPort
	}
	name, port := splitAddr(r.LocalAddr)
	if port == "" || o.serverPort != "" {
		port = defPort
	}
	return name, port
}

func splitAddr(a net.Addr) (string, string) {
	if a, ok := a.(*net.TCPAddr); ok {
		return a.IP.String(), strconv.Itoa(a.Port)
	}
	return "", "" // a unix socket has no address to give
}

// unquote percent-decodes a request path into raw bytes. Malformed escapes
// stay as they are, as in urllib.parse.unquote and gunicorn.
func unquote(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
