package workers

import (
	"bytes"
	"errors"
	"io"
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
