package tests

// Tests of `gowsgi check TARGET`, run through the real binary on the broken
// applications in testdata/check/: every message the report can print, the
// exit codes (0 clean, 1 violations, 2 cannot load) and --json.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	checkOnce  sync.Once
	checkUsage string // what `gowsgi check --help` printed
)

// runCheck runs `gowsgi check --python <test python> ARGS...` in the repo
// root (bounded) and returns its exit code, stdout and stderr. A binary
// whose `check --help` does not show check's usage fails the test: the
// subcommand must be there.
func runCheck(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	checkOnce.Do(func() {
		out, err := exec.Command(gowsgiBin, "check", "--help").CombinedOutput()
		checkUsage = string(out)
		if err != nil {
			checkUsage += "\n(" + err.Error() + ")"
		}
	})
	if !strings.Contains(checkUsage, "Usage: gowsgi check") {
		t.Fatalf("`gowsgi check --help` does not print check's usage; is the subcommand wired to internal/check?\n%s", checkUsage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gowsgiBin, append([]string{"check", "--python", pythonBin}, args...)...)
	cmd.Dir = repoRoot
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("gowsgi check %v did not finish within 60s\nstdout:\n%s\nstderr:\n%s", args, &stdout, &stderr)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// wantCheck asserts the exit code and that stdout contains every string in
// want, in order.
func wantCheck(t *testing.T, code int, stdout, stderr string, wantCode int, want ...string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit code %d, want %d", code, wantCode)
	}
	rest := stdout
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("report lacks (or has out of order) %q", w)
			continue
		}
		rest = rest[i+len(w):]
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

const checkDir = "tests/testdata/check/"

var allRequests = []string{"GET /", "HEAD /", "POST / (form body)", "POST / (chunked body)",
	"GET /gowsgi-check/missing-page", "GET /caf%C3%A9 (non-ASCII path)"}

func TestCheckSeedSlip(t *testing.T) {
	t.Parallel()
	// The seed defines `app`; asking for `application` is the usual slip.
	code, out, errOut := runCheck(t, checkDir+"seed_slip.py:application")
	wantCheck(t, code, out, errOut, 2,
		"gowsgi check tests/testdata/check/seed_slip.py:application\n",
		"cannot load tests/testdata/check/seed_slip.py:application: module seed_slip (tests/testdata/check/seed_slip.py) "+
			"has no attribute 'application'; callables it defines: app, make_server\n",
		"did you mean: gowsgi check tests/testdata/check/seed_slip.py:app\n")

	// Without a name, `app` is found and the seed is clean.
	code, out, errOut = runCheck(t, checkDir+"seed_slip.py")
	wantCheck(t, code, out, errOut, 0,
		"  callable  tests/testdata/check/seed_slip.py:app (generator function, tests/testdata/check/seed_slip.py:6)\n",
		"  python    ", "\n\n",
		"GET /  ", "200 OK  text/plain, 13 bytes\n",
		"\nOK: no PEP 3333 violations found\n")
}

func TestCheckNoDefaultName(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"no_default_name.py")
	wantCheck(t, code, out, errOut, 2,
		"cannot load tests/testdata/check/no_default_name.py: module no_default_name (tests/testdata/check/no_default_name.py) "+
			"has no callable 'app' or 'application'; callables it defines: helper, wsgi_handler\n",
		"did you mean: gowsgi check tests/testdata/check/no_default_name.py:wsgi_handler\n")
	if strings.Contains(out, "helper\ndid") || strings.Contains(out, ":helper") {
		t.Errorf("suggested a callable that cannot serve WSGI:\n%s", out)
	}
}

func TestCheckBadStatus(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"bad_status.py")
	wantCheck(t, code, out, errOut, 1,
		"  callable  tests/testdata/check/bad_status.py:app (function, tests/testdata/check/bad_status.py:2)\n",
		"GET /  ", "200  text/plain, 17 bytes\n",
		"\n1 violation:\n",
		"  - the status '200' must be a three-digit code, a space and a reason phrase, like '200 OK'; "+
			"gowsgi answers 500 (tests/testdata/check/bad_status.py:3)\n    on: every request\n",
		"\nFAIL: 1 violation\n")
}

