package workers

import (
	"math/bits"
	"sync"
)

// Buffers for large response frames, recycled by size class (powers of
// two, above copyMax up to what a frame may carry). A whole response's
// buffer comes back at Exchange.Close; without recycling, every large
// response was a fresh allocation the runtime had to zero, and garbage
// that drove the collector (a third of the front's CPU on 1 MiB responses).
// sync.Pool gives the memory back when it goes unused.
const (
	minPayloadClass = 17 // 128 KiB, the first class above copyMax
	maxPayloadClass = 23 // 8 MiB; wire.MaxPayload is larger, but frames
	// carry at most the worker's MAX_FRAME_BODY (4 MiB) and a head
)

var payloadPools [maxPayloadClass - minPayloadClass + 1]sync.Pool

// getPayload returns a buffer of length n, not zeroed.
func getPayload(n int) []byte {
	c := max(bits.Len(uint(n-1)), minPayloadClass)
	if c > maxPayloadClass {
		return make([]byte, n)
	}
	if b, ok := payloadPools[c-minPayloadClass].Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, 1<<c)
}

// putPayload recycles a buffer from getPayload; nothing may use it after.
func putPayload(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if cap(b) != 1<<c || c < minPayloadClass || c > maxPayloadClass {
		return
	}
	b = b[:0]
	payloadPools[c-minPayloadClass].Put(&b)
}
