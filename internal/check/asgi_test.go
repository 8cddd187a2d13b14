package check

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// asgiCase runs a check of tests/testdata/check/NAME.py:app.
func asgiCase(t *testing.T, name, iface string) *Report {
	t.Helper()
	dir, err := filepath.Abs("../../tests/testdata/check")
	if err != nil {
		t.Fatal(err)
	}
	return Run(Options{Python: python(t), Target: name + ":app", Interface: iface, Chdir: dir, RequestTimeout: 10 * time.Second})
}

// TestASGIClean: lifespan (with its state reaching the requests), every
// request answered by the spec, the lifespan shutdown.
func TestASGIClean(t *testing.T) {
	rep := asgiCase(t, "asgi_clean", "")
	if !rep.Loaded || rep.Interface != "ASGI 3" || rep.Type != "coroutine function" || rep.ExitCode != ExitClean || rep.Stopped != "" {
		t.Fatalf("report: %+v", rep)
	}
	if len(rep.Requests) != 8 || *rep.Requests[0].Status != "startup.complete" || *rep.Requests[7].Status != "shutdown.complete" {
		t.Fatalf("requests: %+v", rep.Requests)
	}
	get := rep.Requests[1]
	if get.Request != "GET /" || *get.Status != "200 OK" || *get.ContentType != "text/plain" || get.Size != len("hello / ") {
		t.Errorf("GET /: %+v", get)
	}
	if miss := rep.Requests[5]; *miss.Status != "404 Not Found" {
		t.Errorf("missing page: %+v", miss)
	}
	if cafe := rep.Requests[6]; cafe.Size != len("hello /café ") {
		t.Errorf("non-ASCII path (decoded as UTF-8 into scope['path']): %+v", cafe)
	}
	if len(rep.Violations)+len(rep.Warnings) != 0 {
		t.Errorf("findings: %+v %+v", rep.Violations, rep.Warnings)
	}
	var b bytes.Buffer
	rep.WriteText(&b)
	for _, want := range []string{"  speaks    ASGI 3\n", "  lifespan startup                 startup.complete\n", "OK: no ASGI violations found\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

// TestASGIViolations: each protocol violation in plain words, with the
// line of the send() that made it; a lifespan the app does not support
// is a warning.
func TestASGIViolations(t *testing.T) {
	rep := asgiCase(t, "asgi_violations", "")
	if rep.ExitCode != ExitViolations || rep.Stopped != "" {
		t.Fatalf("report: %+v", rep)
	}
	want := map[string]string{
		"GET /":                           "a second http.response.start: the response had started with status 200 OK",
		"HEAD /":                          "the application sent 'http.response.body' after the response ended (its last http.response.body had more_body=False)",
		"POST / (form body)":              "the application returned without sending http.response.start (gowsgi answers 500)",
		"POST / (chunked body)":           "the body of http.response.body must be bytes, not str ('a str body')",
		"GET /gowsgi-check/missing-page":  "the status of http.response.start must be an int like 200, not str ('404')",
		"GET /caf%C3%A9 (non-ASCII path)": "header names and values must be bytes, not str ('content-type')",
	}
	if len(rep.Violations) != len(want) {
		t.Errorf("%d violations, want %d: %+v", len(rep.Violations), len(want), rep.Violations)
	}
	for _, v := range rep.Violations {
		if w, ok := want[v.Request]; !ok || !strings.HasPrefix(v.Message, w) || !strings.HasSuffix(v.File, "asgi_violations.py") || v.Line == 0 {
			t.Errorf("%s: %+v, want %q at a line of asgi_violations.py", v.Request, v, w)
		}
	}
	if len(rep.Warnings) != 1 || rep.Warnings[0].Request != "lifespan startup" ||
		!strings.HasPrefix(rep.Warnings[0].Message, "the application raised ValueError on the lifespan scope: it does not support lifespan") {
		t.Errorf("warnings: %+v", rep.Warnings)
	}
	if *rep.Requests[0].Status != "not supported (raised ValueError)" || len(rep.Requests) != 7 {
		t.Errorf("requests: %+v", rep.Requests)
	}
}

func TestASGILifespanAndInterface(t *testing.T) {
	rep := asgiCase(t, "asgi_startup_failed", "")
	if rep.ExitCode != ExitViolations || len(rep.Violations) != 1 ||
		rep.Violations[0].Message != "lifespan.startup.failed: cannot reach the database (gowsgi's workers would not start)" {
		t.Errorf("startup failed: %+v", rep.Violations)
	}
	// ASGI 2's double callable, with --interface asgi, and without it: a
	// class whose instances have an async __call__ is ASGI 2 to the
	// workers (asgi.interface_of), so to the check too.
	rep = asgiCase(t, "asgi2_app", "asgi")
	if rep.Interface != "ASGI 2" || rep.ExitCode != ExitClean || *rep.Requests[1].Status != "200 OK" || rep.Requests[1].Size != 5 {
		t.Errorf("ASGI 2: %+v", rep)
	}
	if rep = asgiCase(t, "asgi2_app", ""); rep.Interface != "ASGI 2" || rep.ExitCode != ExitClean {
		t.Errorf("a double callable without --interface asgi: %q exit %d", rep.Interface, rep.ExitCode)
	}
	// --interface wsgi judges a coroutine function as WSGI (and it fails).
	if rep = asgiCase(t, "asgi_clean", "wsgi"); rep.Interface != "" || rep.ExitCode != ExitViolations {
		t.Errorf("--interface wsgi: %q exit %d", rep.Interface, rep.ExitCode)
	}
	// --check-config sends nothing, not even lifespan.
	rep = Load(Options{Python: python(t), Target: "asgi_startup_failed:app", Chdir: "../../tests/testdata/check"})
	if !rep.Loaded || rep.Interface != "ASGI 3" || len(rep.Requests) != 0 {
		t.Errorf("load only: %+v", rep)
	}
}

// TestASGIGivesUp: a step that gets no answer within --timeout is
// cancelled and reported where the application waited; the check goes on.
func TestASGIGivesUp(t *testing.T) {
	dir, _ := filepath.Abs("../../tests/testdata/check")
	rep := Run(Options{Python: python(t), Target: "asgi_hangs:app", Chdir: dir, RequestTimeout: time.Second})
	if rep.ExitCode != ExitViolations || rep.Stopped != "" || len(rep.Requests) != 7 {
		t.Fatalf("report: %+v", rep)
	}
	want := map[string]string{
		"lifespan startup": "no answer to lifespan.startup within 1s: the check gave up waiting",
		"GET /":            "no complete response within 1s: the check gave up waiting",
	}
	if len(rep.Violations) != 2 {
		t.Errorf("violations: %+v", rep.Violations)
	}
	for _, v := range rep.Violations {
		if !strings.HasPrefix(v.Message, want[v.Request]) || !strings.HasSuffix(v.File, "asgi_hangs.py") || (v.Line != 8 && v.Line != 11) {
			t.Errorf("%s: %+v", v.Request, v)
		}
	}
	if head := rep.Requests[2]; head.Request != "HEAD /" || *head.Status != "200 OK" || head.Size != 1 {
		t.Errorf("HEAD / after the hang: %+v", head)
	}
}
