package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Client speaks HTTP/2 only: over TLS trusting p, or, with p nil, h2c
// with prior knowledge.
func h2Client(p *testPKI, serverName string) *http.Client {
	t := &http2.Transport{}
	if p != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: p.pool, ServerName: serverName}
	} else {
		t.AllowHTTP = true
		t.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{Timeout: 20 * time.Second, Transport: t}
}

// do sends one request and returns the response and its whole body.
func do(t testing.TB, c *http.Client, method, url string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, string(b)
}

// TestHTTP2TLS: with TLS, HTTP/2 is offered by ALPN (--http-protocols
// h2,h1 by default) and drives the same workers: the environ is HTTP/1.1's
// with SERVER_PROTOCOL HTTP/2.0; bodies stream both ways, large ones are
// spooled; the app's failure mid-body resets the stream.
func TestHTTP2TLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	static := t.TempDir()
	os.WriteFile(filepath.Join(static, "a.txt"), []byte("static over h2\n"), 0o644)
	s, _ := StartProbe(t, "--certfile", cf, "--keyfile", kf, "--threads", "4", "--static", "/s="+static)
	c := h2Client(p, "localhost")
	base := "https://" + s.Addr

	resp, body := do(t, c, "GET", base+"/env?x=1", nil, "X-Test", "yes")
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("/env: %v: %q", err, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("response protocol %s, want HTTP/2.0", resp.Proto)
	}
	for k, want := range map[string]any{
		"SERVER_PROTOCOL": "HTTP/2.0", "wsgi.url_scheme": "https", "HTTPS": "on", "REQUEST_METHOD": "GET",
		"PATH_INFO": "/env", "QUERY_STRING": "x=1", "HTTP_X_TEST": "yes", "SERVER_NAME": s.Addr[:strings.LastIndexByte(s.Addr, ':')],
		"REMOTE_ADDR": "127.0.0.1", "SSL_PROTOCOL": "TLSv1.3",
	} {
		if env[k] != want {
			t.Errorf("%s = %v, want %v", k, env[k], want)
		}
	}
	if resp.Header.Get("Server") != "gowsgi" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers: %v", resp.Header)
	}

	// A request body of unknown length, streamed, larger than --body-memory
	// (1M): spooled, then read by the app whole.
	const size = 3 << 20
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for n := 0; n < size; n += len(chunk) {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	_, body = do(t, c, "POST", base+"/echo", pr)
	var echo map[string]any
	json.Unmarshal([]byte(body), &echo)
	sum := sha1.Sum(bytes.Repeat([]byte("0123456789abcdef"), size/16))
	if echo["len"] != float64(size) || echo["sha1"] != hex.EncodeToString(sum[:]) || echo["content_length"] != fmt.Sprint(size) {
		t.Errorf("streamed upload: %v", body)
	}

	// A streamed response arrives whole; the reason phrase has no place in HTTP/2.
	if resp, body = do(t, c, "GET", base+"/stream?n=40", nil); resp.StatusCode != 200 || strings.Count(body, "chunk ") != 40 {
		t.Errorf("/stream: %d %q", resp.StatusCode, body)
	}
	if resp, _ = do(t, c, "GET", base+"/status?s=299+Odd+Reason", nil); resp.StatusCode != 299 {
		t.Errorf("/status: %d", resp.StatusCode)
	}
	if resp, body = do(t, c, "HEAD", base+"/env", nil); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}

	// The app fails after its first chunk: the stream is reset, so the
	// client sees an error, not a short body passing for a whole one.
	resp, err := c.Get(base + "/raise-after")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("/raise-after: body %q ended cleanly; want a reset stream", b)
	}

	// Static files are served by Go over HTTP/2 too, ranges included.
	if resp, body := do(t, c, "GET", base+"/s/a.txt", nil); resp.StatusCode != 200 || body != "static over h2\n" {
		t.Errorf("static: %d %q", resp.StatusCode, body)
	}
	if resp, body := do(t, c, "GET", base+"/s/a.txt", nil, "Range", "bytes=0-5"); resp.StatusCode != 206 || body != "static" {
		t.Errorf("static range: %d %q", resp.StatusCode, body)
	}
	// The access log says HTTP/2.0.
	if !waitFor(10*time.Second, func() bool { return strings.Contains(s.Stdout.String(), `"GET /env?x=1 HTTP/2.0" 200 `) }) {
		t.Errorf("access log:\n%s", s.Stdout)
	}

	// --http-protocols h1: no HTTP/2 by ALPN.
	s1, _ := StartProbe(t, "--certfile", cf, "--keyfile", kf, "--http-protocols", "h1")
	if r, err := h2Client(p, "localhost").Get("https://" + s1.Addr + "/env"); err == nil {
		r.Body.Close()
		t.Errorf("--http-protocols h1: HTTP/2 was negotiated (%s)", r.Proto)
	}
}

