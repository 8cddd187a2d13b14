package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os/exec"
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
	f.Add(AppendHeader(nil, Start, 1, 10))
	f.Fuzz(func(t *testing.T, p []byte) {
		status, body, err := DecodeHead(p, func(n, v string) {})
		if err == nil && len(status)+len(body) > len(p) {
			t.Fatalf("decoded more than the input")
		}
		DecodeDict(p)
		if len(p) >= HeaderSize {
			h, err := ParseHeader(p)
			if err == nil && (h.Len < 0 || h.Len > MaxPayload) {
				t.Fatalf("bad length %d accepted", h.Len)
			}
		}
	})
}
