package h2

import (
	"io"
	"net"
	"strings"
	"testing"
)

// TestPeekerGrowsWithInput: the sniffing buffer holds what the client sent
// (a short request: one 512-byte buffer), grows up to its limit for a long
// head and no further, and the connection reads the bytes again first,
// then lets them go.
func TestPeekerGrowsWithInput(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	go io.WriteString(client, req+"rest")
	p := &peeker{c: server, limit: 4096}
	isPreface, err := peekPreface(p)
	if err != nil || isPreface {
		t.Fatalf("peekPreface: %v %v", isPreface, err)
	}
	head, err := peekHead(p, p.limit)
	if err != nil || string(head) != req {
		t.Fatalf("peekHead: %q %v", head, err)
	}
	if cap(p.buf) > 512 {
		t.Errorf("a %d-byte request took a %d-byte buffer", len(req), cap(p.buf))
	}
	c := p.conn().(*bufConn)
	got := make([]byte, len(req)+4)
	n, _ := io.ReadFull(c, got)
	if string(got[:n]) != req+"rest" || !c.AheadDrained() || c.ahead != nil {
		t.Fatalf("read again %q (drained %v)", got[:n], c.AheadDrained())
	}

	// A head that never ends stops at the limit.
	client2, server2 := net.Pipe()
	defer client2.Close()
	defer server2.Close()
	go io.WriteString(client2, "GET / HTTP/1.1\r\nX: "+strings.Repeat("a", 10000))
	p = &peeker{c: server2, limit: 4096}
	if head, err := peekHead(p, p.limit); err == nil || head != nil {
		t.Fatalf("an endless head: %q %v", head, err)
	}
	if len(p.buf) != 4096 || cap(p.buf) != 4096 {
		t.Errorf("an endless head held %d bytes (cap %d), limit 4096", len(p.buf), cap(p.buf))
	}
}
