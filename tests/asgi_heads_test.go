package tests

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestASGIReusedHeadsAreEachResponses: the ASGI worker reuses the head it
// made for a status and header pairs it has seen (asgi.py's _HEADS), so
// every response must still carry its own: a headers list the app changes
// in place between responses, the same pairs under other statuses, pairs
// as lists or partly lists (not reused), a Content-Length that changes
// with the body, and a refused status whose pairs were reused before.
func TestASGIReusedHeadsAreEachResponses(t *testing.T) {
	s, _ := startASGI(t, nil, "tests/testdata/apps/asgi_heads.py")
	c := client()
	do := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(s.URL(path))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp, string(b)
	}
	for i := 1; i <= 5; i++ {
		resp, _ := do("/shared")
		if got := resp.Header.Get("X-N"); got != strconv.Itoa(i) {
			t.Errorf("/shared #%d: X-N %q, want %d (a head reused for a list changed in place)", i, got, i)
		}
	}
	for _, code := range []int{200, 201, 200, 404, 201} {
		resp, _ := do("/status?" + strconv.Itoa(code))
		if resp.StatusCode != code {
			t.Errorf("/status?%d: status %d", code, resp.StatusCode)
		}
	}
	for _, path := range []string{"/lists", "/mixed"} {
		for _, kind := range []string{"a", "b", "a"} {
			resp, body := do(path + "?" + kind)
			if resp.StatusCode != 200 || resp.Header.Get("X-Kind") != kind || body != "ok" {
				t.Errorf("%s?%s: status %d, X-Kind %q, body %q", path, kind, resp.StatusCode, resp.Header.Get("X-Kind"), body)
			}
		}
	}
	for _, n := range []int{3, 10, 3, 0} {
		resp, body := do("/length?" + strconv.Itoa(n))
		if resp.StatusCode != 200 || resp.ContentLength != int64(n) || body != strings.Repeat("x", n) {
			t.Errorf("/length?%d: status %d, Content-Length %d, body %q", n, resp.StatusCode, resp.ContentLength, body)
		}
	}
	for _, code := range []int{200, 103, 200} {
		resp, _ := do("/bad?" + strconv.Itoa(code))
		want := code
		if code == 103 {
			want = 500 // an informational status as the final one: the app's error
		}
		if resp.StatusCode != want {
			t.Errorf("/bad?%d: status %d, want %d", code, resp.StatusCode, want)
		}
	}
	if n := s.LogCount("informational (1xx) status"); n != 1 {
		t.Errorf("%d log lines say the 1xx status was refused, want 1:\n%s", n, s.Stderr)
	}
}
