package workers

import (
	"testing"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// A slot has no read buffer until its first read: an ASGI worker has
// --limit-concurrency slots, most never used, and 64 KiB each was 64 MiB
// of live heap per idle worker. The first frame allocates it.
func TestSlotReadBufferOnFirstRead(t *testing.T) {
	s, peer := slotPair(t)
	if s.buf != nil {
		t.Fatalf("a new slot holds a %d-byte read buffer", len(s.buf))
	}
	frame := append(wire.AppendHeader(nil, wire.Body, 7, 5), "hello"...)
	if _, err := peer.Write(frame); err != nil {
		t.Fatal(err)
	}
	h, p, err := s.readFrame()
	if err != nil || h.Type != wire.Body || h.ID != 7 || string(p) != "hello" {
		t.Fatalf("readFrame = %+v %q %v", h, p, err)
	}
	if len(s.buf) != slotBufSize {
		t.Errorf("after the first read the buffer is %d bytes, want %d", len(s.buf), slotBufSize)
	}
}
