package workers

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

// Response memory counts a piece from push until the consumer is done
// with it (the piece pop returned counts until the next pop); spooled
// bytes count on disk until read; close gives everything back.
func TestRespBufferCountsUntilConsumed(t *testing.T) {
	files := NewBudget(4)
	s := &respStore{perMem: 100, mem: NewBudget(1 << 20), disk: NewBudget(1 << 20), arena: &spoolArena{dir: t.TempDir(), files: files}, perSpool: 1 << 20}
	rb := newRespBuffer(s)
	rb.push(bytes.Repeat([]byte("a"), 60))
	rb.push(bytes.Repeat([]byte("b"), 60)) // past perMem: spooled
	if got := s.mem.InUse(); got != 60 {
		t.Fatalf("memory in use %d, want 60", got)
	}
	if s.disk.InUse() != arenaPage || files.InUse() != 1 {
		t.Fatalf("disk %d files %d, want one page and one file", s.disk.InUse(), files.InUse())
	}
	data, _, err := rb.pop()
	if err != nil || len(data) != 60 {
		t.Fatalf("pop: %d bytes, %v", len(data), err)
	}
	if got := s.mem.InUse(); got != 60 {
		t.Fatalf("memory in use %d while the popped piece is held, want 60", got)
	}
	if data, _, err = rb.pop(); err != nil || string(data) != string(bytes.Repeat([]byte("b"), 60)) {
		t.Fatalf("pop from the spool: %q %v", data, err)
	}
	if s.mem.InUse() != 0 || s.disk.InUse() != 0 {
		t.Fatalf("after reading all: memory %d disk %d", s.mem.InUse(), s.disk.InUse())
	}
	rb.push(bytes.Repeat([]byte("c"), 60))
	rb.push(bytes.Repeat([]byte("d"), 60))
	rb.close()
	if s.mem.InUse() != 0 || s.disk.InUse() != 0 || s.arena.live != 0 {
		t.Fatalf("after close: memory %d disk %d arena %d", s.mem.InUse(), s.disk.InUse(), s.arena.live)
	}
}

// Many responses share the one spool file, and its space comes back as
// they are read.
func TestRespBufferSpoolIsShared(t *testing.T) {
	files := NewBudget(1)
	s := &respStore{perMem: 1, mem: NewBudget(0), disk: NewBudget(1 << 20), arena: &spoolArena{dir: t.TempDir(), files: files}, perSpool: 1 << 20}
	var rbs []*respBuffer
	for i := 0; i < 50; i++ {
		rb := newRespBuffer(s)
		rb.push([]byte{byte(i)})
		rb.push([]byte{byte(i)})
		rb.end(io.EOF)
		rbs = append(rbs, rb)
	}
	if files.InUse() != 1 || s.disk.InUse() != 100*arenaPage {
		t.Fatalf("files %d, disk %d", files.InUse(), s.disk.InUse())
	}
	for i, rb := range rbs {
		for k := 0; k < 2; k++ {
			data, _, err := rb.pop()
			if err != nil || len(data) != 1 || data[0] != byte(i) {
				t.Fatalf("response %d: %v %v", i, data, err)
			}
		}
		if _, _, err := rb.pop(); err != io.EOF {
			t.Fatalf("response %d: %v, want EOF", i, err)
		}
		rb.close()
	}
	if s.disk.InUse() != 0 || s.arena.live != 0 {
		t.Fatalf("disk %d arena %d after every response was read", s.disk.InUse(), s.arena.live)
	}
}

