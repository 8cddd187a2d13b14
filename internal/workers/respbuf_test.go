package workers

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// Response memory counts every byte from push until the consumer is done
// with it (the piece pop returned counts until the next pop), and close
// gives everything back: memory, disk, spool files.
func TestRespBufferCountsUntilConsumed(t *testing.T) {
	s := &respStore{perMem: 100, mem: NewBudget(1 << 20), disk: NewBudget(1 << 20), files: NewBudget(4), dir: t.TempDir(), perSpool: 1 << 20}
	rb := newRespBuffer(s)
	rb.push(bytes.Repeat([]byte("a"), 60))
	rb.push(bytes.Repeat([]byte("b"), 60)) // past perMem: spooled
	if got := s.mem.InUse(); got != 60 {
		t.Fatalf("memory in use %d, want 60", got)
	}
	if s.disk.InUse() != 60 || s.files.InUse() != 1 {
		t.Fatalf("disk %d files %d, want 60 and 1", s.disk.InUse(), s.files.InUse())
	}
	data, _, err := rb.pop()
	if err != nil || len(data) != 60 {
		t.Fatalf("pop: %d bytes, %v", len(data), err)
	}
	if got := s.mem.InUse(); got != 60 {
		t.Fatalf("memory in use %d while the popped piece is held, want 60", got)
	}
	if _, _, err := rb.pop(); err != nil {
		t.Fatal(err)
	}
	if got := s.mem.InUse(); got != spoolScratch {
		t.Fatalf("memory in use %d reading the spool back, want the scratch buffer %d", got, spoolScratch)
	}
	rb.close()
	if s.mem.InUse() != 0 || s.disk.InUse() != 0 || s.files.InUse() != 0 {
		t.Fatalf("after close: memory %d disk %d files %d", s.mem.InUse(), s.disk.InUse(), s.files.InUse())
	}
}

// With no room in memory nor on disk and nobody reading, the producer
// waits cutAfter at most: then the response is cut off, its memory given
// back, and the consumer sees ErrCutOff.
func TestRespBufferCutsOffAStalledReader(t *testing.T) {
	s := &respStore{perMem: 10, mem: NewBudget(100), disk: NewBudget(10), dir: t.TempDir(), perSpool: 1 << 20, cutAfter: 50 * time.Millisecond}
	rb := newRespBuffer(s)
	if rb.push(make([]byte, 80)) {
		t.Fatal("the first piece was cut off")
	}
	done := make(chan bool, 1)
	go func() { done <- rb.push(make([]byte, 80)) }()
	select {
	case cut := <-done:
		if !cut {
			t.Fatal("push returned without cutting off, with no room anywhere")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("push still waits long after cutAfter")
	}
	if got := s.mem.InUse(); got != 0 {
		t.Fatalf("memory in use %d after the cut, want 0", got)
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

// The spool file count is shared: without a file to spare, a response
// that needs one waits rather than opening it.
func TestRespBufferSpoolFilesBounded(t *testing.T) {
	files := NewBudget(1)
	files.TryAcquire(1) // a request body holds the only one
	s := &respStore{perMem: 10, mem: NewBudget(1 << 20), files: files, dir: t.TempDir(), perSpool: 1 << 20, cutAfter: 20 * time.Millisecond}
	rb := newRespBuffer(s)
	rb.push(make([]byte, 10))
	if cut := rb.push(make([]byte, 10)); !cut || rb.spool != nil {
		t.Fatalf("cut %v, spool %v: a spool file was opened over the bound", cut, rb.spool)
	}
	rb.close()
	if files.InUse() != 1 {
		t.Fatalf("files in use %d, want 1", files.InUse())
	}
}
