package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestScopeAgreesWithPython encodes an ASGI scope of every value type and
// checks what the real interpreter's marshal.loads makes of it, the UTF-8
// replacement of Text included (against bytes.decode('utf-8', 'replace')
// on many random and edge-case byte strings).
func TestScopeAgreesWithPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required for this test")
	}
	texts := []string{"", "/plain", "/caf\xc3\xa9", "/\xe2\x82", "/\xed\xa0\x80", "/\xf0\x9f\x98", "/\xf4\x90\x80\x80",
		"/\xc0\xaf", "/\xe0\x80\xaf", "/\xf0\x8f\xbf\xbf", "/\xff\xfe", "/\xe2\x82\xac\x80", "/a\xc3", strings.Repeat("\xc3\xa9", 200)}
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte{'a', 0x80, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xa0, 0x9f, 0x90, 0x8f, 0xf0, 0xf4, 0xf5, 0xff}
	for i := 0; i < 400; i++ {
		b := make([]byte, rng.Intn(8))
		for j := range b {
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		texts = append(texts, string(b))
	}
	var e Environ
	e.Reset(nil)
	e.Key("type")
	e.Latin1("http")
	e.Key("root_path")
	e.Text("")
	e.Key("raw")
	e.Bytes("/a%2Fb\xff")
	e.Key("headers")
	e.List(2)
	e.Tuple(2)
	e.LowerBytes("X-Dup")
	e.Bytes("caf\xe9")
	e.Tuple(2)
	e.LowerBytes("HOST")
	e.Bytes("example.com")
	e.Key("client")
	e.Tuple(2)
	e.Latin1("127.0.0.1")
	e.Int(8080)
	e.Key("server")
	e.Tuple(2)
	e.Latin1("h\xe9")
	e.None()
	e.Key("ints")
	e.List(6)
	for _, n := range []int64{0, -5, 1<<31 - 1, 1 << 31, -1 << 40, 1<<62 + 12345} {
		e.Int(n)
	}
	e.Key("ext")
	e.Dict()
	e.Key("http.response.pathsend")
	e.Dict()
	e.EndDict()
	e.EndDict()
	e.Key("texts")
	e.List(len(texts))
	for _, s := range texts {
		e.Text(s)
	}
	frame := e.Frame(2, false)
	frame = append(frame, "ok"...)
	in, _ := json.Marshal(texts)

	script := `
import marshal, sys, struct, json
texts = [bytes(s, 'latin-1') for s in json.loads(sys.argv[1])]
data = sys.stdin.buffer.read()
n, t, rid = struct.unpack_from('<IBI', data)
assert n == len(data) - 9, (n, len(data))
d, body = marshal.loads(data[9:])
assert body == b'ok'
assert d['type'] == 'http' and d['root_path'] == ''
assert d['raw'] == b'/a%2Fb\xff', d['raw']
assert d['headers'] == [(b'x-dup', b'caf\xe9'), (b'host', b'example.com')], d['headers']
assert d['client'] == ('127.0.0.1', 8080) and d['server'] == ('h\xe9', None), (d['client'], d['server'])
assert d['ints'] == [0, -5, 2**31 - 1, 2**31, -2**40, 2**62 + 12345], d['ints']
assert d['ext'] == {'http.response.pathsend': {}}
for raw, got in zip(texts, d['texts']):
    assert raw.decode('utf-8', 'replace') == got, (raw, got)
print('ok')
`
	// The texts travel as JSON strings of their bytes as code points.
	var asCodePoints []string
	for _, s := range texts {
		r := make([]rune, len(s))
		for i := 0; i < len(s); i++ {
			r[i] = rune(s[i])
		}
		asCodePoints = append(asCodePoints, string(r))
	}
	in, _ = json.Marshal(asCodePoints)
	cmd := exec.Command(py, "-c", script, string(in))
	cmd.Stdin = bytes.NewReader(frame)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

// TestScopeTupleAgreesWithPython encodes an ASGI HTTP scope's values as
// the front does (ResetScope, then ScopeFields values) and checks that the
// real interpreter reads a tuple of ScopeFields values and the body after
// it, with a tls dict inside and a None for the request ID.
func TestScopeTupleAgreesWithPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required for this test")
	}
	var e Environ
	e.Reset(nil) // a dict before, as a recycled buffer would have
	e.ResetScope(nil)
	e.Latin1("1.1")
	e.Latin1("GET")
	e.Latin1("https")
	e.Text("/caf\xc3\xa9")
	e.Bytes("/caf%C3%A9")
	e.Bytes("a=1")
	e.Text("")
	e.List(1)
	e.Tuple(2)
	e.LowerBytes("Host")
	e.Bytes("example.com")
	e.Tuple(2)
	e.Latin1("127.0.0.1")
	e.Int(40000)
	e.None()
	e.Dict()
	e.Key("tls_version")
	e.Int(772)
	e.EndDict()
	e.None()
	frame := append(e.Frame(2, false), "ok"...)
	script := `
import marshal, struct, sys
data = sys.stdin.buffer.read()
n, t, rid = struct.unpack_from('<IBI', data)
assert n == len(data) - 9 and t == ord('R'), (n, len(data), t)
fields, body = marshal.loads(data[9:])
assert body == b'ok', body
assert type(fields) is tuple and len(fields) == int(sys.argv[1]), fields
assert fields == ('1.1', 'GET', 'https', '/caf\u00e9', b'/caf%C3%A9', b'a=1', '', [(b'host', b'example.com')],
                  ('127.0.0.1', 40000), None, {'tls_version': 772}, None), fields
print('ok')
`
	cmd := exec.Command(py, "-c", script, strconv.Itoa(ScopeFields))
	cmd.Stdin = bytes.NewReader(frame)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

