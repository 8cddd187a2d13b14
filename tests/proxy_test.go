package tests

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envFrom fetches /env through a client whose connections come from the
// local address src ("127.0.0.2": an untrusted peer on loopback).
func envFrom(t *testing.T, s *Server, src string, hdr ...string) map[string]any {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
	req, _ := http.NewRequest("GET", s.URL("/env"), nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	return env
}

func checkEnv(t *testing.T, what string, env map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, _ := env[k].(string)
		if got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

var forwardedHeaders = []string{
	"X-Forwarded-For", "198.51.100.1, 203.0.113.9, 10.1.2.3",
	"X-Forwarded-Proto", "https",
	"X-Forwarded-Host", "app.example",
	"X-Forwarded-Port", "8443",
}

func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "access.log")
	s := StartServer(t, probe, "--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8", "--access-logfile", logFile)

	// From a trusted proxy: the client is the nearest untrusted address, walking from the right.
	env := envOf(t, s, "/env", forwardedHeaders...)
	checkEnv(t, "trusted", env, map[string]string{"REMOTE_ADDR": "203.0.113.9", "wsgi.url_scheme": "https",
		"HTTP_HOST": "app.example", "SERVER_NAME": "app.example", "SERVER_PORT": "8443",
		"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.9, 10.1.2.3"})
	fileHas(t, logFile, `203.0.113.9 - - [`) // %(h)s is REMOTE_ADDR, as in gunicorn

	// RFC 7239 Forwarded: proto= and host= of the element whose for= is the client.
	env = envOf(t, s, "/env", "Forwarded", `for=192.0.2.60;proto=http, for="[2001:db8::7]:9000";proto=https;host="shop.example:444", for=10.0.0.1`)
	checkEnv(t, "Forwarded", env, map[string]string{"REMOTE_ADDR": "2001:db8::7", "REMOTE_PORT": "9000", "wsgi.url_scheme": "https",
		"HTTP_HOST": "shop.example:444", "SERVER_NAME": "shop.example", "SERVER_PORT": "444"})

	// From an untrusted peer the same headers are plain headers.
	env = envFrom(t, s, "127.0.0.2", append(forwardedHeaders, "Host", "real.example:81")...)
	checkEnv(t, "untrusted", env, map[string]string{"REMOTE_ADDR": "127.0.0.2", "wsgi.url_scheme": "http",
		"HTTP_HOST": "real.example:81", "SERVER_NAME": "real.example", "SERVER_PORT": "81",
		"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.9, 10.1.2.3", "HTTP_X_FORWARDED_PROTO": "https"})
	fileHas(t, logFile, `127.0.0.2 - - [`)
}

func TestForwardedDefaultsAndSchemeHeaders(t *testing.T) {
	t.Parallel()
	// The default trusts loopback: a proxy on the same host just works.
	s := StartServer(t, probe)
	env := envOf(t, s, "/env", "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.5")
	checkEnv(t, "default", env, map[string]string{"wsgi.url_scheme": "https", "REMOTE_ADDR": "203.0.113.5", "SERVER_PORT": strings.Split(s.Addr, ":")[1]})
	env = envOf(t, s, "/env", "X-Forwarded-Ssl", "on")
	checkEnv(t, "X-Forwarded-Ssl", env, map[string]string{"wsgi.url_scheme": "https"})
	// Contradicting scheme headers never give https.
	env = envOf(t, s, "/env", "X-Forwarded-Proto", "https", "X-Forwarded-Protocol", "plain")
	checkEnv(t, "conflict", env, map[string]string{"wsgi.url_scheme": "http"})

	// A config file's secure_scheme_headers replaces the table.
	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	os.WriteFile(conf, []byte("secure_scheme_headers = {'X-Scheme': 'https'}\nforwarded_allow_ips = '*'\n"), 0o644)
	s2 := StartServer(t, probe, "-c", conf)
	checkEnv(t, "X-Scheme", envOf(t, s2, "/env", "X-Scheme", "https"), map[string]string{"wsgi.url_scheme": "https"})
	checkEnv(t, "X-Forwarded-Proto not in the table", envOf(t, s2, "/env", "X-Forwarded-Proto", "https"), map[string]string{"wsgi.url_scheme": "http"})
	checkEnv(t, "*", envFrom(t, s2, "127.0.0.2", "X-Scheme", "https"), map[string]string{"wsgi.url_scheme": "https"})

	// Trusting no one: nothing changes, also from loopback.
	s3 := StartServer(t, probe, "--forwarded-allow-ips", "10.9.9.9")
	checkEnv(t, "nobody trusted", envOf(t, s3, "/env", forwardedHeaders...), map[string]string{"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"})
}

