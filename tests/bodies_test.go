package tests

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
)

// mirrorPattern is what tests/testdata/apps/mirror.py sends for /big?n=N.
func mirrorPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// Requests and responses of every size around the front's thresholds
// (bodies copied or written in place; frames read into the slot's buffer
// or into memory of their own), many at once on one single-threaded worker,
// so that they are pipelined on its one slot and interleave on the wire:
// every body must come back byte for byte, to the request it belongs to.
func TestLargeBodiesPipelinedOnOneSlot(t *testing.T) {
	t.Parallel()
	s := StartServer(t, "tests/testdata/apps/mirror.py", "-w", "1", "--threads", "1",
		"--body-memory", "4M", "--max-body-size", "8M")
	sizes := []int{0, 1, 100, 16 << 10, 16<<10 + 1, 64<<10 - 20, 64 << 10, 64<<10 + 1, 300 << 10, 3<<20 + 7}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for c := 0; c < 12; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer cl.CloseIdleConnections()
			for i := 0; i < 3*len(sizes); i++ {
				n := sizes[(c+i)%len(sizes)]
				if err := mirrorOnce(cl, s, c, i, n); err != nil {
					errs <- err
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func mirrorOnce(cl *http.Client, s *Server, c, i, n int) error {
	var url string
	var want []byte
	var resp *http.Response
	var err error
	switch i % 3 {
	case 0: // echo: the request body goes to the worker and comes back
		want = mirrorPattern(n)
		if n > 0 {
			want[n/2] ^= byte(c + 1) // tell the clients' bodies apart
		}
		resp, err = cl.Post(s.URL("/"), "application/octet-stream", bytes.NewReader(want))
	case 1: // one whole response
		url, want = s.URL(fmt.Sprintf("/big?n=%d", n)), mirrorPattern(n)
		resp, err = cl.Get(url)
	default: // streamed, in pieces of 40 KiB
		url, want = s.URL(fmt.Sprintf("/big?n=%d&chunk=%d", n, 40<<10)), mirrorPattern(n)
		resp, err = cl.Get(url)
	}
	if err != nil {
		return fmt.Errorf("client %d request %d (%d bytes): %v", c, i, n, err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("client %d request %d (%d bytes): status %d, %v", c, i, n, resp.StatusCode, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("client %d request %d: got %d bytes, want %d (mode %d), equal prefix %d",
			c, i, len(got), len(want), i%3, commonPrefix(got, want))
	}
	return nil
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
