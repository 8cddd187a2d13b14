package tests

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestIdleConnectionsPark opens many keep-alive connections, makes each
// idle after one request, and checks through /metrics that the front does
// not keep a goroutine per idle connection (they are parked in one epoll
// set, internal/http1/park.go); then it uses every connection again and
// gets a right answer on each, and the connections park again. For a WSGI
// and an ASGI app (idle memory is the front's, whatever the interface), and
// over TLS.
func TestIdleConnectionsPark(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path, want string
		args             []string
		tls              bool
	}{
		{"wsgi", "/status", "custom status\n", []string{probe}, false},
		{"asgi", "/pid", "", []string{asgiRaw, "--interface", "asgi"}, false},
		{"tls", "/status", "custom status\n", []string{probe}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 200
			maddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			args := append(tc.args, "--keep-alive", "60s", "--metrics-bind", maddr)
			var tlsConf *tls.Config
			if tc.tls {
				p := newPKI(t)
				cf, kf, _ := p.issue("server", "localhost", []string{"localhost"}, false)
				args = append(args, "--certfile", cf, "--keyfile", kf)
				tlsConf = &tls.Config{RootCAs: p.pool, ServerName: "localhost"}
			}
			s, _ := startASGI(t, nil, args...)
			goroutines := func() float64 {
				v, _ := metricValue(scrapeMetrics(t, maddr), "go_goroutines")
				return v
			}
			base := goroutines()

			conns := make([]net.Conn, n)
			readers := make([]*bufio.Reader, n)
			for i := range conns {
				var c net.Conn
				var err error
				if tlsConf != nil {
					c, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr, tlsConf)
				} else {
					c, err = net.DialTimeout("tcp", s.Addr, 5*time.Second)
				}
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(60 * time.Second))
				conns[i], readers[i] = c, bufio.NewReader(c)
			}
			var want string
			round := func(r int) {
				// Every connection sends at once, then every answer is read.
				for i, c := range conns {
					if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", tc.path); err != nil {
						t.Fatalf("round %d, connection %d: %v", r, i, err)
					}
				}
				for i := range conns {
					resp, body := readResponse(t, readers[i], "GET")
					if resp.StatusCode != 200 || resp.Close {
						t.Fatalf("round %d, connection %d: %s (close %v) %q", r, i, resp.Status, resp.Close, body)
					}
					if tc.want != "" && body != tc.want || tc.want == "" && body == "" {
						t.Fatalf("round %d, connection %d: body %q", r, i, body)
					}
					if want == "" {
						want = body
					} else if body != want {
						t.Fatalf("round %d, connection %d: body %q, others %q", r, i, body, want)
					}
				}
			}
			for r := 1; r <= 2; r++ {
				round(r)
				// Idle: each connection gave its goroutine back. A few
				// goroutines come and go (metrics, the supervisor), so the
				// bound is a quarter of n, far below one per connection.
				var g float64
				if !waitFor(15*time.Second, func() bool { g = goroutines(); return g < base+n/4 }) {
					t.Fatalf("round %d: %v goroutines with %d idle connections (%v before they opened)", r, g, n, base)
				}
			}

			// Every connection is still open and served, also after the
			// two idle periods; a closed one would read EOF here.
			var wg sync.WaitGroup
			errs := make(chan string, n)
			for i, c := range conns {
				wg.Add(1)
				go func(i int, c net.Conn) {
					defer wg.Done()
					fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", tc.path)
					b, err := readAllUntilEOF(readers[i])
					if err != nil || !strings.HasPrefix(b, "HTTP/1.1 200 ") || !strings.HasSuffix(b, want) {
						errs <- fmt.Sprintf("connection %d: %v %q", i, err, b)
					}
				}(i, c)
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Fatal(e)
			}
		})
	}
}

// readAllUntilEOF reads what br has until the server closes.
func readAllUntilEOF(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	_, err := br.WriteTo(&sb)
	return sb.String(), err
}
