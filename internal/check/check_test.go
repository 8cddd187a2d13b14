package check

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMainArguments(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(nil, &out, &errOut); code != ExitNoLoad || !strings.Contains(errOut.String(), "want exactly one TARGET, got 0 arguments") {
		t.Errorf("no target: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := Main([]string{"--bogus", "x.py"}, &out, &errOut); code != ExitNoLoad || !strings.Contains(errOut.String(), "unknown flag: --bogus") {
		t.Errorf("bad flag: exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	if code := Main([]string{"-h"}, &out, &errOut); code != ExitClean || !strings.HasPrefix(out.String(), "Usage: gowsgi check") {
		t.Errorf("-h: exit %d, stdout %q", code, out.String())
	}
	errOut.Reset()
	if code := Main([]string{"--python", "/nonexistent/python", "x.py"}, &out, &errOut); code != ExitNoLoad || !strings.Contains(errOut.String(), "not found") {
		t.Errorf("missing python: exit %d, stderr %q", code, errOut.String())
	}
}

func python(t *testing.T) string {
	for _, p := range []string{os.Getenv("GOWSGI_TEST_PYTHON"), "/usr/bin/python3", "python3"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("no python3")
	return ""
}

// TestRun drives the real interpreter through the fd-3 protocol.
func TestRun(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	app := "def app(environ, start_response):\n" +
		"    print('printed by the app')\n" +
		"    if environ['REQUEST_METHOD'] == 'POST':\n" +
		"        start_response('200 OK', [('Content-Type', 'text/plain')])\n" +
		"        return ['str body']\n" +
		"    start_response('200 OK', [('Content-Type', 'text/plain')])\n" +
		"    return [environ['PATH_INFO'].encode('latin-1')]\n"
	if err := os.WriteFile(filepath.Join(dir, "probe.py"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := Run(Options{Python: py, Target: "probe", Chdir: dir, RequestTimeout: 10 * time.Second})
	if !rep.Loaded || rep.Callable != "probe:app" || rep.Type != "function" || rep.ExitCode != ExitViolations {
		t.Fatalf("report: %+v", rep)
	}
	if len(rep.Requests) != 6 {
		t.Fatalf("%d requests: %+v", len(rep.Requests), rep.Requests)
	}
	last := rep.Requests[5]
	if last.URI != "/caf%C3%A9" || last.Size != len("/café") || *last.Status != "200 OK" {
		t.Errorf("non-ASCII request: %+v (PATH_INFO must be the UTF-8 bytes as latin-1)", last)
	}
	if len(rep.Violations) != 2 || rep.Violations[0].Request != "POST / (form body)" ||
		!strings.Contains(rep.Violations[0].Message, "must be bytes, but the application produced a str") {
		t.Errorf("violations: %+v", rep.Violations)
	}
	// The app's print() went to stderr, not into the JSON stream.
	if rep.Stopped != "" {
		t.Errorf("stopped: %s\n%s", rep.Stopped, rep.Output)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "    on: POST / (form body), POST / (chunked body)\n") {
		t.Errorf("text report:\n%s", text.String())
	}
}

func TestWriteTextGroups(t *testing.T) {
	s := func(v string) *string { return &v }
	rep := &Report{Target: "a.py", Loaded: true, Callable: "a.py:app", Type: "function", DefinedAt: "a.py:1",
		Python: "/usr/bin/python3", PythonVersion: "3.11.2"}
	for _, label := range []string{"GET /", "HEAD /"} {
		f := Finding{Request: label, Message: "bad thing", File: "a.py", Line: 3}
		w := Finding{Request: label, Message: "odd thing"}
		rep.Requests = append(rep.Requests, Request{Request: label, Status: s("200 OK"), ContentType: s("text/plain"), Size: 2,
			Violations: []Finding{f}, Warnings: []Finding{w}})
		rep.Violations = append(rep.Violations, f)
		rep.Warnings = append(rep.Warnings, w)
	}
	rep.ExitCode = ExitViolations
	var b bytes.Buffer
	rep.WriteText(&b)
	want := "gowsgi check a.py\n" +
		"  callable  a.py:app (function, a.py:1)\n" +
		"  python    /usr/bin/python3 3.11.2\n\n" +
		"  GET /   200 OK  text/plain, 2 bytes\n" +
		"  HEAD /  200 OK  text/plain, 2 bytes\n\n" +
		"1 violation:\n  - bad thing (a.py:3)\n    on: every request\n\n" +
		"1 warning:\n  - odd thing\n    on: every request\n\n" +
		"FAIL: 1 violation\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	js, err := json.Marshal(rep)
	if err != nil || !strings.Contains(string(js), `"violations":[{"request":"GET /","message":"bad thing","file":"a.py","line":3}`) {
		t.Errorf("json: %s %v", js, err)
	}
}

func TestTailBuffer(t *testing.T) {
	var tb tailBuffer
	chunk := strings.Repeat("x", 1000) + "\n"
	for i := 0; i < 300; i++ {
		tb.Write([]byte(chunk))
	}
	tb.Write([]byte("the end\n"))
	s := tb.String()
	if len(s) > tailMax+3 || !strings.HasSuffix(s, "the end\n") || !strings.HasPrefix(s, "...") {
		t.Errorf("tail of %d bytes, ends %q", len(s), s[len(s)-10:])
	}
}
