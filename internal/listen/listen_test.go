package listen

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gowsgi/gowsgi/internal/config"
)

func mustBind(t *testing.T, spec string) config.Bind {
	t.Helper()
	b, err := config.ParseBind(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSameTCPAddr(t *testing.T) {
	v4 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8000}
	any6 := &net.TCPAddr{IP: net.IPv6unspecified, Port: 8000}
	for _, c := range []struct {
		addr string
		a    *net.TCPAddr
		want bool
	}{
		{"127.0.0.1:8000", v4, true},
		{"127.0.0.1:8001", v4, false},
		{"127.0.0.2:8000", v4, false},
		{"localhost:8000", v4, true},
		{"0.0.0.0:8000", any6, true}, // ListenStream=8000 is [::]:8000
		{"[::]:8000", any6, true},
		{":8000", any6, true},
		{"0.0.0.0:8000", v4, false},
		{"127.0.0.1:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, false},
	} {
		if got := sameTCPAddr(c.addr, c.a); got != c.want {
			t.Errorf("sameTCPAddr(%q, %v) = %v, want %v", c.addr, c.a, got, c.want)
		}
	}
}

// inherited builds an Inherited from listeners the test opens.
func inherited(t *testing.T, from string, names ...string) (*Inherited, []net.Listener) {
	t.Helper()
	in := &Inherited{From: from}
	var ls []net.Listener
	for i, n := range names {
		var l net.Listener
		var err error
		if p, ok := strings.CutPrefix(n, "unix:"); ok {
			l, err = net.Listen("unix", p)
		} else {
			l, err = net.Listen("tcp", "127.0.0.1:0")
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ls = append(ls, l)
		in.socks = append(in.socks, &inheritedSock{l: l, fd: firstFD + i, name: n})
	}
	return in, ls
}

func TestListenMatchesBinds(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "a.sock")
	in, ls := inherited(t, Systemd, "web", "unix:"+sock, "admin", "spare")
	fresh, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := fresh.Addr().String()
	fresh.Close()
	binds := []config.Bind{
		mustBind(t, ls[0].Addr().String()), // by address
		mustBind(t, "unix:"+sock),          // by path (and name)
		mustBind(t, "fd://5"),              // by descriptor number: admin
		mustBind(t, freeAddr),              // bound here
	}
	socks, err := Listen(in, binds, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range socks {
			s.Close()
		}
	}()
	if len(socks) != 4 {
		t.Fatalf("%d sockets", len(socks))
	}
	for i, want := range []net.Listener{ls[0], ls[1], ls[2]} {
		if socks[i].Listener != want || socks[i].Origin != Systemd {
			t.Errorf("bind %s: got %v (%s), want inherited %v", binds[i].Spec, socks[i].Addr(), socks[i].Origin, want.Addr())
		}
	}
	if socks[3].Origin != Bound || socks[3].Addr().String() != freeAddr {
		t.Errorf("bind %s: %s %v", freeAddr, socks[3].Origin, socks[3].Addr())
	}
	if socks[1].path != "" {
		t.Errorf("systemd's unix socket would be unlinked")
	}
	// The socket no bind names is closed.
	if c, err := net.DialTimeout("tcp", ls[3].Addr().String(), time.Second); err == nil {
		c.Close()
		t.Errorf("the unnamed inherited socket still accepts")
	}
}

func TestListenAllWithoutBinds(t *testing.T) {
	in, ls := inherited(t, Upgrade, "127.0.0.1:1", "fd://9")
	socks, err := Listen(in, []config.Bind{mustBind(t, "127.0.0.1:8000")}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 2 || socks[0].Listener != ls[0] || socks[1].Listener != ls[1] || socks[1].Name != "fd://9" {
		t.Fatalf("got %v", socks)
	}
	// An upgraded process's fd://N bind is matched by name, not number.
	in, ls = inherited(t, Upgrade, "127.0.0.1:1", "fd://9")
	socks, err = Listen(in, []config.Bind{mustBind(t, "fd://9")}, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 1 || socks[0].Listener != ls[1] {
		t.Fatalf("fd://9 got %v", socks)
	}
}

func TestInheritIgnoresOtherPid(t *testing.T) {
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()+1))
	t.Setenv("LISTEN_FDNAMES", "web")
	in, err := Inherit()
	if in != nil || err != nil {
		t.Fatalf("LISTEN_PID for another process: %v %v", in, err)
	}
	for _, k := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
		if _, ok := os.LookupEnv(k); ok {
			t.Errorf("%s still set", k)
		}
	}
}

func TestInheritUpgradeForOtherParent(t *testing.T) {
	t.Setenv(upgradeEnv, `{"parent":1,"sockets":[{"name":"x"}]}`)
	in, err := Inherit()
	if in != nil || err != nil {
		t.Fatalf("GOWSGI_UPGRADE from another parent: %v %v", in, err)
	}
	if _, ok := os.LookupEnv(upgradeEnv); ok {
		t.Errorf("%s still set", upgradeEnv)
	}
}

func TestNotifier(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n, err := NewNotifier()
	if err != nil || n == nil {
		t.Fatal(n, err)
	}
	if n.watchdog != 1500*time.Millisecond {
		t.Errorf("watchdog interval %v, want half of WATCHDOG_USEC", n.watchdog)
	}
	if got := strings.Join(n.Env(), " "); got != "NOTIFY_SOCKET="+path+" WATCHDOG_USEC=3000000" {
		t.Errorf("Env() = %q", got)
	}
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		if _, ok := os.LookupEnv(k); ok {
			t.Errorf("%s still set", k)
		}
	}
	if err := n.Ready(42); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, err := c.Read(buf)
	if err != nil || string(buf[:k]) != "READY=1\nMAINPID=42" {
		t.Errorf("got %q %v", buf[:k], err)
	}

	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", "1")
	if n, _ = NewNotifier(); n.watchdog != 0 {
		t.Errorf("WATCHDOG_PID for another process: watchdog %v", n.watchdog)
	}
	var none *Notifier
	if none.Ready(0) != nil || none.Env() != nil {
		t.Errorf("a nil Notifier must do nothing")
	}
}

// TestFDSlots: a detached server inherits fd://N binds at their own
// numbers, holes filled; its readiness pipe goes after them.
func TestFDSlots(t *testing.T) {
	slots := fdSlots([]config.Bind{mustBind(t, "fd://5"), mustBind(t, ":8000"), mustBind(t, "fd://3")})
	if !slices.Equal(slots, []int{3, -1, 5}) {
		t.Errorf("slots %v, want [3 -1 5]", slots)
	}
	if slots := fdSlots([]config.Bind{mustBind(t, "unix:/s")}); len(slots) != 0 {
		t.Errorf("no fd binds: slots %v", slots)
	}
}
