package h2

import (
	"testing"

	"golang.org/x/net/http2"
)

// TestConnWindow: a connection's flow-control window has room for the
// windows of all its streams (so streams whose handlers read nothing
// cannot stall the others), within 1 MiB (x/net's default) and 16 MiB.
func TestConnWindow(t *testing.T) {
	for _, tc := range []struct {
		streams   uint32
		perStream int32
		want      int32
	}{
		{100, 65535, 100 * 65535}, // gowsgi's defaults
		{0, 65535, 250 * 65535},   // x/net's default stream count
		{4, 65535, 1 << 20},       // never under x/net's default
		{100, 0, 16 << 20},        // x/net's 1 MiB stream window: capped
		{100, 1 << 30, 16 << 20},
	} {
		if got := connWindow(&http2.Server{MaxConcurrentStreams: tc.streams, MaxUploadBufferPerStream: tc.perStream}); got != tc.want {
			t.Errorf("%d streams of %d: window %d, want %d", tc.streams, tc.perStream, got, tc.want)
		}
	}
	m := New(Config{Server: &http2.Server{MaxConcurrentStreams: 100, MaxUploadBufferPerStream: 65535}})
	if got := m.cfg.Server.MaxUploadBufferPerConnection; got != 100*65535 {
		t.Errorf("New set the connection window to %d", got)
	}
	m = New(Config{Server: &http2.Server{MaxUploadBufferPerConnection: 1 << 22}})
	if got := m.cfg.Server.MaxUploadBufferPerConnection; got != 1<<22 {
		t.Errorf("New changed a connection window that was set: %d", got)
	}
}
