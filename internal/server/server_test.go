package server

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gowsgi/gowsgi/internal/config"
)

// fakePart records what the server does with it, and fails where told.
type fakePart struct {
	name                        string
	events                      *[]string
	failProvision, failValidate bool
	failStart                   bool
	pushOnProvision             bool // Provision holds something: it pushes its closing
}

func (f *fakePart) Provision(s *Server) error {
	*f.events = append(*f.events, "provision "+f.name)
	if f.pushOnProvision {
		s.cleanups.push(func() { *f.events = append(*f.events, "close "+f.name) })
	}
	if f.failProvision {
		return errors.New(f.name + ": cannot provision")
	}
	return nil
}

func (f *fakePart) Validate() error {
	if f.failValidate {
		return errors.New(f.name + ": invalid")
	}
	return nil
}

func (f *fakePart) Start(s *Server) error {
	*f.events = append(*f.events, "start "+f.name)
	if f.failStart {
		return errors.New(f.name + ": cannot start")
	}
	return nil
}

func (f *fakePart) Stop(s *Server) { *f.events = append(*f.events, "stop "+f.name) }

func parts(events *[]string, names ...string) (map[string]*fakePart, []part) {
	m := map[string]*fakePart{}
	var out []part
	for _, n := range names {
		p := &fakePart{name: n, events: events}
		m[n], out = p, append(out, p)
	}
	return m, out
}

// TestPartsLifecycle: every part is provisioned before any starts; the
// started ones stop newest first, after the cleanups pushed later.
func TestPartsLifecycle(t *testing.T) {
	var events []string
	m, ps := parts(&events, "logs", "pool", "http")
	m["logs"].pushOnProvision = true
	s := &Server{}
	if err := s.startParts(ps); err != nil {
		t.Fatal(err)
	}
	s.cleanups.run()
	want := []string{"provision logs", "provision pool", "provision http", "start logs", "start pool", "start http",
		"stop http", "stop pool", "stop logs", "close logs"}
	if !slices.Equal(events, want) {
		t.Errorf("events\n got %v\nwant %v", events, want)
	}
}

// TestStartFailureStopsWhatStarted: a part that fails to start leaves the
// parts before it stopped, in reverse, and the parts after it untouched.
func TestStartFailureStopsWhatStarted(t *testing.T) {
	var events []string
	m, ps := parts(&events, "logs", "pool", "listeners", "http")
	m["listeners"].failStart = true
	s := &Server{}
	err := s.startParts(ps)
	s.cleanups.run()
	if err == nil || err.Error() != "listeners: cannot start" {
		t.Fatalf("err %v", err)
	}
	want := []string{"provision logs", "provision pool", "provision listeners", "provision http",
		"start logs", "start pool", "start listeners", "stop pool", "stop logs"}
	if !slices.Equal(events, want) {
		t.Errorf("events\n got %v\nwant %v", events, want)
	}
	if code := report("app", err); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
}

// TestInvalidStartsNothing: a Validate error is the user's (exit 2), and
// nothing is started; what a Provision opened is closed.
func TestInvalidStartsNothing(t *testing.T) {
	var events []string
	m, ps := parts(&events, "logs", "front", "pool")
	m["logs"].pushOnProvision = true
	m["front"].failValidate = true
	s := &Server{}
	err := s.startParts(ps)
	s.cleanups.run()
	want := []string{"provision logs", "provision front", "close logs"}
	if !slices.Equal(events, want) {
		t.Errorf("events\n got %v\nwant %v", events, want)
	}
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || err.Error() != "front: invalid" {
		t.Errorf("err %v, want exit status 2", err)
	}
}

// TestFrontValidate: the TLS and HTTP/2 settings that do not go together
// are refused before anything runs, with one line each.
func TestFrontValidate(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	os.WriteFile(cert, []byte("not a certificate"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--keyfile", "k.pem"}, "--keyfile needs --certfile"},
		{[]string{"--cert-reqs", "2"}, "--cert-reqs needs TLS"},
		{[]string{"--http2-cleartext", "both", "--http-protocols", "h1"}, "--http2-cleartext needs h2"},
		{[]string{"--http-protocols", "h2"}, "needs TLS (--certfile) or --http2-cleartext"},
		{[]string{"--certfile", cert}, cert},
	} {
		cfg, err := config.Parse(append([]string{"app:x"}, c.args...), func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler)}
		f := &frontEnd{}
		err = s.startParts([]part{f})
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want exit 2 with %q", c.args, err, c.want)
		}
	}
}

// TestReport: how a failed start ends.
func TestReport(t *testing.T) {
	if code := report("app", errInterrupted); code != 0 {
		t.Errorf("interrupted: %d, want 0", code)
	}
	if code := report("app", usage(errors.New("bad"))); code != 2 {
		t.Errorf("usage: %d, want 2", code)
	}
	if usage(nil) != nil {
		t.Error("usage(nil) is not nil")
	}
}
