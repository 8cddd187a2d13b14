package http1

import (
	"net"
	"testing"
	"unsafe"
)

// TestRemoteHostPort: the peer's IP and port as text, the same strings for
// every request of a keep-alive connection (formatted once), each
// connection its own (a recycled conn does not keep the last peer's), and
// "", "" for a peer that is not TCP.
func TestRemoteHostPort(t *testing.T) {
	type seen struct {
		ip, port string
		ipData   *byte
	}
	got := make(chan seen, 8)
	_, addr := startServer(t, func(w *ResponseWriter, r *Request) {
		ip, port := r.RemoteHostPort()
		got <- seen{ip, port, unsafe.StringData(ip)}
		w.WriteHeader(204, "No Content", nil)
	})
	for conn := 0; conn < 2; conn++ {
		c := dial(t, addr)
		_, wantPort, _ := net.SplitHostPort(c.LocalAddr().String())
		var first seen
		for i := 0; i < 3; i++ {
			c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			c.read("GET")
			s := <-got
			if s.ip != "127.0.0.1" || s.port != wantPort {
				t.Fatalf("connection %d, request %d: %q %q, want 127.0.0.1 %s", conn, i, s.ip, s.port, wantPort)
			}
			if i == 0 {
				first = s
			} else if s.ipData != first.ipData {
				t.Errorf("connection %d, request %d: the IP was formatted again", conn, i)
			}
		}
		c.Close()
	}

	for _, tc := range []struct {
		addr     net.Addr
		ip, port string
	}{
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 9000}, "2001:db8::7", "9000"},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}, "192.0.2.1", "40000"},
		{&net.UnixAddr{Name: "/run/s.sock", Net: "unix"}, "", ""},
		{nil, "", ""},
	} {
		r := &Request{RemoteAddr: tc.addr} // not from a connection: formatted each time
		if ip, port := r.RemoteHostPort(); ip != tc.ip || port != tc.port {
			t.Errorf("%v: %q %q, want %q %q", tc.addr, ip, port, tc.ip, tc.port)
		}
	}
}
