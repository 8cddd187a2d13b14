package main

// The counted mode (-phases): exact numbers of round trips instead of a
// duration, for an instruction count of the server (valgrind's callgrind;
// bench/tools/asgi_worker_instr.sh --server) that must not depend on how
// fast the server was. Each phase runs exactly its number of round trips
// spread over the connections (one in flight per connection), then runs the
// -mark command with the phase's index and count, and waits for it before
// the next phase starts. With an http:// URL a round trip is a keep-alive
// GET and its whole response; with ws:// one echo, as in the timed mode.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// roundTripper is one connection's way to do one request and read its answer.
type roundTripper func() error

// dialHTTP opens a keep-alive HTTP/1.1 connection to u. A server that
// closes the connection after a response (hypercorn 0.13 with Debian's h11
// 0.14 does, without saying so) gets a new one for the next request, counted
// in reconnects.
func dialHTTP(u *url.URL, reconnects *atomic.Int64) (roundTripper, func(), error) {
	dial := func() (net.Conn, *bufio.Reader, error) {
		c, err := net.DialTimeout("tcp", u.Host, 120*time.Second)
		if err != nil {
			return nil, nil, err
		}
		return c, bufio.NewReaderSize(c, 16384), nil
	}
	c, rd, err := dial()
	if err != nil {
		return nil, nil, err
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n\r\n")
	served := 0
	var once func(retry bool) error
	once = func(retry bool) error {
		c.SetDeadline(time.Now().Add(120 * time.Second))
		_, err := c.Write(req)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(rd, nil)
		}
		if err != nil {
			if served > 0 && !retry && !errors.Is(err, os.ErrDeadlineExceeded) {
				// the server closed the connection after its last
				// response: this request never reached it
				c.Close()
				if c, rd, err = dial(); err != nil {
					return err
				}
				reconnects.Add(1)
				return once(true)
			}
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		served++
		return err
	}
	return func() error { return once(false) }, func() { c.Close() }, nil
}

// dialWS opens a WebSocket to u that echoes msg.
func dialWS(u string, msg []byte) (roundTripper, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	c, br, _, err := ws.Dial(ctx, u)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	r := io.Reader(c)
	if br != nil {
		r = br
	}
	rd := bufio.NewReaderSize(r, 4096)
	frame := buildFrame(msg)
	return func() error {
			c.SetDeadline(time.Now().Add(120 * time.Second))
			if _, err := c.Write(frame); err != nil {
				return err
			}
			for {
				h, err := ws.ReadHeader(rd)
				if err != nil {
					return err
				}
				if !h.OpCode.IsControl() {
					_, err = io.CopyN(io.Discard, rd, h.Length)
					return err
				}
				// a ping in a long counted run (servers ping idle
				// connections every 20 s): answer it, read on
				p := make([]byte, h.Length)
				if _, err := io.ReadFull(rd, p); err != nil {
					return err
				}
				if h.Masked {
					ws.Cipher(p, h.Mask, 0)
				}
				switch h.OpCode {
				case ws.OpPing:
					if _, err := c.Write(ws.MustCompileFrame(ws.MaskFrame(ws.NewPongFrame(p)))); err != nil {
						return err
					}
				case ws.OpClose:
					return fmt.Errorf("the server closed the WebSocket")
				}
			}
		}, func() {
			c.Write(ws.MustCompileFrame(ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))))
			c.Close()
		}, nil
}

// runPhases is the counted mode: connect, then each phase of counts, each
// followed by mark (run by sh -c with the phase's index and count as $1 and
// $2). Prints one JSON line; exits 1 on any error.
func runPhases(rawURL string, conns int, msg []byte, phases, mark string) {
	var counts []int
	for _, f := range strings.Split(phases, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fail("-phases: %q is not a positive count", f)
		}
		counts = append(counts, n)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		fail("-url: %v", err)
	}
	// connect, 32 at a time: a server under valgrind accepts slowly, and
	// some peers listen with a short backlog
	trips := make([]roundTripper, conns)
	closers := make([]func(), conns)
	var dialMu sync.Mutex
	var dialErr error
	var reconnects atomic.Int64
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range trips {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			if u.Scheme == "http" {
				trips[i], closers[i], err = dialHTTP(u, &reconnects)
			} else {
				trips[i], closers[i], err = dialWS(rawURL, msg)
			}
			if err != nil {
				dialMu.Lock()
				dialErr = err
				dialMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if dialErr != nil {
		fail("connecting: %v", dialErr)
	}
	var errs atomic.Int64
	var errMu sync.Mutex
	var firstErr error
	var took []float64
	for p, n := range counts {
		t0 := time.Now()
		var left atomic.Int64
		left.Store(int64(n))
		var done sync.WaitGroup
		for i, rt := range trips {
			if rt == nil {
				continue
			}
			done.Add(1)
			go func() {
				defer done.Done()
				for left.Add(-1) >= 0 {
					if err := rt(); err != nil {
						if errs.Add(1) == 1 {
							errMu.Lock()
							firstErr = err
							errMu.Unlock()
						}
						trips[i] = nil // this connection is done for
						return
					}
				}
			}()
		}
		done.Wait()
		took = append(took, time.Since(t0).Seconds())
		if errs.Load() > 0 {
			fail("phase %d: %d errors, the first: %v", p, errs.Load(), firstErr)
		}
		if mark != "" {
			cmd := exec.Command("sh", "-c", mark, "mark", strconv.Itoa(p), strconv.Itoa(n))
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fail("-mark after phase %d: %v", p, err)
			}
		}
	}
	for _, c := range closers {
		c()
	}
	b, _ := json.Marshal(map[string]any{"connections": conns, "phases": counts, "seconds": took, "errors": errs.Load(), "reconnects": reconnects.Load()})
	fmt.Println(string(b))
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "wsbench: "+format+"\n", a...)
	os.Exit(1)
}
