package tests

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testPKI is a certificate authority made at test time, with the
// certificates it issues written to PEM files.
type testPKI struct {
	t    testing.TB
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	file string // the CA certificate, PEM
	n    int64
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gowsgi test CA", Organization: []string{"gowsgi tests"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &testPKI{t: t, dir: t.TempDir(), cert: cert, key: key, pool: x509.NewCertPool(), n: 1}
	p.pool.AddCert(cert)
	p.file = filepath.Join(p.dir, "ca.pem")
	writePEM(t, p.file, "CERTIFICATE", der)
	return p
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue makes a certificate for cn (server names dns, or a client
// certificate when client is set) and writes NAME.pem and NAME-key.pem.
func (p *testPKI) issue(name, cn string, dns []string, client bool) (certFile, keyFile string, c tls.Certificate) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	p.n++
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.n), Subject: pkix.Name{CommonName: cn, Organization: []string{"Example Org"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: dns, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	if !client {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem")
	writePEM(p.t, certFile, "CERTIFICATE", der)
	writePEM(p.t, keyFile, "EC PRIVATE KEY", kder)
	c, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		p.t.Fatal(err)
	}
	return certFile, keyFile, c
}

// tlsClient is an HTTPS client trusting p, speaking HTTP/1.1 only.
func (p *testPKI) tlsClient(serverName string, certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: p.pool, ServerName: serverName, Certificates: certs},
		TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{}, // no HTTP/2
		DisableKeepAlives: true,
	}}
}

// getEnv fetches /env with c and decodes the environ the probe app saw.
func getEnv(t testing.TB, c *http.Client, url string) map[string]any {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	env["_proto"] = resp.Proto
	return env
}

// TestTLS: --certfile/--keyfile serve HTTPS; the environ says so
// (wsgi.url_scheme, HTTPS, SSL_PROTOCOL, SSL_CIPHER) and plain HTTP gets
// no response.
func TestTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	s, _ := StartProbe(t, "--certfile", cf, "--keyfile", kf, "--ssl-version", "TLSv1_2")
	env := getEnv(t, p.tlsClient("localhost"), "https://"+s.Addr+"/env")
	for k, want := range map[string]any{
		"wsgi.url_scheme": "https", "HTTPS": "on", "SSL_CLIENT_VERIFY": "NONE", "SERVER_PROTOCOL": "HTTP/1.1",
		"SSL_TLS_SNI": "localhost", "_proto": "HTTP/1.1",
	} {
		if env[k] != want {
			t.Errorf("%s = %v, want %v", k, env[k], want)
		}
	}
	if v, _ := env["SSL_PROTOCOL"].(string); v != "TLSv1.3" {
		t.Errorf("SSL_PROTOCOL = %q, want TLSv1.3", v)
	}
	if v, _ := env["SSL_CIPHER"].(string); !strings.HasPrefix(v, "TLS_") {
		t.Errorf("SSL_CIPHER = %q, want a TLS 1.3 suite", v)
	}
	if _, ok := env["SSL_CLIENT_S_DN"]; ok {
		t.Errorf("SSL_CLIENT_S_DN without a client certificate: %v", env["SSL_CLIENT_S_DN"])
	}
	if !strings.Contains(s.Stderr.String(), "url=https://") {
		t.Errorf("the listening line does not say https:\n%s", s.Stderr)
	}
	// TLS 1.1 is below the floor --ssl-version TLSv1_2 asks for.
	c, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: p.pool, ServerName: "localhost", MaxVersion: tls.VersionTLS11})
	if err == nil {
		c.Close()
		t.Errorf("a TLS 1.1 handshake succeeded")
	}
	// Cleartext HTTP on a TLS port is told so, and not served.
	out := raw(t, s.Addr, "GET /env HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second)
	// It is the server's own error, with its fields (http1.Defaults).
	if !strings.HasPrefix(out, "HTTP/1.1 400 Bad Request") || !strings.Contains(out, "HTTP request to an HTTPS server") || !strings.Contains(out, "\r\nServer: gowsgi\r\n") {
		t.Errorf("plain HTTP on a TLS port: %q", out)
	}
}

