// wsbench is bench/ws.sh's load generator: C WebSocket connections, each
// sending a message and waiting for its echo (one in flight per
// connection), for a duration; it prints one JSON line with the echo rate,
// the latency percentiles and its own CPU time (to show it is not the
// bottleneck). With -flood, each connection only sends, as fast as the
// server takes the bytes, and never reads: the load of bench/ws.sh's flood
// case against an app that does not receive.
//
//	go run ./bench/tools/wsbench -url ws://127.0.0.1:8000/ -c 1000 -d 10s -size 64
//	go run ./bench/tools/wsbench -url ws://127.0.0.1:8000/ -c 1 -d 20s -size 65536 -flood
//
// With -phases (phases.go) it runs exact numbers of round trips instead, over
// WebSockets or, with an http:// URL, keep-alive GETs, and runs a command
// after each phase: bench/tools/asgi_worker_instr.sh --server counts a
// server's instructions with it.
//
//	wsbench -url http://127.0.0.1:8000/ -c 50 -phases 500,1000,4000 -mark 'echo phase $1: $2'
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8000/", "WebSocket URL")
	conns := flag.Int("c", 1, "connections")
	dur := flag.Duration("d", 10*time.Second, "duration of the measured run")
	size := flag.Int("size", 64, "message size in bytes (text)")
	flood := flag.Bool("flood", false, "only send, never read, until the duration ends")
	phases := flag.String("phases", "", "comma-separated counts of round trips: run exactly these, one phase after another, instead of -d")
	mark := flag.String("mark", "", "with -phases: a shell command run after each phase ($1 its index, $2 its count)")
	flag.Parse()

	msg := make([]byte, *size)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	if *phases != "" {
		runPhases(*url, *conns, msg, *phases, *mark)
		return
	}
	var (
		wg       sync.WaitGroup
		ready    sync.WaitGroup
		start    = make(chan struct{})
		stop     atomic.Bool
		errs     atomic.Int64
		mu       sync.Mutex
		samples  []time.Duration
		count    atomic.Int64
		sent     atomic.Int64
		deadline atomic.Value
	)
	ready.Add(*conns)
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			c, br, _, err := ws.Dial(ctx, *url)
			cancel()
			ready.Done()
			if err != nil {
				errs.Add(1)
				return
			}
			defer c.Close()
			r := io.Reader(c)
			if br != nil {
				r = br
			}
			rd := bufio.NewReaderSize(r, 4096)
			frame := buildFrame(msg)
			var local []time.Duration
			<-start
			if *flood {
				// write until the duration is over; a server that stops
				// reading stops these writes (TCP flow control)
				c.SetWriteDeadline(deadline.Load().(time.Time))
				for !stop.Load() {
					if _, err := c.Write(frame); err != nil {
						break
					}
					sent.Add(int64(len(msg)))
					count.Add(1)
				}
				return
			}
			for !stop.Load() {
				t0 := time.Now()
				c.SetDeadline(t0.Add(10 * time.Second))
				if _, err := c.Write(frame); err != nil {
					errs.Add(1)
					break
				}
				h, err := ws.ReadHeader(rd)
				if err != nil {
					errs.Add(1)
					break
				}
				if _, err := io.CopyN(io.Discard, rd, h.Length); err != nil {
					errs.Add(1)
					break
				}
				local = append(local, time.Since(t0))
			}
			c.Write(ws.MustCompileFrame(ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))))
			count.Add(int64(len(local)))
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		}()
	}
	ready.Wait()
	t0 := time.Now()
	deadline.Store(t0.Add(*dur))
	close(start)
	time.Sleep(*dur)
	stop.Store(true)
	elapsed := time.Since(t0)
	wg.Wait()
	slices.Sort(samples)
	pct := func(p float64) float64 {
		if len(samples) == 0 {
			return 0
		}
		return float64(samples[min(len(samples)-1, int(p*float64(len(samples))))].Microseconds()) / 1000
	}
	out := map[string]any{
		"connections": *conns, "size": *size, "seconds": elapsed.Seconds(),
		"messages": count.Load(), "rate": float64(count.Load()) / elapsed.Seconds(),
		"p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1), "errors": errs.Load(),
		"client_cpu_s": cpuSeconds(),
	}
	if *flood {
		out["flood_bytes_sent"] = sent.Load()
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if count.Load() == 0 {
		os.Exit(1)
	}
}

// cpuSeconds is this process's user+system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// buildFrame is one masked text frame carrying p.
func buildFrame(p []byte) []byte {
	f := ws.MaskFrame(ws.NewTextFrame(p))
	b, err := ws.CompileFrame(f)
	if err != nil {
		panic(err)
	}
	return b
}
