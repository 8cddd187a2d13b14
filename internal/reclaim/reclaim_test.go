package reclaim

import (
	"runtime"
	"testing"
)

var sink [][]byte

// held grows with the heap and falls once the garbage is collected and
// given back.
func TestHeldFollowsTheHeap(t *testing.T) {
	w := &watcher{}
	before := w.held()
	for i := 0; i < 64; i++ {
		sink = append(sink, make([]byte, 1<<20))
	}
	grown := w.held()
	if grown < before+32<<20 {
		t.Fatalf("held %d after allocating 64 MiB, was %d", grown, before)
	}
	sink = nil
	runtime.GC()
	freeOSMemory()
	if after := w.held(); after > grown-32<<20 {
		t.Fatalf("held %d after freeing 64 MiB, was %d", after, grown)
	}
}
