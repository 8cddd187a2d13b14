package tracing

import (
	"context"
	"encoding/binary"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/proxy"
)

var (
	local  = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
	remote = &net.TCPAddr{IP: net.IPv4(203, 0, 113, 9), Port: 4000}
	// loopback is --forwarded-allow-ips' default list.
	loopback, _ = proxy.ParseAllowList([]string{"127.0.0.1,::1"})
)

func request(addr net.Addr, fields ...string) *http1.Request {
	r := &http1.Request{Method: "GET", Target: "/x", Path: "/x", ProtoMinor: 1, RemoteAddr: addr}
	for i := 0; i+1 < len(fields); i += 2 {
		r.Header = append(r.Header, http1.Field{Name: fields[i], Value: fields[i+1]})
	}
	return r
}

func count(r *http1.Request, name string) int {
	n := 0
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			n++
		}
	}
	return n
}

func TestRequestID(t *testing.T) {
	r := request(local, "Accept", "*/*", "x-request-id", "abc-123", "X-Request-ID", "second")
	if id := ApplyRequestID(r, loopback.TrustsPeer(r.RemoteAddr)); id != "abc-123" || r.ID != id {
		t.Errorf("trusted peer's ID: got %q, r.ID %q", id, r.ID)
	}
	if count(r, "X-Request-ID") != 2 || count(r, "Accept") != 1 {
		t.Errorf("the header fields were changed: %v", r.Header)
	}

	r = request(remote, "X-Request-ID", "chosen-by-client")
	id := ApplyRequestID(r, loopback.TrustsPeer(r.RemoteAddr))
	if id == "chosen-by-client" || len(id) != 32 || r.ID != id {
		t.Errorf("untrusted peer: got %q (r.ID %q), want a new 32-digit ID", id, r.ID)
	}
	if v, _ := get(r, "X-Request-ID"); v != "chosen-by-client" || count(r, "X-Request-ID") != 1 {
		t.Errorf("the client's header was changed: %v", r.Header)
	}

	// A generated ID is never added as a header field.
	r = request(remote, "Accept", "*/*")
	if id := ApplyRequestID(r, false); id == "" || r.ID != id || count(r, "X-Request-ID") != 0 {
		t.Errorf("generated ID %q, header %v", id, r.Header)
	}

	// pass: a trusted peer's ID only, and the header untouched.
	r = request(local, "X-Request-ID", "from-proxy")
	if id := PassRequestID(r, true); id != "from-proxy" || r.ID != id {
		t.Errorf("pass, trusted: %q", id)
	}
	r = request(remote, "X-Request-ID", "from-client")
	r.ID = "stale"
	if id := PassRequestID(r, false); id != "" || r.ID != "" || count(r, "X-Request-ID") != 1 {
		t.Errorf("pass, untrusted: %q, r.ID %q, header %v", id, r.ID, r.Header)
	}

	r = request(local, "X-Request-ID", "has space", "Host", "h")
	if id := ApplyRequestID(r, true); id == "has space" {
		t.Error("an ID with a space was accepted")
	}
	r = request(local)
	if id := ApplyRequestID(r, true); len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("generated ID %q is not 32 hex digits", id)
	}
}

func TestNewIDUnique(t *testing.T) {
	// Many goroutines at once, as connections make them.
	const goroutines, each = 8, 5000
	ids := make(chan []string, goroutines)
	for g := 0; g < goroutines; g++ {
		go func() {
			list := make([]string, each)
			for i := range list {
				list[i] = NewID()
			}
			ids <- list
		}()
	}
	seen := map[string]bool{}
	for g := 0; g < goroutines; g++ {
		for _, id := range <-ids {
			if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
				t.Fatalf("NewID gave %q, not 32 lowercase hex digits", id)
			}
			if seen[id] {
				t.Fatalf("NewID repeated %q", id)
			}
			seen[id] = true
		}
	}
	// Every digit varies, as in random IDs: no fixed prefix or suffix, no
	// visible counter.
	for pos := 0; pos < 32; pos++ {
		digits := map[byte]bool{}
		for id := range seen {
			digits[id[pos]] = true
		}
		if len(digits) != 16 {
			t.Errorf("digit %d took %d values over %d IDs, not all 16", pos, len(digits), len(seen))
		}
	}
}

// TestNewIDUniqueAcrossProcesses: two processes (as two gowsgi, or one
// restarted) start from their own seeds and make disjoint IDs.
func TestNewIDUniqueAcrossProcesses(t *testing.T) {
	if os.Getenv("TRACING_PRINT_IDS") != "" {
		return // the child: TestMain printed them
	}
	run := func() []string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNewIDUniqueAcrossProcesses$")
		cmd.Env = append(os.Environ(), "TRACING_PRINT_IDS=2000")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		var ids []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "id ") {
				ids = append(ids, l[3:])
			}
		}
		if len(ids) != 2000 {
			t.Fatalf("child printed %d IDs, want 2000", len(ids))
		}
		return ids
	}
	seen := map[string]bool{}
	for _, id := range newIDs(2000) {
		seen[id] = true
	}
	for p := 0; p < 2; p++ {
		for _, id := range run() {
			if seen[id] {
				t.Fatalf("ID %q made twice, by two processes", id)
			}
			seen[id] = true
		}
	}
}

