package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestCopyLinesJSON: in JSON mode every captured line is one record of
// gowsgi's own, its text an escaped string; a line made to look like a
// record (with an embedded newline starting another) forges nothing.
func TestCopyLinesJSON(t *testing.T) {
	forged := `{"time":"2026-01-01T00:00:00Z","level":"ERROR","msg":"admin logged in","user":"root"}`
	in := "plain line\n" + "ValueError: bad input " + forged + "\n" + forged + "\r\n" + "tab\tand \x1b[31m escape\n" + "no newline at the end"
	var out bytes.Buffer
	CopyLines(&out, strings.NewReader(in), "json")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{"plain line", "ValueError: bad input " + forged, forged, "tab\tand \x1b[31m escape", "no newline at the end"}
	if len(lines) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("record %d is not JSON: %v: %s", i, err, l)
		}
		if rec["msg"] != CaptureMsg || rec["level"] != "INFO" || rec["output"] != want[i] || rec["user"] != nil {
			t.Errorf("record %d: %v, want output %q", i, rec, want[i])
		}
	}
}

// TestCopyLinesText: plain-text mode writes the lines as they came.
func TestCopyLinesText(t *testing.T) {
	in := "one\n{\"msg\":\"two\"}\r\nthree"
	for _, format := range []string{"", "text"} {
		var out bytes.Buffer
		CopyLines(&out, strings.NewReader(in), format)
		if out.String() != in {
			t.Errorf("%q: %q, want the input unchanged", format, out.String())
		}
	}
}

// TestCopyLinesLong: a line past the 64 KiB buffer comes as several
// records, each valid JSON.
func TestCopyLinesLong(t *testing.T) {
	long := strings.Repeat("x", 150<<10)
	var out bytes.Buffer
	CopyLines(&out, strings.NewReader(long+"\n"), "json")
	got := ""
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var rec struct{ Output string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		got += rec.Output
	}
	if got != long {
		t.Errorf("the records hold %d bytes, want %d", len(got), len(long))
	}
}
