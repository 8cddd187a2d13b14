package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	b := AppendHeader(nil, Start, 0xdeadbeef, 1234)
	if len(b) != HeaderSize {
		t.Fatalf("header is %d bytes", len(b))
	}
	h, err := ParseHeader(b)
	if err != nil || h.Len != 1234 || h.Type != Start || h.ID != 0xdeadbeef {
		t.Fatalf("got %+v, %v", h, err)
	}
	big := AppendHeader(nil, Body, 1, MaxPayload+1)
	if _, err := ParseHeader(big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
}

// pyHead is what `marshal.dumps(obj, 2)` gives for a few heads (checked
// against CPython by TestPythonAgrees).
func pyStr(s string) []byte {
	b := []byte{mUnicode}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func pySeq(t byte, items ...[]byte) []byte {
	b := []byte{t}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func TestDecodeHead(t *testing.T) {
	head := pySeq(mTuple, pyStr("200 OK"), pySeq(mList,
		pySeq(mTuple, pyStr("Content-Type"), pyStr("text/plain")),
		pySeq(mTuple, pyStr("X-Latin"), pyStr("caf\u00e9")),
	))
	payload := append(head, "hello"...)
	var names, values []string
	status, body, err := DecodeHead(payload, func(n, v string) { names = append(names, n); values = append(values, v) })
	if err != nil {
		t.Fatal(err)
	}
	if status != "200 OK" || string(body) != "hello" {
		t.Fatalf("status %q body %q", status, body)
	}
	if strings.Join(names, ",") != "Content-Type,X-Latin" || values[1] != "caf\xe9" {
		t.Fatalf("headers %q %q", names, values)
	}
}

func TestDecodeHeadApplicationErrors(t *testing.T) {
	intVal := []byte{mInt, 1, 0, 0, 0}
	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"status bytes", pySeq(mTuple, append([]byte{mBytes, 2, 0, 0, 0}, "ok"...), pySeq(mList)), "status must be str, not bytes"},
		{"headers tuple", pySeq(mTuple, pyStr("200 OK"), pySeq(mTuple)), "must be a list, not tuple"},
		{"header not pair", pySeq(mTuple, pyStr("200 OK"), pySeq(mList, pySeq(mTuple, pyStr("A")))), "tuple of 2 items"},
		{"header is list", pySeq(mTuple, pyStr("200 OK"), pySeq(mList, pySeq(mList, pyStr("A"), pyStr("b")))), "not list"},
		{"value int", pySeq(mTuple, pyStr("200 OK"), pySeq(mList, pySeq(mTuple, pyStr("A"), intVal))), "must be str, not int"},
		{"not latin-1", pySeq(mTuple, pyStr("200 OK"), pySeq(mList, pySeq(mTuple, pyStr("A"), pyStr("\u20ac")))), "not latin-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := DecodeHead(c.payload, func(string, string) {})
			var he *HeadError
			if !errors.As(err, &he) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a HeadError containing %q", err, c.want)
			}
		})
	}
}