func TestCheckNonBytesBody(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"non_bytes_body.py")
	wantCheck(t, code, out, errOut, 1,
		"  - the response body must be bytes, but the application produced a str: 'Hello, WSGI!\\n'; "+
			"encode it, e.g. text.encode('utf-8') (tests/testdata/check/non_bytes_body.py:4)\n    on: every request\n",
		"FAIL: 1 violation\n")
}

func TestCheckMissingStartResponse(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"no_start_response.py")
	wantCheck(t, code, out, errOut, 1,
		"POST / (form body)  ", "no response  -, 0 bytes\n",
		"\n2 violations:\n",
		"  - the application returned without calling start_response() (tests/testdata/check/no_start_response.py:2)\n"+
			"    on: POST / (form body), POST / (chunked body)\n",
		"  - the application returned a body without calling start_response() (tests/testdata/check/no_start_response.py:2)\n"+
			"    on: GET /gowsgi-check/missing-page, GET /caf%C3%A9 (non-ASCII path)\n",
		"FAIL: 2 violations\n")
}

func TestCheckExcInfoMisuse(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"exc_info_misuse.py")
	wantCheck(t, code, out, errOut, 1,
		"  - start_response() was called a second time without exc_info; only an error handler may call it again, "+
			"passing sys.exc_info() (tests/testdata/check/exc_info_misuse.py:11)\n"+
			"    on: GET /, HEAD /, GET /gowsgi-check/missing-page, GET /caf%C3%A9 (non-ASCII path)\n",
		"  - start_response() got exc_info=ValueError('something failed'), a ValueError; pass sys.exc_info() (a 3-tuple) "+
			"from inside an except block (tests/testdata/check/exc_info_misuse.py:9)\n"+
			"    on: POST / (form body), POST / (chunked body)\n")
}

func TestCheckHeadersNotList(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"headers_not_list.py")
	wantCheck(t, code, out, errOut, 1,
		"  - the response headers must be a list of (name, value) tuples, not a dict (tests/testdata/check/headers_not_list.py:4)\n"+
			"    on: GET /, GET /gowsgi-check/missing-page, GET /caf%C3%A9 (non-ASCII path)\n",
		"  - the response headers must be a list of (name, value) tuples, not a tuple (tests/testdata/check/headers_not_list.py:6)\n"+
			"    on: HEAD /, POST / (form body), POST / (chunked body)\n")
}

func TestCheckClean(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"clean.py")
	wantCheck(t, code, out, errOut, 0,
		"gowsgi check tests/testdata/check/clean.py\n",
		"  callable  tests/testdata/check/clean.py:app (function, tests/testdata/check/clean.py:2)\n",
		"\n  GET /                            200 OK         text/plain, 20 bytes\n",
		"  HEAD /                           200 OK         text/plain, 21 bytes\n",
		"  POST / (form body)               200 OK         text/plain, 22 bytes\n",
		"  POST / (chunked body)            200 OK         text/plain, 22 bytes\n",
		"  GET /gowsgi-check/missing-page   404 Not Found  text/plain; charset=utf-8, 35 bytes\n",
		"  GET /caf%C3%A9 (non-ASCII path)  404 Not Found  text/plain; charset=utf-8, 15 bytes\n",
		"\nOK: no PEP 3333 violations found\n")
	if strings.Contains(out, "violation:") || strings.Contains(out, "warning") {
		t.Errorf("a clean app got findings:\n%s", out)
	}
}

func TestCheckImportError(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"import_error.py")
	wantCheck(t, code, out, errOut, 2,
		"cannot load tests/testdata/check/import_error.py: importing the application raised ModuleNotFoundError: "+
			"No module named 'gowsgi_no_such_module_for_check'\n",
		"  Traceback (most recent call last):\n",
		"    File \"tests/testdata/check/import_error.py\", line 4, in <module>\n",
		"  ModuleNotFoundError: No module named 'gowsgi_no_such_module_for_check'\n")
	if strings.Contains(out, "<gowsgi>/") || strings.Contains(out, "<frozen") {
		t.Errorf("the traceback shows gowsgi's or importlib's own frames:\n%s", out)
	}
}

func TestCheckExitsAtImport(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"exits_at_import.py")
	wantCheck(t, code, out, errOut, 2,
		"cannot load tests/testdata/check/exits_at_import.py: the interpreter stopped without a report (exit status 5)\n",
		"\napplication output (stderr):\n  about to exit\n")
}