// TestDecodeASGIHeadAgreesWithPython decodes heads as the ASGI worker
// marshals them, marshal.dumps((status, headers), 2) with the headers as
// the application gave them, and the application's mistakes as HeadErrors.
func TestDecodeASGIHeadAgreesWithPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required for this test")
	}
	script := `
import marshal, sys
heads = [
    ('200 OK', [(b'content-type', b'text/plain'), [b'set-cookie', bytearray(b'a=1')], (b'x', memoryview(b'caf\xe9'))]),
    ('201 Created', ((b'a', b''),)),
    ('204 No Content', []),
    ('200 OK', [('content-type', b'x')]),
    ('200 OK', [(b'content-type', 1)]),
    ('200 OK', [(b'a', b'b', b'c')]),
    ('200 OK', [b'ab']),
    ('200 OK', {b'a': b'b'}),
]
for h in heads:
    p = marshal.dumps(h, 2) + b'BODY'
    sys.stdout.buffer.write(len(p).to_bytes(4, 'little') + p)
`
	out, err := exec.Command(py, "-c", script).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	want := []string{
		"200 OK|content-type=text/plain;set-cookie=a=1;x=caf\xe9|BODY",
		"201 Created|a=|BODY",
		"204 No Content||BODY",
		"header name must be bytes, not str",
		`value of ASGI response header "content-type" must be bytes, not int`,
		"ASGI response header 0 must be a [name, value] pair, not 3 items",
		"ASGI response header 0 must be a [name, value] pair, not bytes",
		"ASGI response headers must be an iterable of [name, value] pairs, not dict",
	}
	for i := 0; len(out) > 0; i++ {
		n := int(out[0]) | int(out[1])<<8 | int(out[2])<<16 | int(out[3])<<24
		p := out[4 : 4+n]
		out = out[4+n:]
		var hs []string
		status, body, err := DecodeASGIHead(p, func(n, v string) { hs = append(hs, n+"="+v) })
		var got string
		var he *HeadError
		switch {
		case err == nil:
			got = status + "|" + strings.Join(hs, ";") + "|" + string(body)
		case errors.As(err, &he):
			got = he.Msg
		default:
			t.Fatalf("head %d: not a HeadError: %v", i, err)
		}
		if !strings.Contains(got, want[i]) {
			t.Errorf("head %d: got %q, want %q", i, got, want[i])
		}
	}
}

// FuzzDecodeASGIHead: arbitrary bytes fail cleanly, never panic or over-read.
func FuzzDecodeASGIHead(f *testing.F) {
	f.Add(append(pySeq(mTuple, pyStr("200 OK"), pySeq(mList, pySeq(mTuple, pyBytes("a"), pyBytes("b")))), "body"...))
	f.Add(pySeq(mTuple, pyStr("200 OK"), pySeq(mTuple)))
	f.Fuzz(func(t *testing.T, p []byte) {
		status, body, err := DecodeASGIHead(p, func(n, v string) {})
		if err == nil && len(status)+len(body) > len(p) {
			t.Fatalf("decoded more than the input")
		}
	})
}

func pyBytes(s string) []byte {
	b := []byte{mBytes, byte(len(s)), 0, 0, 0}
	return append(b, s...)
}

func BenchmarkDecodeASGIHead(b *testing.B) {
	p := append(pySeq(mTuple, pyStr("200 OK"), pySeq(mList,
		pySeq(mTuple, pyBytes("content-type"), pyBytes("application/json")),
		pySeq(mTuple, pyBytes("content-length"), pyBytes("27")))), "body"...)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		DecodeASGIHead(p, func(n, v string) {})
	}
}
