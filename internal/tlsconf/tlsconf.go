// Package tlsconf turns gunicorn's SSL settings (certfile, keyfile,
// ca_certs, cert_reqs, ciphers, ssl_version) into a crypto/tls server
// configuration, and keeps its certificates reloadable: the served
// certificates sit behind an atomic pointer that GetCertificate reads, so
// Reload (on SIGHUP) swaps them for new handshakes while established
// connections carry on with the certificate they were opened with.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Client certificate modes, in gunicorn's (and Python ssl's) numbering.
const (
	CertNone     = 0 // ssl.CERT_NONE: no client certificate is asked for
	CertOptional = 1 // ssl.CERT_OPTIONAL: asked for, verified when given
	CertRequired = 2 // ssl.CERT_REQUIRED: a verified one is required
)

// Options are the TLS settings as configured.
type Options struct {
	// CertFiles and KeyFiles pair up in order: one certificate chain (PEM)
	// and its private key each. With several, the one whose names match the
	// client's SNI is served; the first is the default.
	CertFiles, KeyFiles []string
	CACerts             string // PEM file of CAs that client certificates must chain to
	CertReqs            int    // CertNone, CertOptional or CertRequired
	Ciphers             string // OpenSSL cipher list; "" = Go's defaults
	MinVersion          uint16 // 0 = TLS 1.2
	NextProtos          []string
}

// Store holds the loaded certificates and builds the tls.Config.
type Store struct {
	opts  Options
	certs atomic.Pointer[[]tls.Certificate]
	conf  *tls.Config
}

// New loads the certificates and checks every setting; the errors name the
// setting at fault.
func New(o Options) (*Store, error) {
	if len(o.CertFiles) == 0 {
		return nil, errors.New("--certfile is required for TLS")
	}
	if len(o.KeyFiles) != len(o.CertFiles) {
		return nil, fmt.Errorf("--certfile given %d times but --keyfile %d times: give one key per certificate, in the same order", len(o.CertFiles), len(o.KeyFiles))
	}
	s := &Store{opts: o}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     o.NextProtos,
		GetCertificate: s.getCertificate,
	}
	if o.MinVersion != 0 {
		c.MinVersion = o.MinVersion
	}
	if o.Ciphers != "" {
		ids, err := ParseCiphers(o.Ciphers)
		if err != nil {
			return nil, fmt.Errorf("--ciphers: %v", err)
		}
		c.CipherSuites = ids
	}
	if o.CertReqs != CertNone {
		if o.CACerts == "" {
			return nil, errors.New("--cert-reqs asks for client certificates: --ca-certs must name the CAs to verify them with")
		}
	}
	if o.CACerts != "" {
		pem, err := os.ReadFile(o.CACerts)
		if err != nil {
			return nil, fmt.Errorf("--ca-certs: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-certs: %s holds no PEM certificate", o.CACerts)
		}
		c.ClientCAs = pool
	}
	switch o.CertReqs {
	case CertNone:
		c.ClientAuth = tls.NoClientCert
	case CertOptional:
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case CertRequired:
		c.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("--cert-reqs %d: expected 0 (none), 1 (optional) or 2 (required)", o.CertReqs)
	}
	s.conf = c
	return s, nil
}

// Config returns the server configuration. Its certificates follow Reload.
func (s *Store) Config() *tls.Config { return s.conf }

// Reload reads every certificate and key file again. On any error the
// certificates in use stay, and the error says which file failed.
func (s *Store) Reload() error {
	certs := make([]tls.Certificate, 0, len(s.opts.CertFiles))
	for i, cf := range s.opts.CertFiles {
		c, err := tls.LoadX509KeyPair(cf, s.opts.KeyFiles[i])
		if err != nil {
			return fmt.Errorf("--certfile %s / --keyfile %s: %v", cf, s.opts.KeyFiles[i], err)
		}
		if c.Leaf == nil && len(c.Certificate) > 0 {
			c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
		}
		certs = append(certs, c)
	}
	s.certs.Store(&certs)
	return nil
}

// getCertificate picks the first certificate valid for the client's hello
// (SNI name, signature schemes), else the first one.
func (s *Store) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := *s.certs.Load()
	if len(certs) > 1 && hello.ServerName != "" {
		for i := range certs {
			if certs[i].Leaf != nil && certs[i].Leaf.VerifyHostname(hello.ServerName) == nil && hello.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
	}
	return &certs[0], nil
}

// ParseCertReqs reads gunicorn's cert_reqs: 0, 1, 2, or the names none,
// optional, required (also CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED).
func ParseCertReqs(v string) (int, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.TrimSpace(strings.ToUpper(v)), "CERT_")) {
	case "0", "none":
		return CertNone, nil
	case "1", "optional":
		return CertOptional, nil
	case "2", "required":
		return CertRequired, nil
	}
	return 0, fmt.Errorf("%q: expected 0 (none), 1 (optional) or 2 (required)", v)
}

// ParseSSLVersion maps gunicorn's ssl_version (a Python ssl.PROTOCOL_ name
// or its number) to the lowest TLS version accepted. The negotiating
// choices (TLS, SSLv23, TLS_SERVER) keep gowsgi's floor, TLS 1.2; a named
// version becomes the floor, with every later version still allowed, as
// nothing in Go pins one exact version.
func ParseSSLVersion(v string) (uint16, error) {
	k := strings.ToUpper(strings.TrimSpace(v))
	k = strings.TrimPrefix(k, "PROTOCOL_")
	k = strings.TrimPrefix(k, "SSL.PROTOCOL_")
	switch k {
	case "", "TLS", "SSLV23", "TLS_SERVER", "2", "17":
		return tls.VersionTLS12, nil
	case "TLSV1", "3":
		return tls.VersionTLS10, nil
	case "TLSV1_1", "4":
		return tls.VersionTLS11, nil
	case "TLSV1_2", "5":
		return tls.VersionTLS12, nil
	case "TLSV1_3":
		return tls.VersionTLS13, nil
	case "SSLV2", "SSLV3", "1":
		return 0, fmt.Errorf("%q: SSLv2 and SSLv3 are broken and not offered; use TLSv1_2", v)
	case "TLS_CLIENT", "16":
		return 0, fmt.Errorf("%q is a client-side protocol; use TLS", v)
	}
	return 0, fmt.Errorf("%q: expected TLS, TLSv1, TLSv1_1, TLSv1_2, TLSv1_3 or TLS_SERVER", v)
}

// VersionName is a TLS version as mod_ssl's SSL_PROTOCOL spells it.
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