// newIDs makes n IDs.
func newIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = NewID()
	}
	return ids
}

func TestMain(m *testing.M) {
	if n, _ := strconv.Atoi(os.Getenv("TRACING_PRINT_IDS")); n > 0 {
		for _, id := range newIDs(n) {
			fmt.Println("id", id)
		}
	}
	os.Exit(m.Run())
}

// TestHexDigits: hexDigits writes what fmt's %08x does.
func TestHexDigits(t *testing.T) {
	for _, x := range []uint32{0, 9, 10, 15, 16, 0x0123abcd, 0x89abcdef, 0xfedcba98, 0xffffffff, 0xa0a0a0a0} {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], hexDigits(x))
		if got, want := string(b[:]), fmt.Sprintf("%08x", x); got != want {
			t.Errorf("hexDigits(%#x) = %q, want %q", x, got, want)
		}
	}
	for i := 0; i < 100000; i++ {
		x := mathrand.Uint32()
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], hexDigits(x))
		if got, want := string(b[:]), fmt.Sprintf("%08x", x); got != want {
			t.Fatalf("hexDigits(%#x) = %q, want %q", x, got, want)
		}
	}
}

// TestMixIsABijection: the property NewID's uniqueness rests on. unmix is
// mix's inverse (each step of mix is invertible: an xor with a right shift
// of itself, a multiplication by an odd constant).
func TestMixIsABijection(t *testing.T) {
	unshift := func(z uint64, s uint) uint64 {
		x := z
		for i := 0; i < 64/int(s)+1; i++ {
			x = z ^ x>>s
		}
		return x
	}
	inverse := func(a uint64) uint64 { // Newton's iteration for a⁻¹ mod 2^64
		x := a
		for i := 0; i < 6; i++ {
			x *= 2 - a*x
		}
		return x
	}
	unmix := func(z uint64) uint64 {
		z = unshift(z, 31)
		z = unshift(z*inverse(0x94d049bb133111eb), 27)
		return unshift(z*inverse(0xbf58476d1ce4e5b9), 30)
	}
	for _, x := range []uint64{0, 1, 2, 1 << 63, ^uint64(0), 0x0123456789abcdef} {
		if got := unmix(mix(x)); got != x {
			t.Errorf("unmix(mix(%#x)) = %#x", x, got)
		}
	}
	for i := 0; i < 100000; i++ {
		x := mathrand.Uint64()
		if got := unmix(mix(x)); got != x {
			t.Fatalf("unmix(mix(%#x)) = %#x", x, got)
		}
	}
}

func TestEnabled(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		env  []string
		want bool
	}{
		{nil, false},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"}, true},
		{[]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces"}, true},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://x", "OTEL_SDK_DISABLED", "true"}, false},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://x", "OTEL_TRACES_EXPORTER", "none"}, false},
	} {
		if got := Enabled(env(c.env...)); got != c.want {
			t.Errorf("Enabled(%v) = %v, want %v", c.env, got, c.want)
		}
	}
}

func TestSpanContinuesTrustedTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := newTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	defer tr.Shutdown(context.Background())
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	r := request(local, "traceparent", parent)
	start := time.Now()
	sp := tr.Start(r, true, "id-1", "http", start)
	tp, _ := get(r, "traceparent")
	sp.End(200, start, start.Add(time.Millisecond))

	r2 := request(remote, "traceparent", parent, "tracestate", "evil=1")
	sp2 := tr.Start(r2, false, "id-2", "http", start)
	tp2, _ := get(r2, "traceparent")
	sp2.End(503, time.Time{}, time.Time{})

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	s := spans[0]
	if s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("trusted: trace %s parent %s, want the peer's", s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	if want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + s.SpanContext().SpanID().String() + "-01"; tp != want {
		t.Errorf("traceparent for the app = %q, want %q (the server span)", tp, want)
	}
	attrs := map[string]string{}
	for _, a := range s.Attributes() {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	for _, k := range []string{"gowsgi.queue_wait_seconds", "gowsgi.worker_seconds", "http.response.status_code", "gowsgi.request_id"} {
		if attrs[k] == "" {
			t.Errorf("attribute %s missing: %v", k, attrs)
		}
	}
	s2 := spans[1]
	if s2.SpanContext().TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" || s2.Parent().IsValid() {
		t.Error("an untrusted peer's traceparent was continued")
	}
	if !strings.Contains(tp2, s2.SpanContext().SpanID().String()) || count(r2, "tracestate") != 0 {
		t.Errorf("untrusted: traceparent %q, header %v", tp2, r2.Header)
	}
}

// BenchmarkNewID is what a generated request ID costs a request
// (--request-id generate, the default).
func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(NewID()) != 32 {
			b.Fatal("not 32 digits")
		}
	}
}
