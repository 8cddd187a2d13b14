package wire

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestStreamFrameAgreesWithPython: a request whose body streams is an R
// frame whose body is True, for a scope's tuple and for a CGI environ.
func TestStreamFrameAgreesWithPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required for this test")
	}
	var e Environ
	e.ResetScope(nil)
	for range ScopeFields {
		e.None()
	}
	scope := bytes.Clone(e.StreamFrame())
	e.Reset(nil)
	e.Add("REQUEST_METHOD", "POST")
	environ := bytes.Clone(e.StreamFrame())
	script := `
import marshal, struct, sys
data = sys.stdin.buffer.read()
out = []
while data:
    n, t, rid = struct.unpack_from('<IBI', data)
    assert t == ord('R'), t
    first, body = marshal.loads(data[9:9 + n])
    assert body is True, body
    out.append(first)
    data = data[9 + n:]
assert out == [(None,) * int(sys.argv[1]), {'REQUEST_METHOD': 'POST'}], out
print('ok')
`
	cmd := exec.Command(py, "-c", script, strconv.Itoa(ScopeFields))
	cmd.Stdin = bytes.NewReader(append(scope, environ...))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

func TestBodyWantedType(t *testing.T) {
	if BodyWanted.String() != "G" {
		t.Fatalf("BodyWanted is %s", BodyWanted)
	}
}
