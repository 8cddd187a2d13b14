package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlagsAndEnvironment(t *testing.T) {
	c, err := Parse([]string{"app:app", "-b", ":9000", "--bind", "unix:/tmp/x.sock", "-t", "45", "--graceful-timeout", "1m30s"},
		env(map[string]string{"GOWSGI_WORKERS": "3", "GOWSGI_THREADS": "4", "GOWSGI_BIND": "10.0.0.1:1"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Target != "app:app" || c.Workers != 3 || c.Threads != 4 {
		t.Fatalf("target %q workers %d threads %d", c.Target, c.Workers, c.Threads)
	}
	if strings.Join(c.Binds, ",") != ":9000,unix:/tmp/x.sock" {
		t.Fatalf("flags must replace GOWSGI_BIND, got %v", c.Binds)
	}
	if c.Timeout != 45*time.Second || c.GracefulTimeout != 90*time.Second {
		t.Fatalf("timeout %v graceful %v", c.Timeout, c.GracefulTimeout)
	}
	c, err = Parse(nil, env(map[string]string{"GOWSGI_APP": "x:y", "GOWSGI_BIND": "127.0.0.1:1"}), io.Discard)
	if err != nil || c.Target != "x:y" || c.Binds[0] != "127.0.0.1:1" {
		t.Fatalf("from the environment: %+v %v", c, err)
	}
	c, _ = Parse([]string{"a"}, env(nil), io.Discard)
	if c.Binds[0] != "127.0.0.1:8000" || c.Threads != 1 || c.AccessLog != "-" || c.PipelineDepth != 32 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	for args, want := range map[string]string{
		"":                            "no application given",
		"a b":                         "one application expected",
		"a -w 0":                      "--workers must be at least 1",
		"a --bind localhost":          "expected HOST:PORT",
		"a --bind :99999":             "port",
		"a --bind [::1:80":            "unbalanced brackets",
		"a --max-body-size lots":      "is not a size",
		"a --timeout soon":            "is not a duration",
		"a --log-level loud":          "unknown level",
		"a --reload-extra-file x.txt": "needs --reload",
		"a --no-such-flag":            "unknown flag",
	} {
		_, err := Parse(strings.Fields(args), env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error containing %q", args, err, want)
		}
	}
	if _, err := Parse([]string{"a"}, env(map[string]string{"GOWSGI_THREADS": "many"}), io.Discard); err == nil || !strings.Contains(err.Error(), "GOWSGI_THREADS") {
		t.Errorf("bad environment value: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "64K": 64 << 10, "10M": 10 << 20, "1G": 1 << 30, "2MiB": 2 << 20, "3kb": 3 << 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1", "1T", "x", ""} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
