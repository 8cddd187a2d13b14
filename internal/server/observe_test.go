package server

import (
	"net"
	"testing"

	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/http1"
	"github.com/gowsgi/gowsgi/internal/proxy"
)

// TestRequestIDTrust: the request observer takes a peer's X-Request-ID by
// the one allow list: a listed TCP peer's and any unix-socket peer's, no
// one else's.
func TestRequestIDTrust(t *testing.T) {
	allow, err := proxy.ParseAllowList([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	o := (&observability{trusted: allow}).frontObserver("http", config.RequestIDPass)
	for _, c := range []struct {
		peer net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 1}, "from-peer"},
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1}, ""},
		{&net.UnixAddr{Name: "/run/app.sock", Net: "unix"}, "from-peer"},
	} {
		r := &http1.Request{Method: "GET", Target: "/", Path: "/", RemoteAddr: c.peer,
			Header: []http1.Field{{Name: "X-Request-ID", Value: "from-peer"}}}
		o.Begin(r)
		if r.ID != c.want {
			t.Errorf("%v: ID %q, want %q", c.peer, r.ID, c.want)
		}
	}
	if (&observability{trusted: allow}).frontObserver("http", config.RequestIDOff) != nil {
		t.Error("--request-id off without metrics or traces: an observer per request")
	}
}