func TestDecodeHeadCorrupt(t *testing.T) {
	good := pySeq(mTuple, pyStr("200 OK"), pySeq(mList, pySeq(mTuple, pyStr("A"), pyStr("b"))))
	for i := 0; i < len(good); i++ {
		if _, _, err := DecodeHead(good[:i], func(string, string) {}); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	huge := pySeq(mTuple, pyStr("200 OK"))
	binary.LittleEndian.PutUint32(huge[1:], 1<<31)
	if _, _, err := DecodeHead(huge, func(string, string) {}); err == nil {
		t.Fatal("absurd tuple length accepted")
	}
}

func TestEncodeRequest(t *testing.T) {
	b, off := BeginRequest([]byte("xx"), 7)
	b = AppendEnvStr(b, "PATH_INFO", "/caf\xe9")
	b = AppendEnvStr(b, "LONG", strings.Repeat("a", 300))
	b = AppendEnvBool(b, "FLAG", true)
	b = FinishRequest(b, off, 3, false)
	h, err := ParseHeader(b[off:])
	if err != nil || h.Type != Request || h.ID != 7 {
		t.Fatalf("%+v %v", h, err)
	}
	if h.Len != len(b)-off-HeaderSize+3 {
		t.Fatalf("frame length %d, want %d", h.Len, len(b)-off-HeaderSize+3)
	}
}

// TestPythonAgrees checks both directions against the real interpreter:
// Python decodes what Go encodes, and Go decodes what marshal.dumps(x, 2)
// encodes.
func TestPythonAgrees(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required for this test")
	}
	b, off := BeginRequest(nil, 1)
	b = AppendEnvStr(b, "PATH_INFO", "/caf\xe9/\x00")
	b = AppendEnvStr(b, "HTTP_X", strings.Repeat("v", 300))
	b = AppendEnvStr(b, strings.Repeat("K", 300), "")
	b = AppendEnvBool(b, "B", false)
	b = FinishRequest(b, off, 4, false)
	b = append(b, "body"...)
	script := `
import marshal, sys, struct
data = sys.stdin.buffer.read()
n, t, rid = struct.unpack_from('<IBI', data)
assert n == len(data) - 9, (n, len(data))
env, body = marshal.loads(data[9:])
assert env['PATH_INFO'] == '/caf\xe9/\x00', repr(env['PATH_INFO'])
assert env['HTTP_X'] == 'v' * 300
assert env['K' * 300] == ''
assert env['B'] is False
assert body == b'body', body
head = marshal.dumps(('201 Cr\xe9\xe9', [('X-A', 'caf\xe9'), ('Set-Cookie', 'a=b')]), 2)
sys.stdout.buffer.write(head + b'tail')
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var hs []string
	status, body, err := DecodeHead(out, func(n, v string) { hs = append(hs, n+"="+v) })
	if err != nil {
		t.Fatal(err)
	}
	if status != "201 Cr\xe9\xe9" || string(body) != "tail" || strings.Join(hs, ";") != "X-A=caf\xe9;Set-Cookie=a=b" {
		t.Fatalf("status %q body %q headers %q", status, body, hs)
	}
}

func TestDecodeDict(t *testing.T) {
	p := []byte{mDict}
	p = append(p, pyStr("pid")...)
	p = append(p, mInt, 42, 0, 0, 0)
	p = append(p, pyStr("python")...)
	p = append(p, pyStr("3.11")...)
	p = append(p, pyStr("ok")...)
	p = append(p, mTrue, mNull)
	m, err := DecodeDict(p)
	if err != nil || m["pid"] != 42 || m["python"] != "3.11" || m["ok"] != true {
		t.Fatalf("%v %v", m, err)
	}
}

// FuzzDecodeHead feeds arbitrary bytes to the decoders that read what a
// worker sends: they must fail cleanly, never panic or over-read.
func FuzzDecodeHead(f *testing.F) {
	f.Add(append(pySeq(mTuple, pyStr("200 OK"), pySeq(mList, pySeq(mTuple, pyStr("A"), pyStr("b")))), "body"...))
	f.Add(pySeq(mTuple, pyStr("200 OK"), pySeq(mList)))
	f.Add([]byte{mDict, mNull})
	f.Add(pySeq(mTuple, []byte{mInt, 2, 0, 0, 0}, pySeq(mList, []byte{mInt, 3, 0, 0, 0}, []byte{mLong, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0})))
	f.Add(AppendHeader(nil, Start, 1, 10))
	f.Fuzz(func(t *testing.T, p []byte) {
		status, body, err := DecodeHead(p, func(n, v string) {})
		if err == nil && len(status)+len(body) > len(p) {
			t.Fatalf("decoded more than the input")
		}
		DecodeDict(p)
		if _, ids, err := DecodeRevoked(p); err == nil && len(ids) > len(p) {
			t.Fatalf("decoded more ids than bytes")
		}
		if len(p) >= HeaderSize {
			h, err := ParseHeader(p)
			if err == nil && (h.Len < 0 || h.Len > MaxPayload) {
				t.Fatalf("bad length %d accepted", h.Len)
			}
		}
	})
}

// TestDecodeRevokedAgreesWithPython decodes what the worker sends in a
// Revoked frame, marshal.dumps((from, ids), 2), as produced by the real
// interpreter, ints beyond 2**31 (marshal's 'l') included.
func TestDecodeRevokedAgreesWithPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required for this test")
	}
	script := `
import json, marshal
cases = [(2, [2, 3]), (0, []), (7, [7]), (2**31, [2**31 - 1, 2**31, 2**32 - 1, 2**15, 2**30, 0, 256])]
print(json.dumps([[marshal.dumps(c, 2).hex(), c[0], c[1]] for c in cases]))
`
	out, err := exec.Command(py, "-c", script).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var cases [][3]json.RawMessage
	if err := json.Unmarshal(out, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		var h string
		var wantFrom uint32
		var wantIDs []uint32
		if json.Unmarshal(c[0], &h) != nil || json.Unmarshal(c[1], &wantFrom) != nil || json.Unmarshal(c[2], &wantIDs) != nil {
			t.Fatalf("bad case %s", c)
		}
		p, _ := hex.DecodeString(h)
		from, ids, err := DecodeRevoked(p)
		if err != nil || from != wantFrom || !slices.Equal(ids, wantIDs) {
			t.Fatalf("%s: got %d %v %v, want %d %v", h, from, ids, err, wantFrom, wantIDs)
		}
		for i := 0; i < len(p); i++ {
			if _, _, err := DecodeRevoked(p[:i]); err == nil {
				t.Fatalf("%s truncated at %d: no error", h, i)
			}
		}
		if _, _, err := DecodeRevoked(append(p, 0)); err == nil {
			t.Fatalf("%s with a trailing byte: no error", h)
		}
	}
}

func TestDecodeRevokedGarbage(t *testing.T) {
	i32 := func(v int32) []byte { return binary.LittleEndian.AppendUint32([]byte{mInt}, uint32(v)) }
	long := func(digits ...uint16) []byte {
		b := binary.LittleEndian.AppendUint32([]byte{mLong}, uint32(len(digits)))
		for _, d := range digits {
			b = binary.LittleEndian.AppendUint16(b, d)
		}
		return b
	}
	for name, p := range map[string][]byte{
		"empty":         nil,
		"not a tuple":   pySeq(mList, i32(1), pySeq(mList)),
		"3-tuple":       pySeq(mTuple, i32(1), pySeq(mList), i32(1)),
		"negative from": pySeq(mTuple, i32(-1), pySeq(mList)),
		"ids not list":  pySeq(mTuple, i32(1), pySeq(mTuple)),
		"id is str":     pySeq(mTuple, i32(1), pySeq(mList, pyStr("2"))),
		"2**32":         pySeq(mTuple, i32(1), pySeq(mList, long(0, 0, 4))),
		"negative long": pySeq(mTuple, i32(1), pySeq(mList, []byte{mLong, 0xfd, 0xff, 0xff, 0xff, 0, 0, 0, 0, 2, 0})),
		"bad digit":     pySeq(mTuple, i32(1), pySeq(mList, long(0x8000, 0, 1))),
		"huge count":    pySeq(mTuple, i32(1), append([]byte{mList, 0xff, 0xff, 0xff, 0x7f}, i32(2)...)),
	} {
		if from, ids, err := DecodeRevoked(p); err == nil {
			t.Errorf("%s: decoded as %d %v", name, from, ids)
		}
	}
}