// TestTLSCiphers: --ciphers limits TLS 1.2 suites; SSL_CIPHER names the
// OpenSSL suite; an unknown name is an error at startup.
func TestTLSCiphers(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	s, _ := StartProbe(t, "--certfile", cf, "--keyfile", kf, "--ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305:!aNULL:!MD5")
	c := p.tlsClient("localhost")
	c.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS12
	env := getEnv(t, c, "https://"+s.Addr+"/env")
	if env["SSL_CIPHER"] != "ECDHE-ECDSA-CHACHA20-POLY1305" || env["SSL_PROTOCOL"] != "TLSv1.2" {
		t.Errorf("SSL_CIPHER %v SSL_PROTOCOL %v, want ECDHE-ECDSA-CHACHA20-POLY1305 over TLSv1.2", env["SSL_CIPHER"], env["SSL_PROTOCOL"])
	}
	conf := &tls.Config{RootCAs: p.pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
	if tc, err := tls.Dial("tcp", s.Addr, conf); err == nil {
		tc.Close()
		t.Errorf("a suite left out of --ciphers was negotiated")
	}

	code, _, stderr := runGowsgi(t, 30*time.Second, probe, "--certfile", cf, "--keyfile", kf, "--ciphers", "ECDHE+AESGCM:BOGUS-CIPHER")
	if code != 2 || !strings.Contains(stderr, `unknown cipher or keyword "BOGUS-CIPHER"`) {
		t.Errorf("unknown cipher: exit %d, stderr %q", code, stderr)
	}
}

// TestTLSClientCertificates: --cert-reqs 1 asks for a client certificate
// and passes its subject to the app (SSL_CLIENT_S_DN, SSL_CLIENT_VERIFY);
// --cert-reqs 2 refuses a client without one, and an unknown CA's always.
func TestTLSClientCertificates(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	_, _, alice := p.issue("alice", "alice", nil, true)
	other := newPKI(t)
	_, _, mallory := other.issue("mallory", "mallory", nil, true)

	s, _ := StartProbe(t, "--certfile", cf, "--keyfile", kf, "--ca-certs", p.file, "--cert-reqs", "1")
	env := getEnv(t, p.tlsClient("localhost", alice), "https://"+s.Addr+"/env")
	if env["SSL_CLIENT_S_DN"] != "CN=alice,O=Example Org" || env["SSL_CLIENT_VERIFY"] != "SUCCESS" ||
		env["SSL_CLIENT_S_DN_CN"] != "alice" || env["SSL_CLIENT_I_DN"] != "CN=gowsgi test CA,O=gowsgi tests" {
		t.Errorf("client certificate environ: S_DN %v VERIFY %v S_DN_CN %v I_DN %v", env["SSL_CLIENT_S_DN"], env["SSL_CLIENT_VERIFY"], env["SSL_CLIENT_S_DN_CN"], env["SSL_CLIENT_I_DN"])
	}
	if env = getEnv(t, p.tlsClient("localhost"), "https://"+s.Addr+"/env"); env["SSL_CLIENT_VERIFY"] != "NONE" {
		t.Errorf("optional, no certificate: SSL_CLIENT_VERIFY = %v", env["SSL_CLIENT_VERIFY"])
	}
	if _, err := p.tlsClient("localhost", mallory).Get("https://" + s.Addr + "/env"); err == nil {
		t.Errorf("a certificate from another CA was accepted")
	}

	s2, _ := StartProbe(t, "--certfile", cf, "--keyfile", kf, "--ca-certs", p.file, "--cert-reqs", "2")
	if _, err := p.tlsClient("localhost").Get("https://" + s2.Addr + "/env"); err == nil {
		t.Errorf("--cert-reqs 2: a client without a certificate was served")
	}
	if env = getEnv(t, p.tlsClient("localhost", alice), "https://"+s2.Addr+"/env"); env["SSL_CLIENT_S_DN_CN"] != "alice" {
		t.Errorf("--cert-reqs 2: SSL_CLIENT_S_DN_CN = %v", env["SSL_CLIENT_S_DN_CN"])
	}

	code, _, stderr := runGowsgi(t, 30*time.Second, probe, "--certfile", cf, "--keyfile", kf, "--cert-reqs", "2")
	if code != 2 || !strings.Contains(stderr, "--ca-certs must name the CAs") {
		t.Errorf("--cert-reqs 2 without --ca-certs: exit %d, stderr %q", code, stderr)
	}
}

// peerCN returns the common name of the certificate the server presents to
// a client asking for serverName.
func peerCN(t testing.TB, p *testPKI, addr, serverName string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: serverName})
	if err != nil {
		t.Fatalf("TLS to %s as %s: %v", addr, serverName, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestTLSSNIAndReload: repeated --certfile/--keyfile pairs are chosen by
// SNI; SIGHUP re-reads the files, and a connection opened before keeps
// being served.
func TestTLSSNIAndReload(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	acf, akf, _ := p.issue("a", "a.example", []string{"a.example"}, false)
	bcf, bkf, _ := p.issue("b", "b.example", []string{"b.example"}, false)
	s, _ := StartProbe(t, "--certfile", acf, "--keyfile", akf, "--certfile", bcf, "--keyfile", bkf, "--keep-alive", "60")
	if cn := peerCN(t, p, s.Addr, "a.example"); cn != "a.example" {
		t.Errorf("SNI a.example: served %q", cn)
	}
	if cn := peerCN(t, p, s.Addr, "b.example"); cn != "b.example" {
		t.Errorf("SNI b.example: served %q", cn)
	}

	// A keep-alive connection opened before the reload.
	old, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: p.pool, ServerName: "b.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	br := bufio.NewReader(old)
	io.WriteString(old, "GET /env HTTP/1.1\r\nHost: b.example\r\n\r\n")
	if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 200 {
		t.Fatalf("before reload: %d", resp.StatusCode)
	}

	// Replace b's certificate (same files) and reload.
	p.issue("b", "b2.example", []string{"b.example"}, false)
	s.Signal(syscall.SIGHUP)
	s.WaitLog(t, "TLS certificates reloaded", 1, 30*time.Second)
	if cn := peerCN(t, p, s.Addr, "b.example"); cn != "b2.example" {
		t.Errorf("after SIGHUP: served %q, want the new certificate b2.example", cn)
	}
	io.WriteString(old, "GET /env HTTP/1.1\r\nHost: b.example\r\n\r\n")
	if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 200 {
		t.Errorf("the connection opened before the reload: %d", resp.StatusCode)
	}

	// A broken file on reload keeps the certificates in use.
	os.WriteFile(bkf, []byte("not a key"), 0o600)
	s.Signal(syscall.SIGHUP)
	s.WaitLog(t, "cannot reload the TLS certificates", 1, 30*time.Second)
	if cn := peerCN(t, p, s.Addr, "b.example"); cn != "b2.example" {
		t.Errorf("after a failed reload: served %q", cn)
	}
}

// TestTLSConfigErrors: inconsistent TLS and HTTP/2 settings end at once,
// exit 2, one line, before any worker starts.
func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	bad := filepath.Join(p.dir, "bad.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--keyfile", kf}, "--keyfile needs --certfile"},
		{[]string{"--certfile", cf, "--keyfile", kf, "--certfile", cf}, "--certfile given 2 times but --keyfile 1 times"},
		{[]string{"--certfile", bad, "--keyfile", kf}, "--certfile " + bad},
		{[]string{"--cert-reqs", "1"}, "--cert-reqs needs TLS"},
		{[]string{"--certfile", cf, "--keyfile", kf, "--ca-certs", bad}, "--ca-certs: " + bad + " holds no PEM certificate"},
		{[]string{"--http2-cleartext", "both", "--http-protocols", "h1"}, "--http2-cleartext needs h2 in --http-protocols"},
		{[]string{"--http-protocols", "h2"}, "--http-protocols h2 without h1 needs TLS"},
	} {
		code, _, stderr := runGowsgi(t, 30*time.Second, append([]string{probe}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}
