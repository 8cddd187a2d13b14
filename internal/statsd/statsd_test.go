package statsd

import (
	"net"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := Dial(pc.LocalAddr().String(), "app...", "env:test,team:web")
	if err != nil {
		t.Fatal(err)
	}
	c.Request(1500*time.Microsecond, 404)
	c.Gauge("gunicorn.workers", 3)
	c.Close()
	var got []string
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	for len(got) < 4 {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, strings.Split(string(buf[:n]), "\n")...)
	}
	sort.Strings(got)
	want := []string{
		"app.gunicorn.request.duration:1.5|ms|#env:test,team:web",
		"app.gunicorn.request.status.404:1|c|@1.0|#env:test,team:web",
		"app.gunicorn.requests:1|c|@1.0|#env:test,team:web",
		"app.gunicorn.workers:3|g|#env:test,team:web",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var nilClient *Client
	nilClient.Request(time.Second, 200) // no-op
}
