package tests

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWebSocketBroadcast runs the broadcast room of chat and dashboard apps
// (tests/testdata/apps/ws_broadcast.py) with Debian's python3-websockets:
// 200 clients in a Starlette room and 100 in a FastAPI one, every message to
// every client, permessage-deflate on (the client offers it). Each client
// must get every message, and once they have all closed the app must have
// seen each one go.
func TestWebSocketBroadcast(t *testing.T) {
	py := debianPython(t, "starlette", "fastapi")
	s, _ := startASGI(t, nil, "tests/testdata/apps/ws_broadcast.py", "--python", py)
	for _, tc := range []struct {
		ws, count string
		n         int
	}{
		{"/broadcast", "/count", 200},
		{"/api/broadcast", "/api/count", 100},
	} {
		var out struct{ OK, N int }
		wsClient(t, &out, "broadcast", wsURL(s, tc.ws), strconv.Itoa(tc.n))
		if out.OK != tc.n {
			t.Fatalf("%s: %d of %d clients got every message", tc.ws, out.OK, tc.n)
		}
		var last string
		if !waitFor(20*time.Second, func() bool {
			resp, err := http.Get("http://" + s.Addr + tc.count)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b := make([]byte, 16)
			n, _ := resp.Body.Read(b)
			last = strings.TrimSpace(string(b[:n]))
			return last == "0"
		}) {
			t.Fatalf("%s: the app still counts %s members after every client closed", tc.ws, last)
		}
	}
}