// TestHTTP2Cleartext: --http2-cleartext serves h2c to trusted peers only,
// by prior knowledge, by Upgrade: h2c, or both.
func TestHTTP2Cleartext(t *testing.T) {
	t.Parallel()
	s, _ := StartProbe(t, "--http2-cleartext", "prior-knowledge")
	resp, body := do(t, h2Client(nil, ""), "GET", s.URL("/env"), nil)
	if resp.ProtoMajor != 2 || !strings.Contains(body, `"SERVER_PROTOCOL": "HTTP/2.0"`) || !strings.Contains(body, `"wsgi.url_scheme": "http"`) {
		t.Errorf("h2c prior knowledge: %s %s", resp.Proto, body)
	}
	// Go's HTTP/2 client sends :authority and no Host field; WSGI apps
	// still find the host in HTTP_HOST.
	if want := fmt.Sprintf(`"HTTP_HOST": %q`, s.Addr); !strings.Contains(body, want) {
		t.Errorf("h2c: HTTP_HOST from :authority missing, want %s in %s", want, body)
	}
	// A trusted peer on a prior-knowledge port speaking HTTP/1.1: 400.
	if out := raw(t, s.Addr, "GET /env HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second); !strings.HasPrefix(out, "HTTP/1.1 400 ") {
		t.Errorf("HTTP/1.1 on a prior-knowledge port: %q", out)
	}

	// An untrusted peer gets HTTP/1.x as if h2c were off.
	su, _ := StartProbe(t, "--http2-cleartext", "both", "--forwarded-allow-ips", "10.9.9.9")
	if r, err := h2Client(nil, "").Get(su.URL("/env")); err == nil {
		r.Body.Close()
		t.Errorf("untrusted peer: h2c was served (%s)", r.Proto)
	}
	if resp, _ := get(t, su, "GET", "/env", nil); resp.StatusCode != 200 {
		t.Errorf("untrusted peer, HTTP/1.1: %d", resp.StatusCode)
	}

	// Upgrade: h2c; the upgraded request (with its body) is stream 1.
	sg, _ := StartProbe(t, "--http2-cleartext", "upgrade", "--body-memory", "100")
	// A body too large to read before the switch: served as HTTP/1.1, no upgrade.
	big := strings.Repeat("b", 200)
	if out := raw(t, sg.Addr, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\nConnection: Upgrade, HTTP2-Settings, close\r\n"+
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"+big, 5*time.Second); !strings.HasPrefix(out, "HTTP/1.1 200 ") || !strings.Contains(out, `"len": 200`) {
		t.Errorf("upgrade with a large body: %q", out)
	}
	if resp, _ := get(t, sg, "GET", "/env", nil); resp.StatusCode != 200 || resp.ProtoMajor != 1 {
		t.Errorf("upgrade port, plain HTTP/1.1: %d %s", resp.StatusCode, resp.Proto)
	}
	if r, err := h2Client(nil, "").Get(sg.URL("/env")); err == nil {
		r.Body.Close()
		t.Errorf("upgrade-only port: prior knowledge was served")
	}
	c := dialRaw(t, sg.Addr)
	defer c.Close()
	io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: Upgrade, HTTP2-Settings\r\n"+
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nhello")
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade: %q", line)
	}
	for line != "\r\n" {
		var err error
		if line, err = br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, br)
	fr.WriteSettings()
	status, data := newRawH2(fr).readStream(t, 1)
	if status != "200" || !strings.Contains(data, `"data": "hello"`) || !strings.Contains(data, `"content_length": "5"`) {
		t.Errorf("upgraded request: status %s body %s", status, data)
	}
}

