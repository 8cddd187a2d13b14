package poller

import (
	"crypto/tls"
	"net"
	"testing"
)

type ahead struct {
	net.Conn
	drained bool
}

func (a *ahead) NetConn() net.Conn  { return a.Conn }
func (a *ahead) AheadDrained() bool { return a.drained }

type other struct{ net.Conn }

func (o *other) NetConn() net.Conn { return o.Conn }

func TestCanWait(t *testing.T) {
	client, server := net.Pipe() // stands for a socket: no NetConn of its own
	defer client.Close()
	defer server.Close()
	for _, tc := range []struct {
		name string
		c    net.Conn
		want bool
	}{
		{"socket", server, true},
		{"TLS over a socket", tls.Server(server, &tls.Config{}), true},
		{"read-ahead drained", &ahead{server, true}, true},
		{"read-ahead holding bytes", &ahead{server, false}, false},
		{"TLS over a read-ahead holding bytes", tls.Server(&ahead{server, false}, &tls.Config{}), false},
		{"a wrapper that may hold bytes (PROXY)", &other{server}, false},
	} {
		if got := CanWait(tc.c); got != tc.want {
			t.Errorf("%s: CanWait = %v, want %v", tc.name, got, tc.want)
		}
		if s := Socket(tc.c); s != server {
			t.Errorf("%s: Socket is %T, not the socket", tc.name, s)
		}
	}
}
