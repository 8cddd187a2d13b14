package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"
)

// keepAlive is one client connection that sends requests one at a time.
type keepAlive struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, s *Server) *keepAlive {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAlive{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes a request without waiting for its response.
func (k *keepAlive) send(path string) {
	k.t.Helper()
	k.c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path); err != nil {
		k.t.Fatal(err)
	}
}

// pid sends GET /env and returns the PID of the worker that answered.
func (k *keepAlive) pid() int {
	k.t.Helper()
	k.send("/env")
	resp, body := readResponse(k.t, k.br, "GET")
	var env struct {
		Pid int `json:"_pid"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &env) != nil || env.Pid == 0 {
		k.t.Fatalf("GET /env: %d %q", resp.StatusCode, body)
	}
	return env.Pid
}

// A keep-alive connection's requests stay with the worker that served the
// previous one while it is idle (its caches stay warm), and go to another
// one at once when it is busy.
func TestConnectionAffinity(t *testing.T) {
	t.Parallel()
	s, st := StartProbe(t, "-w", "2", "--threads", "1")
	a := dialKeepAlive(t, s)
	first := a.pid()
	for i := 0; i < 20; i++ {
		if p := a.pid(); p != first {
			t.Fatalf("request %d on one connection went to worker %d, its previous ones to %d", i+2, p, first)
		}
	}
	// Another connection whose last request was served by a's worker
	// holds that worker with a request that does not end.
	var holder *keepAlive
	for i := 0; i < 10 && holder == nil; i++ {
		c := dialKeepAlive(t, s)
		if c.pid() == first {
			holder = c
		}
	}
	if holder == nil {
		t.Fatalf("no new connection reached worker %d in 10 tries", first)
	}
	holder.send("/block?name=held")
	st.WaitEntered("held")
	if p := a.pid(); p == first {
		t.Fatalf("served by worker %d while it was held", p)
	}
	st.Release("held")
	if resp, body := readResponse(t, holder.br, "GET"); resp.StatusCode != 200 || body != "released held" {
		t.Fatalf("held request: %d %q", resp.StatusCode, body)
	}
}