// rawH2 is a client connection driven frame by frame, with the HPACK
// state of the connection.
type rawH2 struct {
	fr     *http2.Framer
	dec    *hpack.Decoder
	enc    *hpack.Encoder
	buf    bytes.Buffer
	status string
}

func newRawH2(fr *http2.Framer) *rawH2 {
	h := &rawH2{fr: fr}
	h.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			h.status = f.Value
		}
	})
	h.enc = hpack.NewEncoder(&h.buf)
	return h
}

// readStream reads frames until stream id ends, acknowledging SETTINGS,
// and returns its :status and body.
func (h *rawH2) readStream(t testing.TB, id uint32) (string, string) {
	t.Helper()
	fr := h.fr
	h.status = ""
	var data bytes.Buffer
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading stream %d: %v (so far: status %q, %q)", id, err, h.status, data.String())
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			h.dec.Write(f.HeaderBlockFragment())
			if f.StreamID == id && f.StreamEnded() {
				return h.status, data.String()
			}
		case *http2.DataFrame:
			if f.StreamID == id {
				data.Write(f.Data())
				if len(f.Data()) > 0 {
					fr.WriteWindowUpdate(0, uint32(len(f.Data())))
					fr.WriteWindowUpdate(id, uint32(len(f.Data())))
				}
				if f.StreamEnded() {
					return h.status, data.String()
				}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				t.Fatalf("stream %d reset: %v", id, f.ErrCode)
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY: %v %s", f.ErrCode, f.DebugData())
		}
	}
}

// h2cConn opens an h2c (prior knowledge) connection and returns its framer
// and the server's first SETTINGS.
func h2cConn(t testing.TB, addr string) (*http2.Framer, map[http2.SettingID]uint32) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("first frame %v, want SETTINGS", f)
	}
	settings := map[http2.SettingID]uint32{}
	sf.ForeachSetting(func(s http2.Setting) error { settings[s.ID] = s.Val; return nil })
	return fr, settings
}