// rawEnv sends a PROXY header and a request on one connection from src and
// returns the status line and, for a 200, the environ.
func rawEnv(t *testing.T, s *Server, src string, header []byte) (string, map[string]any) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	c.Write(append(header, "GET /env HTTP/1.1\r\nHost: h.example\r\nConnection: close\r\n\r\n"...))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "no response: " + err.Error(), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env map[string]any
	if resp.StatusCode == 200 {
		json.Unmarshal(body, &env)
	}
	return resp.Status, env
}

func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	s := StartServer(t, probe, "--proxy-protocol", "--proxy-allow-from", "127.0.0.1", "--forwarded-allow-ips", "127.0.0.1")
	status, env := rawEnv(t, s, "127.0.0.1", []byte("PROXY TCP4 198.51.100.7 192.0.2.1 4444 80\r\n"))
	checkEnv(t, "v1 "+status, env, map[string]string{"REMOTE_ADDR": "198.51.100.7", "REMOTE_PORT": "4444"})

	v2 := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x21\x00\x24")
	v2 = append(v2, net.ParseIP("2001:db8::42").To16()...)
	v2 = append(v2, net.ParseIP("2001:db8::1").To16()...)
	v2 = binary.BigEndian.AppendUint16(v2, 5555)
	v2 = binary.BigEndian.AppendUint16(v2, 443)
	status, env = rawEnv(t, s, "127.0.0.1", v2)
	checkEnv(t, "v2 "+status, env, map[string]string{"REMOTE_ADDR": "2001:db8::42", "REMOTE_PORT": "5555"})

	// Without a header, an allowed peer is served as it is.
	status, env = rawEnv(t, s, "127.0.0.1", nil)
	checkEnv(t, "no header "+status, env, map[string]string{"REMOTE_ADDR": "127.0.0.1"})

	// An untrusted peer cannot claim an address: its PROXY line is a bad request.
	status, env = rawEnv(t, s, "127.0.0.2", []byte("PROXY TCP4 198.51.100.7 192.0.2.1 4444 80\r\n"))
	if env != nil || !strings.HasPrefix(status, "400") {
		t.Errorf("untrusted PROXY header: %s %v", status, env["REMOTE_ADDR"])
	}
	status, env = rawEnv(t, s, "127.0.0.2", nil)
	checkEnv(t, "untrusted, no header "+status, env, map[string]string{"REMOTE_ADDR": "127.0.0.2"})

	// The address a PROXY header gives is the peer for --forwarded-allow-ips:
	// a client behind the balancer cannot add X-Forwarded-For of its own.
	c := dialRaw(t, s.Addr)
	defer c.Close()
	io.WriteString(c, "PROXY TCP4 198.51.100.8 192.0.2.1 4445 80\r\nGET /env HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&env)
	checkEnv(t, "PROXY then X-Forwarded-For", env, map[string]string{"REMOTE_ADDR": "198.51.100.8"})
}

// TestTrustOneList: --forwarded-allow-ips is one list for forwarding
// headers, X-Request-ID and h2c. A unix-socket peer is trusted by it
// always (gunicorn: connections without an IP address are allowed
// unconditionally), even by an empty list; an empty list trusts no TCP
// peer, loopback included.
func TestTrustOneList(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "app.sock")
	s := StartServer(t, probe, "--forwarded-allow-ips", "", "--http2-cleartext", "both",
		"-b", "127.0.0.1:"+strconv.Itoa(freePort(t)), "-b", "unix:"+sock)
	hdr := []string{"X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.5", "X-Request-ID", "from-the-peer"}

	// Over the unix socket: the peer's word is taken.
	uc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	req, _ := http.NewRequest("GET", "http://local/env", nil)
	for i := 0; i < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := uc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	err = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	checkEnv(t, "unix peer", env, map[string]string{"wsgi.url_scheme": "https", "REMOTE_ADDR": "203.0.113.5", "gowsgi.request_id": "from-the-peer"})

	// Over TCP from loopback: nobody is trusted.
	env = envOf(t, s, "/env", hdr...)
	checkEnv(t, "loopback peer", env, map[string]string{"wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1"})
	if id, _ := env["gowsgi.request_id"].(string); id == "from-the-peer" || len(id) != 32 {
		t.Errorf("loopback peer: request ID %q, want a new one", id)
	}
	if r, err := h2Client(nil, "").Get(s.URL("/env")); err == nil {
		r.Body.Close()
		t.Errorf("loopback peer: h2c was served (%s) though the list is empty", r.Proto)
	}
}
