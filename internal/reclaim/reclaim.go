// Package reclaim gives memory back to the operating system after a burst.
//
// Go's runtime returns freed heap memory to the OS only gradually, and a
// heap that stops growing is not collected until the two-minute forced
// GC: after a flood of connections (buffers, goroutine stacks, response
// memory) the process keeps its peak size for minutes. Start watches how
// much memory the process holds from the OS and, when it is well above
// what it held at rest, runs debug.FreeOSMemory (a collection, then every
// free page back to the OS). The checks are cheap (runtime/metrics, no
// stop-the-world); the call itself is rate-limited, and backs off while
// the memory held is live data rather than garbage.
package reclaim

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Defaults for Start.
const (
	// Threshold is how far above its resting size the memory held must be
	// for a reclaim.
	Threshold = 32 << 20
	// Every is how often the memory held is looked at; after a reclaim
	// that freed little (the memory is in use), the next waits up to
	// MaxWait.
	Every   = 5 * time.Second
	MaxWait = 30 * time.Second
)

// Start watches the process's memory in a goroutine of its own, for the
// life of the process.
func Start() {
	w := &watcher{}
	go w.run()
}

type watcher struct {
	samples []metrics.Sample
}

// held reports the bytes the Go runtime holds from the OS: everything it
// mapped, less the heap pages already given back.
func (w *watcher) held() uint64 {
	if w.samples == nil {
		w.samples = []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	}
	metrics.Read(w.samples)
	var v [2]uint64
	for i, s := range w.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	return v[0] - v[1]
}

func (w *watcher) run() {
	rest := w.held() // the smallest seen after a reclaim, or at start
	wait := Every
	for {
		time.Sleep(wait)
		h := w.held()
		if h < rest {
			rest = h
		}
		if h < rest+Threshold {
			wait = Every
			continue
		}
		freeOSMemory()
		after := w.held()
		if after < rest {
			rest = after
		}
		if h-after < Threshold {
			wait = min(2*wait, MaxWait) // live data, not garbage: look less often
		} else {
			wait = Every
		}
	}
}

var freeOSMemory = debug.FreeOSMemory