// writeRequest sends a HEADERS frame for stream id.
func (h *rawH2) writeRequest(t testing.TB, id uint32, method, path string, endStream bool, extra ...string) {
	t.Helper()
	h.buf.Reset()
	for _, f := range [][2]string{{":method", method}, {":scheme", "http"}, {":path", path}, {":authority", "localhost"}} {
		h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h.enc.WriteField(hpack.HeaderField{Name: extra[i], Value: extra[i+1]})
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.buf.Bytes(), EndStream: endStream, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}

// TestHTTP2Limits: gunicorn's http2_* settings reach the client in
// SETTINGS, and the HTTP/1.1 protections hold on HTTP/2 streams: body
// size (413), header fields (431), a stalled body (408).
func TestHTTP2Limits(t *testing.T) {
	t.Parallel()
	s, _ := StartProbe(t, "--http2-cleartext", "prior-knowledge", "--http2-max-concurrent-streams", "7",
		"--http2-initial-window-size", "30000", "--http2-max-frame-size", "20000", "--http2-max-header-list-size", "5000",
		"--max-body-size", "1000", "--limit-request-fields", "5", "--body-timeout", "1")
	fr, settings := h2cConn(t, s.Addr)
	h := newRawH2(fr)
	for id, want := range map[http2.SettingID]uint32{
		http2.SettingMaxConcurrentStreams: 7, http2.SettingInitialWindowSize: 30000,
		http2.SettingMaxFrameSize: 20000, http2.SettingMaxHeaderListSize: 5000,
	} {
		if settings[id] != want {
			t.Errorf("SETTINGS %v = %d, want %d", id, settings[id], want)
		}
	}

	h.writeRequest(t, 1, "POST", "/echo", false, "content-length", "2000")
	fr.WriteData(1, true, bytes.Repeat([]byte("x"), 2000))
	if status, _ := h.readStream(t, 1); status != "413" {
		t.Errorf("body over --max-body-size: %s", status)
	}
	h.writeRequest(t, 3, "GET", "/env", true, "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6")
	if status, _ := h.readStream(t, 3); status != "431" {
		t.Errorf("more fields than --limit-request-fields: %s", status)
	}
	v := strings.Repeat("v", 1500) // each below the list size: one string over it is an HPACK error
	h.writeRequest(t, 5, "GET", "/env", true, "x-a", v, "x-b", v, "x-c", v, "x-d", v)
	if status, _ := h.readStream(t, 5); status != "431" {
		t.Errorf("header list over --http2-max-header-list-size: %s", status)
	}
	h.writeRequest(t, 7, "POST", "/echo", false, "content-length", "10")
	fr.WriteData(7, false, []byte("12345"))
	if status, _ := h.readStream(t, 7); status != "408" {
		t.Errorf("a body that stalls past --body-timeout: %s", status)
	}
	h.writeRequest(t, 9, "GET", "/env", true)
	if status, body := h.readStream(t, 9); status != "200" || !strings.Contains(body, "HTTP/2.0") {
		t.Errorf("the connection after those: %s", status)
	}
}

// TestH2Spec runs h2spec (github.com/summerwind/h2spec, built from the Go
// module proxy) against gowsgi over TLS and over h2c with prior
// knowledge: every test case must pass.
func TestH2Spec(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "bin")
	build := exec.Command("go", "install", "github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible")
	build.Dir = t.TempDir() // outside this module: h2spec's own go.mod decides its dependencies
	build.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building h2spec: %v\n%s", err, out)
	}
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	for _, tc := range []struct {
		name string
		args []string
		tls  bool
	}{
		{"tls", []string{"--certfile", cf, "--keyfile", kf}, true},
		{"h2c", []string{"--http2-cleartext", "prior-knowledge"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := StartProbe(t, append(tc.args, "--threads", "4", "--no-access-log")...)
			host, port, _ := net.SplitHostPort(s.Addr)
			args := []string{"-h", host, "-p", port, "-P", "/env", "-o", "10"}
			if tc.tls {
				args = append(args, "-t", "-k")
			}
			out, err := exec.Command(filepath.Join(bin, "h2spec"), args...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), " 0 failed") {
				t.Errorf("h2spec %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if !strings.Contains(string(out), "145 tests, 145 passed") {
				t.Errorf("h2spec did not run its 145 cases:\n%s", lastLines(string(out), 3))
			}
		})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestHTTP2GracefulShutdown: on SIGTERM an HTTP/2 connection gets GOAWAY,
// its stream in flight finishes, and gowsgi exits 0. --http-protocols h2
// alone refuses HTTP/1.1 clients.
func TestHTTP2GracefulShutdown(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	s, st := StartProbe(t, "--certfile", cf, "--keyfile", kf, "--http-protocols", "h2")
	if _, err := p.tlsClient("localhost").Get("https://" + s.Addr + "/env"); err == nil {
		t.Errorf("--http-protocols h2: an HTTP/1.1 client was served")
	}
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := h2Client(p, "localhost").Get("https://" + s.Addr + "/block?name=inflight")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b), err}
	}()
	st.WaitEntered("inflight")
	s.Signal(syscall.SIGTERM)
	s.WaitLog(t, "shutting down", 1, 30*time.Second)
	st.Release("inflight")
	if r := <-done; r.err != nil || r.code != 200 || r.body != "released inflight" {
		t.Errorf("the stream in flight: %+v", r)
	}
	if code := s.Wait(15 * time.Second); code != 0 {
		t.Errorf("exit code %d\n%s", code, s.Stderr)
	}
}
