package proxy

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

func TestAllowList(t *testing.T) {
	a, err := ParseAllowList([]string{"127.0.0.1, ::1", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"127.0.0.1": true, "::1": true, "10.1.2.3": true, "::ffff:10.0.0.1": true, "127.0.0.2": false, "11.0.0.1": false} {
		if got := a.Contains(netip.MustParseAddr(s)); got != want {
			t.Errorf("Contains(%s) = %v", s, got)
		}
	}
	if _, err := ParseAllowList([]string{"nope"}); err == nil {
		t.Error("bad entry accepted")
	}
	star, _ := ParseAllowList([]string{"*"})
	if !star.Contains(netip.MustParseAddr("8.8.8.8")) {
		t.Error("* does not trust everyone")
	}
	if !a.TrustsPeer(&net.UnixAddr{Name: "/s"}) {
		t.Error("unix peers are trusted, as in gunicorn")
	}
}

// TestTrustRule: one rule for every use of a list. TCP peers by IP; a
// unix-socket peer always (gunicorn's "treated as allowed, unconditionally"),
// even by an empty or nil list, unless the list is NoPeers; no address, or
// another kind, never.
func TestTrustRule(t *testing.T) {
	empty, err := ParseAllowList([]string{""})
	if err != nil {
		t.Fatal(err)
	}
	loop, _ := ParseAllowList([]string{"127.0.0.1,::1"})
	var none *AllowList
	unix := &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 1234} }
	for _, c := range []struct {
		name string
		list *AllowList
		addr net.Addr
		want bool
	}{
		{"loopback list, 127.0.0.1", loop, tcp("127.0.0.1"), true},
		{"loopback list, mapped 127.0.0.1", loop, tcp("::ffff:127.0.0.1"), true},
		{"loopback list, 127.0.0.2", loop, tcp("127.0.0.2"), false},
		{"loopback list, unix", loop, unix, true},
		{"empty list, 127.0.0.1", empty, tcp("127.0.0.1"), false},
		{"empty list, unix", empty, unix, true},
		{"nil list, 127.0.0.1", none, tcp("127.0.0.1"), false},
		{"nil list, unix", none, unix, true},
		{"no peers, unix", NoPeers(), unix, false},
		{"no peers, 127.0.0.1", NoPeers(), tcp("127.0.0.1"), false},
		{"no address", loop, nil, false},
		{"a UDP address", loop, &net.UDPAddr{IP: net.ParseIP("127.0.0.1")}, false},
	} {
		if got := c.list.TrustsPeer(c.addr); got != c.want {
			t.Errorf("%s: TrustsPeer = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestExtend: a list is extended into a new one, the old left as it was;
// String and Items give the entries as written.
func TestExtend(t *testing.T) {
	a, _ := ParseAllowList([]string{"10.1.0.0/16"})
	b, err := a.Extend(" ::1 ,", "[::2]")
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != "10.1.0.0/16" || b.String() != "10.1.0.0/16,::1,[::2]" {
		t.Errorf("a %q, b %q", a, b)
	}
	if a.Contains(netip.MustParseAddr("::1")) || !b.Contains(netip.MustParseAddr("::2")) || !b.Contains(netip.MustParseAddr("10.1.9.9")) {
		t.Error("Extend changed the old list or lost an entry")
	}
	if _, err := b.Extend("10.0.0.0/33"); err == nil {
		t.Error("a bad prefix was accepted")
	}
}

func TestResolve(t *testing.T) {
	trusted, _ := ParseAllowList([]string{"127.0.0.1", "10.0.0.0/8"})
	f := NewForwarding(trusted, nil)
	h := func(kv ...string) []http1.Field {
		var out []http1.Field
		for i := 0; i < len(kv); i += 2 {
			out = append(out, http1.Field{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	cases := []struct {
		name   string
		fields []http1.Field
		want   Origin
	}{
		{"none", h("Host", "x"), Origin{}},
		{"proto", h("X-Forwarded-Proto", "https"), Origin{Scheme: "https"}},
		{"proto http", h("x-forwarded-proto", "http"), Origin{Scheme: "http"}},
		{"ssl on", h("X-Forwarded-Ssl", "on"), Origin{Scheme: "https"}},
		{"conflict", h("X-Forwarded-Proto", "https", "X-Forwarded-Ssl", "off"), Origin{}},
		{"chain", h("X-Forwarded-For", "1.1.1.1, 2.2.2.2, 10.0.0.5"), Origin{Addr: "2.2.2.2"}},
		{"chain split", h("X-Forwarded-For", "1.1.1.1", "X-Forwarded-For", "10.0.0.9, 10.0.0.5"), Origin{Addr: "1.1.1.1"}},
		{"all trusted", h("X-Forwarded-For", "10.0.0.1, 127.0.0.1"), Origin{Addr: "10.0.0.1"}},
		{"garbage stops", h("X-Forwarded-For", "1.1.1.1, unknown, 10.0.0.5"), Origin{Addr: "10.0.0.5"}},
		{"host port", h("X-Forwarded-Host", "a.example, b.example:8443", "X-Forwarded-Port", "443"), Origin{Host: "b.example:8443", ServerPort: "443"}},
		{"forwarded", h("Forwarded", `for="[2001:db8::1]:4711";proto=https;host=app.example, for=10.0.0.2`), Origin{Addr: "2001:db8::1", Port: "4711", Scheme: "https", Host: "app.example"}},
		{"forwarded wins over xff", h("X-Forwarded-For", "9.9.9.9", "Forwarded", "for=3.3.3.3"), Origin{Addr: "3.3.3.3"}},
		// A forwarded host is held to the Host header's rule; a bad one is
		// ignored, as if absent.
		{"forged host", h("X-Forwarded-Host", "evil.example/p@x y"), Origin{}},
		{"host with userinfo", h("X-Forwarded-Host", "user@evil.example"), Origin{}},
		{"bad last host", h("X-Forwarded-Host", "good.example", "X-Forwarded-Host", "bad host"), Origin{}},
		{"forwarded forged host", h("Forwarded", `for=3.3.3.3;host="evil.example/p@x y"`), Origin{Addr: "3.3.3.3"}},
		{"forwarded bad host keeps xfh", h("X-Forwarded-Host", "a.example", "Forwarded", `host="a b"`), Origin{Host: "a.example"}},
		{"ipv6 host", h("X-Forwarded-Host", "[::1]:8080"), Origin{Host: "[::1]:8080"}},
	}
	for _, c := range cases {
		if got := f.Resolve(c.fields); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

func serveProxy(t *testing.T, mode Mode, allow string) (*Listener, string) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ParseAllowList([]string{allow})
	l := &Listener{Listener: raw, Allow: a, Mode: mode, HeaderTimeout: 5 * time.Second}
	t.Cleanup(func() { l.Close() })
	return l, raw.Addr().String()
}

func acceptOne(t *testing.T, l *Listener) (net.Conn, string) {
	t.Helper()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 5)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return c, string(b)
}

func TestProxyV1(t *testing.T) {
	l, addr := serveProxy(t, Auto, "127.0.0.1")
	d, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	io.WriteString(d, "PROXY TCP4 203.0.113.7 192.0.2.1 5555 443\r\nGET /")
	c, rest := acceptOne(t, l)
	defer c.Close()
	if c.RemoteAddr().String() != "203.0.113.7:5555" || c.LocalAddr().String() != "192.0.2.1:443" || rest != "GET /" {
		t.Fatalf("remote %v local %v rest %q", c.RemoteAddr(), c.LocalAddr(), rest)
	}
}

func TestProxyV2(t *testing.T) {
	l, addr := serveProxy(t, Auto, "127.0.0.1")
	d, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	hdr := append([]byte{}, v2sig...)
	hdr = append(hdr, 0x21, 0x11, 0, 12+4)
	hdr = append(hdr, 198, 51, 100, 9, 192, 0, 2, 1)
	hdr = binary.BigEndian.AppendUint16(hdr, 6000)
	hdr = binary.BigEndian.AppendUint16(hdr, 8443)
	hdr = append(hdr, 0x04, 0, 1, 'x') // a TLV, skipped
	d.Write(append(hdr, "POST /"...))
	c, rest := acceptOne(t, l)
	defer c.Close()
	if c.RemoteAddr().String() != "198.51.100.9:6000" || rest != "POST " {
		t.Fatalf("remote %v rest %q", c.RemoteAddr(), rest)
	}
}

func TestProxyUntrustedAndPlain(t *testing.T) {
	l, addr := serveProxy(t, Auto, "10.9.9.9")
	d, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	io.WriteString(d, "PROXY TCP4 203.0.113.7 192.0.2.1 5555 443\r\n")
	c, rest := acceptOne(t, l)
	defer c.Close()
	if rest != "PROXY" || c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.1" {
		t.Fatalf("untrusted peer's header was read: remote %v, rest %q", c.RemoteAddr(), rest)
	}
}

func TestProxyWrongVersion(t *testing.T) {
	l, addr := serveProxy(t, V2, "127.0.0.1")
	d, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	go l.Accept() // the refused connection never comes out of Accept
	io.WriteString(d, "PROXY TCP4 203.0.113.7 192.0.2.1 5555 443\r\nGET / HTTP/1.0\r\n\r\n")
	d.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := d.Read(make([]byte, 1)); err == nil {
		t.Fatal("a v1 header on a v2 listener was not refused")
	}
}
