package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hypercorn's command line and TOML config file, as a deployment writes
// them, serve an ASGI app: `hypercorn` replaced by `gowsgi`, nothing else.
func TestHypercornCommandLineServes(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	conf := filepath.Join(t.TempDir(), "hypercorn.toml")
	if err := os.WriteFile(conf, []byte(`# hypercorn's keys
include_server_header = false
alt_svc_headers = ['h2=":443"; ma=3600']
keep_alive_timeout = 5
h2_max_concurrent_streams = 50
websocket_max_message_size = 1048576
startup_timeout = 30

[logconfig_dict]
version = 1
disable_existing_loggers = false
`), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, plain := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s, _ := startASGI(t, nil, asgiRaw+":app", "--bind", addr, "--workers", "1", "--worker-class", "uvloop",
		"--access-logfile", "-", "--error-logfile", "-", "--keep-alive", "5", "--graceful-timeout", "10",
		"--certfile", cf, "--keyfile", kf, "--ca-certs", p.file, "--root-path", "/api", "--log-level", "info",
		"--backlog", "100", "--read-timeout", "30", "--max-requests", "1000", "--max-requests-jitter", "50",
		"--websocket-ping-interval", "20", "--server-name", "example.com", "--quic-bind", "127.0.0.1:0",
		"--insecure-bind", plain, "--config", conf)
	for _, want := range []string{"gowsgi: --server-name: gowsgi serves every Host", "gowsgi: --quic-bind: gowsgi serves HTTP/1.1 and HTTP/2, not HTTP/3",
		"gowsgi: " + conf + ": startup_timeout: the lifespan startup counts toward `--boot-timeout`", "interface=asgi"} {
		if !strings.Contains(s.Stderr.String(), want) {
			t.Errorf("stderr lacks %q", want)
		}
	}

	c := p.tlsClient("localhost")
	resp, body := do(t, c, "GET", "https://localhost:"+strings.Split(addr, ":")[1]+"/api/items?dump=scope", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var scope asgiScope
	if err := json.Unmarshal([]byte(body), &scope); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if scope.Type != "http" || scope.Scheme != "https" || scope.RootPath != "/api" {
		t.Errorf("scope type %q scheme %q root_path %q", scope.Type, scope.Scheme, scope.RootPath)
	}
	// The TOML file's include_server_header and alt_svc_headers.
	if resp.Header.Get("Server") != "" || resp.Header.Get("Alt-Svc") != `h2=":443"; ma=3600` || resp.Header.Get("Date") == "" {
		t.Errorf("Server %q Alt-Svc %q Date %q", resp.Header.Get("Server"), resp.Header.Get("Alt-Svc"), resp.Header.Get("Date"))
	}

	// --insecure-bind: plain HTTP on its own address, scheme http there.
	resp, body = do(t, client(), "GET", "http://"+plain+"/api/items?dump=scope", nil)
	scope = asgiScope{}
	if err := json.Unmarshal([]byte(body), &scope); resp.StatusCode != 200 || err != nil || scope.Scheme != "http" || scope.RootPath != "/api" {
		t.Errorf("--insecure-bind: %d %v scheme %q root_path %q", resp.StatusCode, err, scope.Scheme, scope.RootPath)
	}
	if !strings.Contains(s.Stderr.String(), "url=http://"+plain) || !strings.Contains(s.Stderr.String(), "url=https://"+addr) {
		t.Errorf("the listening lines do not tell the plain bind from the TLS one")
	}
}

// What gowsgi cannot do the way hypercorn's options ask is refused before
// anything runs: one line, exit 2.
func TestHypercornRefusals(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
	bad := filepath.Join(t.TempDir(), "hypercorn.toml")
	os.WriteFile(bad, []byte("workers = \"four\"\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{asgiRaw, "--certfile", cf, "--keyfile", kf, "--keyfile-password", "secret"}, "--keyfile-password: gowsgi cannot read encrypted private keys"},
		{[]string{asgiRaw, "-k", "trio"}, "worker class trio runs trio apps"},
		{[]string{asgiRaw, "-c", bad}, bad + ": workers: expected an integer, got the string \"four\""},
	} {
		code, _, stderr := runGowsgi(t, 30*time.Second, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, code, stderr, tc.want)
		}
	}
}
