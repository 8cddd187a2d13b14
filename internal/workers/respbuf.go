package workers

import (
	"os"
	"sync"
	"sync/atomic"
)

// Budget bounds the bytes held in memory by many requests together (request
// bodies, buffered responses). The zero value has no room; a nil *Budget
// has unlimited room.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// TryAcquire takes n bytes if they fit.
func (b *Budget) TryAcquire(n int64) bool {
	if b == nil {
		return true
	}
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

// Release gives back n bytes taken with TryAcquire.
func (b *Budget) Release(n int64) {
	if b != nil && n != 0 {
		b.used.Add(-n)
	}
}

// InUse reports the bytes taken now.
func (b *Budget) InUse() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// respBuffer holds the rest of a streamed response between the goroutine
// that reads it off the worker's slot (as fast as the worker produces it)
// and the one that sends it to the client (as fast as the client reads), so
// a slow client costs memory or disk, never a worker thread. Up to memLimit
// bytes (and what the shared budget allows) stay in memory; beyond, bytes
// go to an unlinked spool file of up to spoolLimit bytes; beyond that the
// producer waits for the consumer.
type respBuffer struct {
	mu       sync.Mutex
	cond     sync.Cond
	segs     []segment
	mem      int64 // bytes of memory segments held
	memLimit int64
	budget   *Budget
	spool    *os.File
	spoolDir string
	spoolMax int64
	spoolW   int64 // bytes written to the spool
	spoolR   int64 // bytes of it consumed
	ended    bool  // the producer is done; err says how
	err      error // io.EOF for a complete response
	discard  bool  // the consumer wants no more
	scratch  []byte
}

// segment is a run of body bytes: in memory, or n bytes of the spool file
// at off.
type segment struct {
	mem []byte
	off int64
	n   int64
}

func newRespBuffer(memLimit int64, budget *Budget, spoolDir string, spoolMax int64) *respBuffer {
	b := &respBuffer{memLimit: memLimit, budget: budget, spoolDir: spoolDir, spoolMax: spoolMax}
	b.cond.L = &b.mu
	return b
}

// push appends data (which the buffer may keep: the caller must not reuse
// it). It waits while neither memory nor spool has room.
func (b *respBuffer) push(data []byte) {
	n := int64(len(data))
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.discard {
			return
		}
		if (b.mem == 0 || b.mem+n <= b.memLimit) && b.budget.TryAcquire(n) {
			b.segs = append(b.segs, segment{mem: data})
			b.mem += n
			b.cond.Broadcast()
			return
		}
		if b.spoolMax > 0 && b.spoolW+n <= b.spoolMax && b.spoolWrite(data) {
			b.cond.Broadcast()
			return
		}
		b.cond.Wait() // backpressure: the worker waits for the client
	}
}

// spoolWrite appends data to the spool file. b.mu is held; the write
// happens without it would be nicer, but the consumer only reads regions
// already recorded, so holding it is merely slower, never wrong.
func (b *respBuffer) spoolWrite(data []byte) bool {
	if b.spool == nil {
		f, err := os.CreateTemp(b.spoolDir, "gowsgi-response-")
		if err != nil {
			b.spoolMax = 0 // no disk: fall back to backpressure
			return false
		}
		os.Remove(f.Name())
		b.spool = f
	}
	if _, err := b.spool.WriteAt(data, b.spoolW); err != nil {
		b.spoolMax = 0
		return false
	}
	if k := len(b.segs); k > 0 && b.segs[k-1].mem == nil && b.segs[k-1].off+b.segs[k-1].n == b.spoolW {
		b.segs[k-1].n += int64(len(data))
	} else {
		b.segs = append(b.segs, segment{off: b.spoolW, n: int64(len(data))})
	}
	b.spoolW += int64(len(data))
	return true
}

// end records that no more data comes: err is io.EOF for a complete
// response, else why it broke.
func (b *respBuffer) end(err error) {
	b.mu.Lock()
	b.ended, b.err = true, err
	b.cond.Broadcast()
	b.mu.Unlock()
}

// pop returns the next bytes, waiting for them; after the last it returns
// the producer's error (io.EOF when complete). The bytes are valid until
// the next call. more reports that further bytes are already there.
func (b *respBuffer) pop() (data []byte, more bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.segs) == 0 {
		if b.ended {
			return nil, false, b.err
		}
		b.cond.Wait()
	}
	s := &b.segs[0]
	if s.mem != nil {
		data = s.mem
		b.mem -= int64(len(data))
		b.budget.Release(int64(len(data)))
		b.segs = b.segs[1:]
	} else {
		if b.scratch == nil {
			b.scratch = make([]byte, 64<<10)
		}
		k := min(s.n, int64(len(b.scratch)))
		m, rerr := b.spool.ReadAt(b.scratch[:k], s.off)
		if m == 0 && rerr != nil {
			b.discard = true
			b.cond.Broadcast()
			return nil, false, rerr
		}
		data = b.scratch[:m]
		s.off += int64(m)
		s.n -= int64(m)
		b.spoolR += int64(m)
		if s.n == 0 {
			b.segs = b.segs[1:]
		}
	}
	b.cond.Broadcast() // room for the producer
	return data, len(b.segs) > 0, nil
}

// ready reports whether pop would return without waiting.
func (b *respBuffer) ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.segs) > 0 || b.ended
}

// close drops what is buffered; a producer still pushing has its data
// discarded from now on.
func (b *respBuffer) close() {
	b.mu.Lock()
	b.discard = true
	b.budget.Release(b.mem)
	b.mem = 0
	b.segs = nil
	if b.spool != nil {
		b.spool.Close()
		b.spool = nil
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}