// With no room in memory nor on disk and nobody reading, the producer
// waits cutAfter at most: then the response is cut off, what it held is
// given back, and the consumer sees ErrCutOff.
func TestRespBufferCutsOffAStalledReader(t *testing.T) {
	s := &respStore{perMem: 10, mem: NewBudget(100), disk: NewBudget(arenaPage), arena: &spoolArena{dir: t.TempDir()}, perSpool: 1 << 20, cutAfter: 50 * time.Millisecond}
	rb := newRespBuffer(s)
	rb.push(make([]byte, 80))
	rb.push(make([]byte, 80)) // spooled: a page
	done := make(chan bool, 1)
	go func() { _, cut := rb.push(make([]byte, 80)); done <- cut }()
	select {
	case cut := <-done:
		if !cut {
			t.Fatal("push returned without cutting off, with no room anywhere")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("push still waits long after cutAfter")
	}
	if s.mem.InUse() != 0 || s.disk.InUse() != 0 {
		t.Fatalf("memory %d disk %d after the cut, want 0", s.mem.InUse(), s.disk.InUse())
	}
	if _, _, err := rb.pop(); !errors.Is(err, ErrCutOff) {
		t.Fatalf("pop: %v, want ErrCutOff", err)
	}
	rb.end(io.EOF) // the producer's end does not hide the cut
	if _, _, err := rb.pop(); !errors.Is(err, ErrCutOff) {
		t.Fatalf("pop after end: %v, want ErrCutOff", err)
	}
	rb.close()
}

// stall makes b's client look as if it took nothing for d.
func stall(b *respBuffer, d time.Duration) {
	b.mu.Lock()
	b.since = monoNow() - int64(d)
	b.mu.Unlock()
}

// With no room anywhere, a response that needs some evicts the response
// whose client has taken nothing for the longest (past evictGrace): that
// one's consumer is interrupted and sees ErrCutOff, its producer is told
// to stop, its room is given back, and the new response goes on without
// waiting. A client that took nothing for less than the grace, or that
// waits for its response, is not evicted.
func TestRespBufferEvictsTheLongestStalled(t *testing.T) {
	s := &respStore{perMem: 1 << 20, mem: NewBudget(200), cutAfter: time.Minute, log: slog.New(slog.DiscardHandler)}
	old, young, reader := newRespBuffer(s), newRespBuffer(s), newRespBuffer(s)
	interrupted := make(chan string, 3)
	old.setInterrupt(func() { interrupted <- "old" })
	young.setInterrupt(func() { interrupted <- "young" })
	reader.setInterrupt(func() { interrupted <- "reader" })
	// reader's client took its piece and waits for more: moving.
	reader.push(make([]byte, 100))
	if _, _, err := reader.pop(); err != nil {
		t.Fatal(err)
	}
	popping := make(chan error, 1)
	go func() { _, _, err := reader.pop(); popping <- err }()
	waitUntil(t, "the reader to wait", func() bool { reader.mu.Lock(); defer reader.mu.Unlock(); return reader.waiting })
	for _, b := range []*respBuffer{old, young} {
		if kept, cut := b.push(make([]byte, 100)); !kept || cut {
			t.Fatalf("push with room: kept %v cut %v", kept, cut)
		}
	}
	stall(reader, time.Hour) // its last piece was long ago, but it waits on us
	stall(old, 3*evictGrace)
	stall(young, evictGrace/2)

	fresh := newRespBuffer(s)
	kept, cut := fresh.push(make([]byte, 100)) // memory full: 200 of 200
	if !kept || cut {
		t.Fatalf("push after eviction: kept %v cut %v", kept, cut)
	}
	if who := <-interrupted; who != "old" {
		t.Fatalf("%s was interrupted, want old", who)
	}
	if _, _, err := old.pop(); !errors.Is(err, ErrCutOff) {
		t.Fatalf("the evicted response's pop: %v, want ErrCutOff", err)
	}
	if _, cut := old.push(make([]byte, 10)); !cut {
		t.Fatal("the evicted response's producer was not told to stop")
	}
	if _, cut := old.push(make([]byte, 10)); cut {
		t.Fatal("the evicted response's producer was told twice")
	}
	// Nothing else may be evicted: young has stalled for less than the
	// grace, reader waits. The next push waits (its own client is
	// reading nothing either), and young becomes evictable after the grace.
	start := time.Now()
	another := newRespBuffer(s)
	if kept, cut := another.push(make([]byte, 200)); !kept || cut {
		t.Fatalf("push: kept %v cut %v", kept, cut)
	}
	if who := <-interrupted; who != "young" {
		t.Fatalf("%s was interrupted, want young", who)
	}
	if d := time.Since(start); d < evictGrace/4 {
		t.Errorf("young was evicted after %s, before the grace", d)
	}
	select {
	case who := <-interrupted:
		t.Fatalf("%s was interrupted too", who)
	default:
	}
	reader.end(io.EOF)
	if err := <-popping; err != io.EOF {
		t.Fatalf("the reader's pop: %v, want io.EOF", err)
	}
	for _, b := range []*respBuffer{old, young, reader, fresh, another} {
		b.close()
	}
	if s.mem.InUse() != 0 || len(s.live) != 0 {
		t.Fatalf("after close: memory %d, %d buffers live", s.mem.InUse(), len(s.live))
	}
}

// A finished response of up to --response-buffer stays in the exchange
// (written whole, unwatched) while responses hold less than half their
// memory; past that mark, or when larger, it goes through a buffer that
// eviction watches.
func TestSpillWatchesUnderPressureOnly(t *testing.T) {
	s := &respStore{perMem: 1 << 20, mem: NewBudget(8 << 20), cutAfter: time.Minute, log: slog.New(slog.DiscardHandler)}
	finished := func(size int) *Exchange {
		x := &Exchange{p: &Pool{resp: s}}
		x.resp.Body = make([]byte, size)
		x.resp.Complete = true
		x.end = io.EOF
		x.hold(int64(cap(x.resp.Body)))
		x.spill()
		return x
	}
	direct := finished(1 << 20)
	if direct.rb != nil || !direct.resp.Complete {
		t.Fatal("a 1 MiB response without pressure went through a buffer")
	}
	large := finished(2 << 20) // over --response-buffer: watched
	if large.rb == nil {
		t.Fatal("a response over --response-buffer was not watched")
	}
	watched := finished(1 << 20) // with it, 4 MiB of 8 held: the mark
	if watched.rb == nil || watched.resp.Complete {
		t.Fatal("a 1 MiB response under pressure was not watched")
	}
	s.mu.Lock()
	_, ok := s.live[watched.rb]
	s.mu.Unlock()
	if !ok {
		t.Fatal("the watched response is not where eviction looks")
	}
	for _, x := range []*Exchange{direct, large, watched} {
		if x.rb != nil {
			x.rb.close()
		}
		x.unhold()
	}
	if s.mem.InUse() != 0 {
		t.Fatalf("after close: memory %d", s.mem.InUse())
	}
}
