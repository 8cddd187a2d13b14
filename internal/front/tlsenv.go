package front

import (
	"crypto/tls"
	"crypto/x509"
	"strings"

	"github.com/gowsgi/gowsgi/internal/tlsconf"
	"github.com/gowsgi/gowsgi/internal/wire"
)

// appendTLS adds what a request over TLS carries, with the keys mod_ssl
// and mod_wsgi give WSGI apps (and Django's and Flask's extensions read):
//
//	HTTPS               "on"
//	SSL_PROTOCOL        TLSv1.2, TLSv1.3
//	SSL_CIPHER          OpenSSL's name of the cipher suite
//	SSL_TLS_SNI         the server name the client asked for, when it sent one
//	SSL_CLIENT_VERIFY   NONE (no client certificate) or SUCCESS (verified
//	                    against --ca-certs; unverified ones are refused in the
//	                    handshake)
//
// and, with a client certificate:
//
//	SSL_CLIENT_S_DN     its subject, RFC 2253 ("CN=alice,O=Example")
//	SSL_CLIENT_S_DN_CN  its subject's common name
//	SSL_CLIENT_I_DN     its issuer, RFC 2253
//	SSL_CLIENT_M_SERIAL its serial number, hexadecimal upper case
//	SSL_CLIENT_V_START, SSL_CLIENT_V_END  its validity, as mod_ssl prints
//	                    them ("Jan  2 15:04:05 2006 GMT")
func appendTLS(e *wire.Environ, st *tls.ConnectionState) {
	if st == nil {
		return
	}
	e.Add("HTTPS", "on")
	e.Add("SSL_PROTOCOL", tlsconf.VersionName(st.Version))
	e.Add("SSL_CIPHER", tlsconf.CipherName(st.CipherSuite))
	if st.ServerName != "" {
		e.Add("SSL_TLS_SNI", st.ServerName)
	}
	if len(st.PeerCertificates) == 0 {
		e.Add("SSL_CLIENT_VERIFY", "NONE")
		return
	}
	e.Add("SSL_CLIENT_VERIFY", "SUCCESS")
	c := st.PeerCertificates[0]
	e.Add("SSL_CLIENT_S_DN", c.Subject.String())
	if c.Subject.CommonName != "" {
		e.Add("SSL_CLIENT_S_DN_CN", c.Subject.CommonName)
	}
	e.Add("SSL_CLIENT_I_DN", c.Issuer.String())
	e.Add("SSL_CLIENT_M_SERIAL", strings.ToUpper(c.SerialNumber.Text(16)))
	e.Add("SSL_CLIENT_V_START", certTime(c, false))
	e.Add("SSL_CLIENT_V_END", certTime(c, true))
}

func certTime(c *x509.Certificate, end bool) string {
	t := c.NotBefore
	if end {
		t = c.NotAfter
	}
	return t.UTC().Format("Jan _2 15:04:05 2006 GMT")
}
