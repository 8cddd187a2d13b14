package tests

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// browser starts Debian's chromium headless on url and stops it (its whole
// process group) when the test ends. The page reports what it saw by an
// HTTP request to the app, which writes a file the test waits for: that is
// observable, where the DOM of a page that never finishes loading is not.
// A missing chromium fails the test: a browser is one of the real clients
// the WebSocket issue asks for.
func browser(t *testing.T, url string) *syncBuffer {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: install the Debian package chromium (tests/apt-packages.txt lists it): %v", err)
	}
	out := &syncBuffer{}
	cmd := exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--user-data-dir="+t.TempDir(), url)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("chromium did not exit after SIGKILL")
		}
	})
	return out
}

// waitBrowserFile waits for a file the page's requests make the app write.
func waitBrowserFile(t *testing.T, p *probeState, name string, out *syncBuffer) string {
	t.Helper()
	if !waitFor(90*time.Second, func() bool { return p.Exists(name) }) {
		t.Fatalf("the browser page never reported %s; chromium said:\n%s", name, out)
	}
	return readFile(t, p.Path(name))
}

// A browser's own WebSocket against a Starlette echo: the page's
// JavaScript opens ws://host/echo with a subprotocol, sends a text and a
// 100 kB message (compressed: Chromium offers permessage-deflate), shows
// the echoes and closes with 1000, which the app sees.
func TestWebSocketBrowserEcho(t *testing.T) {
	s, p := startWS(t, "-w", "1")
	out := browser(t, s.URL("/browser"))
	got := waitBrowserFile(t, p, "browser-result", out)
	want := "protocol=chat extensions=permessage-deflate"
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, " seen=from the browser ✓|big:100000") {
		t.Fatalf("the browser saw %q, want %q... seen=from the browser ✓|big:100000", got, want)
	}
	p.WaitFile("echo-disconnect", 30*time.Second)
	if code := readFile(t, p.Path("echo-disconnect")); code != "1000" {
		t.Errorf("the app saw websocket.disconnect with code %s after the browser closed, want 1000", code)
	}
}

// A Django Channels chat between two Python clients and a browser: each
// message reaches all three, and the browser's answer reaches the clients.
func TestWebSocketBrowserChannelsChat(t *testing.T) {
	py := debianPython(t, "channels", "django", "websockets")
	s, p := startASGI(t, nil, "tests/testdata/apps/ws_channels.py:application", "--python", py, "-w", "1")
	out := browser(t, s.URL("/browser"))
	waitBrowserFile(t, p, "browser-joined", out)
	var chat struct{ A, B []string }
	wsClient(t, &chat, "chat-browser", wsURL(s, "/chat/lobby/"))
	const want = "hello from a|hi from b|hello from browser"
	if strings.Join(chat.A, "|") != want || strings.Join(chat.B, "|") != want {
		t.Fatalf("the Python clients saw %+v, want %s each", chat, want)
	}
	if got := waitBrowserFile(t, p, "browser-result", out); got != want {
		t.Fatalf("the browser saw %q, want %q", got, want)
	}
}

// What a browser's WebSocket meets (tests/testdata/apps/ws_browser.py):
// the subprotocol the app picked from Chromium's offer, Chromium's
// permessage-deflate offer (client_max_window_bits with no value)
// accepted, a 4 MiB binary and a 1.5 MB text message echoed whole, the
// server's pings answered (1 s interval and timeout, and the connection
// lives 3.5 s), the browser's close with its code and reason as the app
// receives it, and the server's closes as the page's onclose sees them:
// 1000 and 4001 with their reasons, 1011 when the app raises after
// accept, and 1006 (not clean) when the app refuses the handshake.
func TestWebSocketBrowserBehaviours(t *testing.T) {
	s, p := startASGI(t, nil, "tests/testdata/apps/ws_browser.py", "-w", "1", "--ws-ping-interval", "1", "--ws-ping-timeout", "1")
	out := browser(t, s.URL("/"))
	var r struct {
		Protocol, Extensions string
		Handshake            struct {
			Subprotocols []string
			Extensions   string
		}
		BigBinary, BigText                       bool
		AfterPings                               string
		ClientClose, Close1000, Close4001, Raise []any
		Deny                                     []any
		Error                                    string
	}
	got := waitBrowserFile(t, p, "browser-result", out)
	if err := json.Unmarshal([]byte(got), &r); err != nil || r.Error != "" {
		t.Fatalf("the page reported %s (%v)", got, err)
	}
	t.Logf("the page reported %s", got)
	if r.Protocol != "v2.chat" || strings.Join(r.Handshake.Subprotocols, ",") != "x-unknown,chat,v2.chat" {
		t.Errorf("subprotocol: the browser offered %v and got %q, want v2.chat", r.Handshake.Subprotocols, r.Protocol)
	}
	if r.Handshake.Extensions != "permessage-deflate; client_max_window_bits" || r.Extensions != "permessage-deflate; server_no_context_takeover" {
		t.Errorf("permessage-deflate: Chromium offered %q, and the server answered %q", r.Handshake.Extensions, r.Extensions)
	}
	if !r.BigBinary || !r.BigText || r.AfterPings != "still here" {
		t.Errorf("large messages echoed: binary %v, text %v; after 3.5 s of pings: %q", r.BigBinary, r.BigText, r.AfterPings)
	}
	for _, c := range []struct {
		name string
		got  []any
		want string
	}{
		// The server answers the browser's close with its code and reason
		// (echoed, as uvicorn's websockets and wsproto echo them).
		{"the browser's close", r.ClientClose, "[4000 bye ✓ true]"},
		{"the server's close 1000", r.Close1000, "[1000 done true ]"},
		{"the server's close 4001", r.Close4001, "[4001 custom ✓ true ]"},
		{"the app raising after accept", r.Raise, "[1011  true ]"},
		{"the app refusing the handshake", r.Deny, "[1006  false ]"},
	} {
		if fmt.Sprint(c.got) != c.want {
			t.Errorf("%s: the page's onclose saw (code, reason, wasClean, protocol) %v, want %s", c.name, c.got, c.want)
		}
	}
	p.WaitFile("sub-disconnect", 10*time.Second)
	if got := readFile(t, p.Path("sub-disconnect")); got != "4000 bye ✓" {
		t.Errorf("the app saw websocket.disconnect %q after the browser's close(4000, 'bye ✓')", got)
	}
}