func TestCheckFactoryReturnsNone(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t, checkDir+"cases.py:app_factory_none()")
	wantCheck(t, code, out, errOut, 2, "cannot load tests/testdata/check/cases.py:app_factory_none(): factory 'app_factory_none()' in ",
		"returned None, not a WSGI callable\n")
}

// checkReport mirrors the --json output.
type checkReport struct {
	Target        string `json:"target"`
	Python        string `json:"python"`
	PythonVersion string `json:"python_version"`
	Loaded        bool   `json:"loaded"`
	Callable      string `json:"callable"`
	Type          string `json:"type"`
	DefinedAt     string `json:"defined_at"`
	LoadError     string `json:"load_error"`
	Suggestion    string `json:"suggestion"`
	Traceback     string `json:"traceback"`
	Requests      []struct {
		Request     string          `json:"request"`
		Method      string          `json:"method"`
		URI         string          `json:"uri"`
		Status      *string         `json:"status"`
		ContentType *string         `json:"content_type"`
		Size        int             `json:"size"`
		Error       json.RawMessage `json:"error"`
		Violations  []checkFinding  `json:"violations"`
		Warnings    []checkFinding  `json:"warnings"`
	} `json:"requests"`
	Violations []checkFinding `json:"violations"`
	Warnings   []checkFinding `json:"warnings"`
	ExitCode   int            `json:"exit_code"`
}

type checkFinding struct {
	Request string `json:"request"`
	Message string `json:"message"`
	File    string `json:"file"`
	Line    int    `json:"line"`
}

func checkJSON(t *testing.T, args ...string) (int, checkReport) {
	t.Helper()
	code, out, errOut := runCheck(t, append([]string{"--json"}, args...)...)
	var rep checkReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("--json output does not parse: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if rep.ExitCode != code {
		t.Errorf("exit_code %d in the JSON, but the process exited %d", rep.ExitCode, code)
	}
	return code, rep
}

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	t.Run("violations", func(t *testing.T) {
		code, rep := checkJSON(t, checkDir+"bad_status.py")
		if code != 1 || !rep.Loaded || rep.Callable != checkDir+"bad_status.py:app" || rep.Type != "function" ||
			rep.DefinedAt != checkDir+"bad_status.py:2" || rep.PythonVersion == "" {
			t.Errorf("exit %d, report %+v", code, rep)
		}
		if len(rep.Requests) != len(allRequests) {
			t.Fatalf("%d requests, want %d", len(rep.Requests), len(allRequests))
		}
		for i, r := range rep.Requests {
			if r.Request != allRequests[i] || r.Status == nil || *r.Status != "200" || r.ContentType == nil ||
				*r.ContentType != "text/plain" || r.Size != 17 || len(r.Violations) != 1 {
				t.Errorf("request %d: %+v", i, r)
			}
		}
		if len(rep.Violations) != len(allRequests) {
			t.Fatalf("%d violations, want one per request: %+v", len(rep.Violations), rep.Violations)
		}
		v := rep.Violations[0]
		if v.Request != "GET /" || v.File != checkDir+"bad_status.py" || v.Line != 3 ||
			!strings.HasPrefix(v.Message, "the status '200' must be a three-digit code") {
			t.Errorf("violation %+v", v)
		}
	})
	t.Run("clean", func(t *testing.T) {
		code, rep := checkJSON(t, checkDir+"clean.py")
		if code != 0 || len(rep.Violations) != 0 || len(rep.Warnings) != 0 || len(rep.Requests) != 6 {
			t.Errorf("exit %d, report %+v", code, rep)
		}
		if r := rep.Requests[5]; r.URI != "/caf%C3%A9" || r.Method != "GET" || *r.Status != "404 Not Found" {
			t.Errorf("non-ASCII request: %+v", r)
		}
	})
	t.Run("wrong name", func(t *testing.T) {
		code, rep := checkJSON(t, checkDir+"seed_slip.py:application")
		if code != 2 || rep.Loaded || rep.Suggestion != checkDir+"seed_slip.py:app" ||
			!strings.HasSuffix(rep.LoadError, "callables it defines: app, make_server") || len(rep.Requests) != 0 {
			t.Errorf("exit %d, report %+v", code, rep)
		}
	})
	t.Run("import error", func(t *testing.T) {
		code, rep := checkJSON(t, checkDir+"import_error.py")
		if code != 2 || rep.Loaded || !strings.Contains(rep.Traceback, `import_error.py", line 4`) {
			t.Errorf("exit %d, report %+v", code, rep)
		}
	})
	t.Run("app error", func(t *testing.T) {
		code, rep := checkJSON(t, checkDir+"cases.py:case('raises')")
		var e struct{ Type, Message, Traceback string }
		if code != 1 || len(rep.Requests) != 6 || json.Unmarshal(rep.Requests[0].Error, &e) != nil ||
			e.Type != "KeyError" || !strings.Contains(e.Traceback, "raise KeyError('missing')") {
			t.Errorf("exit %d, error %s, report %+v", code, rep.Requests[0].Error, rep)
		}
	})
}

