package check

import (
	"strings"
	"testing"
)

// TestASGIResponseExtensions: http.response.trailers and
// http.response.early_hint are advertised and pass when used by the spec;
// trailers not announced, before the body's end, missing, or a body after
// the body's end are violations in plain words.
func TestASGIResponseExtensions(t *testing.T) {
	rep := asgiCase(t, "asgi_extensions", "")
	if rep.ExitCode != ExitViolations || rep.Stopped != "" {
		t.Fatalf("report: %+v", rep)
	}
	want := map[string]string{
		"HEAD /":                          "http.response.trailers was sent, but http.response.start did not say 'trailers': True",
		"POST / (form body)":              "http.response.trailers was sent before the body ended",
		"GET /gowsgi-check/missing-page":  "the application returned without the http.response.trailers its http.response.start announced",
		"GET /caf%C3%A9 (non-ASCII path)": "http.response.body was sent after the body ended (more_body=False); the response announced trailers",
	}
	if len(rep.Violations) != len(want) {
		t.Errorf("%d violations, want %d: %+v", len(rep.Violations), len(want), rep.Violations)
	}
	for _, v := range rep.Violations {
		if w, ok := want[v.Request]; !ok || !strings.HasPrefix(v.Message, w) {
			t.Errorf("%s: %+v, want %q", v.Request, v, w)
		}
	}
	for _, r := range rep.Requests {
		if (r.Request == "GET /" || r.Request == "POST / (chunked body)") && (r.Status == nil || *r.Status != "200 OK") {
			t.Errorf("%s: %+v, want 200 OK", r.Request, r)
		}
	}
}
