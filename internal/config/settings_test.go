package config

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/proxy"
)

func TestLogAndProxySettings(t *testing.T) {
	c := mustParse(t, []string{"a"}, nil)
	if strings.Join(c.ForwardedAllowIPs.Items(), ",") != "127.0.0.1,::1" || strings.Join(c.ProxyAllowIPs.Items(), ",") != "127.0.0.1,::1" ||
		c.ProxyProtocol != proxy.Off || c.SecureSchemeHeaders != nil || c.LogFormat != "text" || c.AccessLogFormat != "" || c.CaptureOutput {
		t.Errorf("defaults: %+v", c)
	}
	c = mustParse(t, []string{"a"}, map[string]string{"FORWARDED_ALLOW_IPS": "10.0.0.0/8"})
	if strings.Join(c.ForwardedAllowIPs.Items(), ",") != "10.0.0.0/8" {
		t.Errorf("FORWARDED_ALLOW_IPS: %v", c.ForwardedAllowIPs)
	}
	c = mustParse(t, strings.Fields("a --forwarded-allow-ips * --proxy-protocol --proxy-allow-from 10.1.0.0/16,::1 "+
		"--statsd-host localhost:9125 --statsd-prefix app --dogstatsd-tags env:test --capture-output --log-format JSON "+
		"--log-config log.ini --access-logformat %(h)s|%({x-id}i)s"), nil)
	if strings.Join(c.ForwardedAllowIPs.Items(), ",") != "*" || c.ProxyProtocol != proxy.Auto || strings.Join(c.ProxyAllowIPs.Items(), ",") != "10.1.0.0/16,::1" ||
		c.StatsdHost != "localhost:9125" || c.StatsdPrefix != "app" || c.DogstatsdTags != "env:test" || !c.CaptureOutput ||
		c.LogFormat != "json" || c.LogConfig != "log.ini" || c.AccessLogFormat != "%(h)s|%({x-id}i)s" || len(c.Warnings) != 0 {
		t.Errorf("flags: %+v", c)
	}
	if c := mustParse(t, strings.Fields("a --proxy-protocol=v2 --statsd-host 127.0.0.1"), nil); c.ProxyProtocol != proxy.V2 || c.StatsdHost != "127.0.0.1:8125" {
		t.Errorf("--proxy-protocol=v2: %v, statsd %q", c.ProxyProtocol, c.StatsdHost)
	}
	for args, want := range map[string]string{
		"a --forwarded-allow-ips 10.0.0.300": `--forwarded-allow-ips: "10.0.0.300" is not an IP address`,
		"a --access-logformat %(h)":          "needs a conversion",
		"a --log-format xml":                 `--log-format: "xml" is not a log format`,
		"a --statsd-host :x":                 "is not HOST:PORT",
	} {
		if _, err := parse(t, strings.Fields(args), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", args, err, want)
		}
	}

	conf := filepath.Join(t.TempDir(), "gunicorn.conf.py")
	os.WriteFile(conf, []byte("secure_scheme_headers = {'X-Scheme': 'https'}\n"+
		"logconfig_dict = {'version': 1, 'root': {'level': 'INFO'}}\nforwarded_allow_ips = ['10.0.0.1', '10.0.0.2']\n"), 0o644)
	c = mustParse(t, []string{"a", "-c", conf}, nil)
	if len(c.SecureSchemeHeaders) != 1 || c.SecureSchemeHeaders["X-SCHEME"] != "https" || !strings.Contains(c.LogConfigDict, `"version":1`) ||
		strings.Join(c.ForwardedAllowIPs.Items(), ",") != "10.0.0.1,10.0.0.2" {
		t.Errorf("config file: headers %v dict %q fwd %v", c.SecureSchemeHeaders, c.LogConfigDict, c.ForwardedAllowIPs)
	}
}

// TestNoProxyHeaders: uvicorn's --no-proxy-headers trusts no peer, not even
// a unix-socket one (every other list trusts those).
func TestNoProxyHeaders(t *testing.T) {
	unix := &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}
	if c := mustParse(t, []string{"a"}, nil); !c.ForwardedAllowIPs.TrustsPeer(unix) {
		t.Error("default list: a unix-socket peer is not trusted")
	}
	c := mustParse(t, []string{"a", "--no-proxy-headers"}, nil)
	if c.ForwardedAllowIPs.TrustsPeer(unix) || c.ForwardedAllowIPs.TrustsPeer(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}) {
		t.Error("--no-proxy-headers: a peer is trusted")
	}
}