// markerLine finds the line of testdata/check/cases.py that ends in "# <- name".
func markerLine(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, checkDir, "cases.py"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(sc.Text(), "# <- "+name) {
			return n
		}
	}
	t.Fatalf("no line marked %q in cases.py", name)
	return 0
}

// TestCheckMessages runs one broken application per message the report can
// print and looks for that message, pointing at the marked line.
func TestCheckMessages(t *testing.T) {
	t.Parallel()
	const violation, warning = "violation", "warning"
	cases := []struct {
		name, kind, message string
		noLine              bool // the report cannot know a line
	}{
		{"read_no_size", warning, "wsgi.input.read() was called without a size; PEP 3333 asks for one (gowsgi allows it: its wsgi.input ends at the end of the body)", false},
		{"readline_args", violation, "wsgi.input.readline() takes at most one argument", false},
		{"errors_bytes", violation, "wsgi.errors.write() needs a str, not bytes", false},
		{"close_input", violation, "the application closed wsgi.input; only the server may close it", false},
		{"close_errors", violation, "the application closed wsgi.errors; only the server may close it", false},
		{"write_str", violation, "the write() callable returned by start_response() needs bytes, not str ('text, not bytes')", false},
		{"status_not_str", violation, "the status must be a str like '200 OK', not bytes (b'200 OK')", false},
		{"status_four_digits", violation, "the status '2000 OK' must start with a three-digit code, like '200 OK'", false},
		{"status_words", violation, "the status 'OK 200' must start with a three-digit code, like '200 OK'", false},
		{"status_low", violation, "the status '099 Low' has a code below 100", false},
		{"status_1xx", violation, "the status '103 Early Hints' is informational (1xx); it cannot be the final response; gowsgi answers 500", false},
		{"status_control", violation, `the status '200 O\x7fK' contains the control character '\x7f'; gowsgi answers 500`, false},
		{"status_non_latin1", violation, "the status '200 Okay ✓' has characters outside latin-1 (PEP 3333 requires latin-1); gowsgi answers 500", false},
		{"header_list_item", violation, "each response header must be a (name, value) tuple, not a list: ['Content-Type', 'text/plain']", false},
		{"header_triple", violation, "each response header must be a (name, value) pair, not ('Content-Type', 'text/plain', 'utf-8')", false},
		{"header_name_bytes", violation, "header name b'Content-Type' must be a str, not bytes", false},
		{"header_value_int", violation, "the value of header 'Content-Length' must be a str, not int (2)", false},
		{"status_header", violation, "a 'Status' header is not allowed: the status is start_response()'s first argument", false},
		{"bad_header_name", violation, "'X Powered By' is not a valid header name (use letters, digits and dashes)", false},
		{"header_injection", violation, `the value of header 'X-Note' contains the control character '\r' (CR or LF would allow header injection)`, false},
		{"header_del_char", violation, `the value of header 'X-Note' contains the control character '\x7f'; gowsgi answers 500`, false},
		{"header_non_latin1", violation, "the value of header 'X-Name' has characters outside latin-1 ('Zoë ✓'); PEP 3333 requires latin-1, so encode it (e.g. RFC 8187 or percent-encoding); gowsgi answers 500", false},
		{"hop_by_hop", violation, "the 'Connection' header is hop-by-hop: it describes the connection, which PEP 3333 leaves to the server; gowsgi answers 500", false},
		{"content_length_text", violation, "Content-Length 'two' is not a number; gowsgi answers 500", false},
		{"content_length_twice", violation, "there is more than one Content-Length header; gowsgi answers 500", false},
		{"content_type_204", warning, "a 204 response has no body, so it should not have a Content-Type header", false},
		{"no_content_type", warning, "the '200 OK' response has no Content-Type header; clients will have to guess", false},
		{"exc_info_not_tuple", violation, "start_response() got exc_info=ValueError('oops'), a ValueError; pass sys.exc_info() (a 3-tuple) from inside an except block", false},
		{"exc_info_none", violation, "start_response() got exc_info=(None, None, None): sys.exc_info() was called outside an except block", false},
		{"too_many_args", violation, "start_response() takes (status, headers) or (status, headers, exc_info); it got 4 arguments", false},
		{"keyword_args", violation, "start_response() was called with keyword arguments (exc_info); PEP 3333 passes them by position", false},
		{"second_start_response", violation, "start_response() was called a second time without exc_info; only an error handler may call it again, passing sys.exc_info()", false},
		{"returns_none", violation, "the application returned None instead of an iterable of bytes (return [] for an empty body)", false},
		{"returns_bytes", violation, "the application returned a bytes object, not a list of bytes: a server would send it one item at a time; return [body] instead", false},
		{"yields_str", violation, "the response body must be bytes, but the application produced a str: 'hello'; encode it, e.g. text.encode('utf-8')", false},
		{"body_without_start_response", violation, "the application returned a body without calling start_response()", false},
		{"no_start_response", violation, "the application returned without calling start_response()", false},
		{"content_length_wrong", violation, "Content-Length says 100 bytes but the body has 5", false},
		{"raises", violation, "the application raised KeyError: 'missing' (gowsgi would answer 500 Internal Server Error)", false},
		{"raises_midway", violation, "the application raised RuntimeError: lost the database after the response started (gowsgi would cut the connection)", false},
		{"close_raises", violation, "close() of the response iterable raised OSError: cannot release the file", false},
		{"answers_500", warning, "the application answered 500 Internal Server Error: it failed on this request (its output may say why)", true},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCheck(t, fmt.Sprintf("%scases.py:case('%s')", checkDir, c.name))
			item := "  - " + c.message
			if !c.noLine {
				item += fmt.Sprintf(" (%scases.py:%d)", checkDir, markerLine(t, c.name))
			}
			item += "\n    on: "
			if c.kind == violation {
				wantCheck(t, code, out, errOut, 1, "\n1 violation:\n"+item, "\nFAIL: 1 violation\n")
			} else {
				wantCheck(t, code, out, errOut, 0, "\n1 warning:\n"+item, "\nOK: no PEP 3333 violations found (1 warning)\n")
			}
		})
	}
}

