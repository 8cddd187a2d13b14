package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseAccessFormat(t *testing.T) {
	got, err := ParseAccessFormat(`%(h)s "%(r)s" %({X-Id}i)s %({content-type}o)s %({remote_addr}e)s %(D)d 100%%`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Atom{{Key: "h"}, {Lit: ` "`}, {Key: "r"}, {Lit: `" `}, {Key: "i", Name: "X-Id"}, {Lit: " "},
		{Key: "o", Name: "content-type"}, {Lit: " "}, {Key: "e", Name: "remote_addr"}, {Lit: " "}, {Key: "D"}, {Lit: " 100%"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"%(h)", "%(h", "50% off", "%s"} {
		if _, err := ParseAccessFormat(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestOutputReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	o, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	o.Write([]byte("one\n"))
	os.Rename(path, path+".1")
	o.Write([]byte("two\n")) // still the renamed file, as with any open file
	if err := o.Reopen(); err != nil {
		t.Fatal(err)
	}
	o.Write([]byte("three\n"))
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if string(old) != "one\ntwo\n" || string(cur) != "three\n" {
		t.Errorf("rotated %q, current %q", old, cur)
	}
	if err := Stream(os.Stderr).Reopen(); err != nil {
		t.Errorf("a stream does not reopen: %v", err)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	var counted []slog.Level
	l := NewLogger(&buf, slog.LevelInfo, "json", func(lv slog.Level) { counted = append(counted, lv) })
	l.With("k", "v").Warn("careful")
	l.Info("fine")
	l.Debug("hidden")
	var rec map[string]any
	if err := json.Unmarshal(bytes.SplitN(buf.Bytes(), []byte("\n"), 2)[0], &rec); err != nil || rec["msg"] != "careful" || rec["k"] != "v" {
		t.Errorf("JSON record %q: %v", buf.String(), err)
	}
	if len(counted) != 1 || counted[0] != slog.LevelWarn {
		t.Errorf("counted %v", counted)
	}
}