func TestCheckAppOutputShown(t *testing.T) {
	t.Parallel()
	// Output the application printed is shown when a request failed.
	code, out, errOut := runCheck(t, checkDir+"cases.py:case('answers_500')")
	wantCheck(t, code, out, errOut, 0, "\napplication output (stderr):\n  app log: the cache is down\n")
	// and a raised exception's traceback, once for all the requests it hit.
	code, out, errOut = runCheck(t, checkDir+"cases.py:case('raises')")
	wantCheck(t, code, out, errOut, 1, "\nraised on every request:\n  Traceback (most recent call last):\n",
		"    File \"tests/testdata/check/cases.py\", line ", ", in app_raises\n", "  KeyError: 'missing'\n")
	if n := strings.Count(out, "Traceback"); n != 1 {
		t.Errorf("%d tracebacks, want 1:\n%s", n, out)
	}
}

func TestCheckStopped(t *testing.T) {
	t.Parallel()
	t.Run("hang", func(t *testing.T) {
		start := time.Now()
		code, out, errOut := runCheck(t, "--timeout", "1s", checkDir+"cases.py:case('hangs')")
		wantCheck(t, code, out, errOut, 1,
			"  GET /  stopped  -, 0 bytes\n",
			"\nstopped: GET / got no answer within 1s; the check was stopped (where the application was is in its output below)\n",
			"\napplication output (stderr):\n  Timeout (0:00:01)!\n", "line ", " in app_hangs\n",
			"\nFAIL: the application did not answer every request\n")
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("took %s to give up on a 1s timeout", d)
		}
	})
	t.Run("exit", func(t *testing.T) {
		code, out, errOut := runCheck(t, checkDir+"cases.py:case('exits')")
		wantCheck(t, code, out, errOut, 1,
			"\nstopped: the interpreter stopped during GET / (exit status 7)\n",
			"\nFAIL: the application did not answer every request\n")
	})
}

func TestCheckUsage(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCheck(t)
	if code != 2 || !strings.Contains(errOut, "gowsgi check: want exactly one TARGET, got 0 arguments\nUsage: gowsgi check") {
		t.Errorf("no target: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runCheck(t, "a.py", "b.py")
	if code != 2 || !strings.Contains(errOut, "want exactly one TARGET, got 2 arguments") {
		t.Errorf("two targets: exit %d\nstderr:\n%s", code, errOut)
	}
	code, _, errOut = runCheck(t, "--no-such-flag", "a.py")
	if code != 2 || !strings.Contains(errOut, "gowsgi check: unknown flag: --no-such-flag") {
		t.Errorf("bad flag: exit %d\nstderr:\n%s", code, errOut)
	}
	code, out, errOut = runCheck(t, "--help")
	if code != 0 || !strings.Contains(out, "Usage: gowsgi check") || !strings.Contains(out, "--json") {
		t.Errorf("--help: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = runCheck(t, "--python", "/nonexistent/python3", checkDir+"clean.py")
	if code != 2 || !strings.Contains(errOut, `gowsgi check: python interpreter "/nonexistent/python3" not found`) {
		t.Errorf("missing python: exit %d\nstderr:\n%s", code, errOut)
	}
}

func TestCheckChdirAndPythonPath(t *testing.T) {
	t.Parallel()
	// Loaded as gowsgi loads it: --chdir, --pythonpath, module targets.
	code, out, errOut := runCheck(t, "--chdir", "tests/testdata/check", "clean")
	wantCheck(t, code, out, errOut, 0, "  callable  clean:app (function, ", "clean.py:2)\n", "OK: no PEP 3333 violations found\n")
	code, out, errOut = runCheck(t, "--pythonpath", "tests/testdata/check", "seed_slip:app")
	wantCheck(t, code, out, errOut, 0, "  callable  seed_slip:app (generator function, tests/testdata/check/seed_slip.py:6)\n")
	code, out, errOut = runCheck(t, "no_such_module_for_gowsgi_check")
	wantCheck(t, code, out, errOut, 2, "cannot load no_such_module_for_gowsgi_check: no module named 'no_such_module_for_gowsgi_check' (looked in ")
}

// TestCheckExamples: every example application passes the check.
func TestCheckExamples(t *testing.T) {
	for _, ex := range []struct {
		framework, module string
		args              []string
	}{
		{"flask", "flask", []string{"examples/flask/app.py"}},
		{"django", "django", []string{"--chdir", "examples/django", "mysite.wsgi"}},
		{"falcon", "falcon", []string{"examples/falcon/app.py"}},
		{"bottle", "bottle", []string{"examples/bottle/app.py"}},
		{"pyramid", "pyramid", []string{"--chdir", "examples/pyramid", "app:make_app()"}},
	} {
		t.Run(ex.framework, func(t *testing.T) {
			if err := exec.Command(pythonBin, "-c", "import "+ex.module).Run(); err != nil {
				t.Skipf("%s is not importable by %s", ex.module, pythonBin)
			}
			if ex.framework == "django" {
				// Django creates its SQLite file on first use: not in the tree.
				t.Setenv("DJANGO_DB", filepath.Join(t.TempDir(), "db.sqlite3"))
			}
			code, out, errOut := runCheck(t, ex.args...)
			wantCheck(t, code, out, errOut, 0, "  callable  ", "\nOK: no PEP 3333 violations found")
			if m := regexp.MustCompile(`\n1 warning|\n\d+ warnings`).FindString(out); m != "" && ex.framework != "django" {
				t.Errorf("warnings for the %s example:\n%s", ex.framework, out)
			}
		})
	}
}
