package tests

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenApp answers / with its parent's pid (the gowsgi process whose
// worker it is), /env with the systemd and upgrade variables it can see
// and the listening sockets it holds, and /hold only once the test writes
// hold.release into $LT_STATE.
const listenApp = `import os, socket, time
STATE = os.environ.get('LT_STATE', '/tmp')
NAMES = ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'GOWSGI_UPGRADE')

def listening_fds():
    n = 0
    for fd in map(int, os.listdir('/proc/self/fd')):
        try:
            s = socket.socket(fileno=fd)
        except OSError:
            continue
        try:
            n += s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            pass
        finally:
            s.detach()
    return n

def app(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/hold':
        open(os.path.join(STATE, 'hold.entered'), 'w').close()
        while not os.path.exists(os.path.join(STATE, 'hold.release')):
            time.sleep(0.01)
    if path == '/env':
        body = 'vars=%s listening=%d' % (','.join(k for k in NAMES if k in os.environ), listening_fds())
    else:
        body = str(os.getppid())
    b = body.encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(b)))])
    return [b]
`

// lproc is a gowsgi process started by these tests. Its output goes to a
// file, not a pipe: a process started by a binary upgrade inherits it, and
// with a pipe Cmd.Wait would wait for that one to exit too.
type lproc struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startListenProc runs bin with args in dir, the environment plus env, and
// extra as descriptors 3 on. With systemd set, it starts bin through
// /bin/sh so that LISTEN_PID can be the pid gowsgi will have.
func startListenProc(t *testing.T, bin, dir string, env []string, extra []*os.File, systemd bool, args ...string) *lproc {
	t.Helper()
	p := &lproc{t: t, log: filepath.Join(t.TempDir(), "gowsgi.log"), done: make(chan struct{})}
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	args = append([]string{"--python", pythonBin, "-w", "1", "--log-level", "info"}, args...)
	if systemd {
		p.cmd = exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin}, args...)...)
	} else {
		p.cmd = exec.Command(bin, args...)
	}
	p.cmd.Dir = dir
	p.cmd.Env = append(cliEnv(), env...)
	p.cmd.ExtraFiles = extra
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				t.Errorf("gowsgi did not stop within 15s of SIGTERM; killing it")
				p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("gowsgi output:\n%s", p.output())
		}
	})
	return p
}

func (p *lproc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// waitLog waits until substr occurs n times in the output, and fails the
// test if it does not within d or the process exits first.
func (p *lproc) waitLog(substr string, n int, d time.Duration) {
	p.t.Helper()
	ok := waitFor(d, func() bool {
		select {
		case <-p.done:
			return true
		default:
		}
		return strings.Count(p.output(), substr) >= n
	})
	if c := strings.Count(p.output(), substr); !ok || c < n {
		p.t.Fatalf("waited for %d× %q in gowsgi's output, saw %d (exited: %v):\n%s", n, substr, c, p.exited(), p.output())
	}
}

func (p *lproc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode waits up to d for the process to exit: its exit code, or -1.
func (p *lproc) exitCode(d time.Duration) int {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	}
}

func writeListenApp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lapp.py"), []byte(listenApp), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// listenerFile is a listening socket on a free loopback port, as a file to
// pass on, and its address; the test's own listener is closed.
func listenerFile(t *testing.T) (*os.File, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	l.Close() // the duplicate in f stays open and listening
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, l.Addr().String()
}

func getText(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// TestSocketActivation: started by systemd's protocol (LISTEN_FDS,
// LISTEN_PID = gowsgi's pid, LISTEN_FDNAMES), gowsgi serves on the sockets
// it was given: all of them without --bind; with --bind, the one each bind
// names by address, while other binds are bound as usual. The workers see
// neither the variables nor the sockets.
func TestSocketActivation(t *testing.T) {
	dir := writeListenApp(t)
	t.Run("no bind: every socket", func(t *testing.T) {
		f1, a1 := listenerFile(t)
		f2, a2 := listenerFile(t)
		p := startListenProc(t, gowsgiBin, dir, []string{"LISTEN_FDS=2", "LISTEN_FDNAMES=web:admin"}, []*os.File{f1, f2}, true, "lapp.py")
		p.waitLog("msg=listening", 2, 60*time.Second)
		c := client()
		for _, a := range []string{a1, a2} {
			if code, body := getText(t, c, "http://"+a+"/"); code != 200 || body != strconv.Itoa(p.cmd.Process.Pid) {
				t.Errorf("GET http://%s/: %d %q, want 200 and gowsgi's pid %d", a, code, body, p.cmd.Process.Pid)
			}
		}
		if _, body := getText(t, c, "http://"+a1+"/env"); body != "vars= listening=0" {
			t.Errorf("the worker sees %q, want no systemd variable and no listening socket", body)
		}
		out := p.output()
		for _, want := range []string{"from=systemd name=web addr=" + a1, "from=systemd name=admin addr=" + a2} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in the log", want)
			}
		}
	})
	t.Run("binds matched by address", func(t *testing.T) {
		f1, a1 := listenerFile(t)
		f2, a2 := listenerFile(t)
		own := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		p := startListenProc(t, gowsgiBin, dir, []string{"LISTEN_FDS=2"}, []*os.File{f1, f2}, true,
			"--bind", own, "--bind", a2, "lapp.py")
		p.waitLog("msg=listening", 2, 60*time.Second)
		c := client()
		for _, a := range []string{a2, own} {
			if code, body := getText(t, c, "http://"+a+"/"); code != 200 || body != strconv.Itoa(p.cmd.Process.Pid) {
				t.Errorf("GET http://%s/: %d %q", a, code, body)
			}
		}
		if !strings.Contains(p.output(), "inherited socket not named by any --bind; closing it") ||
			!strings.Contains(p.output(), "addr="+a1) {
			t.Errorf("no warning about the unused socket %s", a1)
		}
		// Closed in gowsgi and in the test: nothing listens there any more.
		f1.Close()
		if c, err := net.DialTimeout("tcp", a1, 5*time.Second); err == nil {
			c.Close()
			t.Errorf("the socket no bind names (%s) still accepts connections", a1)
		}
	})
}

// notifySocket is a unixgram socket standing in for systemd's
// NOTIFY_SOCKET; it keeps every datagram it receives.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	n := &notifySocket{path: filepath.Join(t.TempDir(), "notify.sock")}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, _, err := c.ReadFromUnix(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return n
}

func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

func (n *notifySocket) count(msg string) int {
	c := 0
	for _, m := range n.all() {
		if m == msg {
			c++
		}
	}
	return c
}

// wait waits until a message satisfies ok, n times.
func (n *notifySocket) wait(t *testing.T, what string, times int, ok func(string) bool) {
	t.Helper()
	count := func() int {
		c := 0
		for _, m := range n.all() {
			if ok(m) {
				c++
			}
		}
		return c
	}
	if !waitFor(60*time.Second, func() bool { return count() >= times }) {
		t.Fatalf("waited for %d× %s on the notify socket, saw %d in %q", times, what, count(), n.all())
	}
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano() / 1000
}

// TestSdNotify: with NOTIFY_SOCKET set, gowsgi tells systemd READY=1 once
// it serves, RELOADING=1 (with MONOTONIC_USEC) on SIGHUP and READY=1 once
// the new workers serve, STOPPING=1 on SIGTERM; with WATCHDOG_USEC, it
// sends WATCHDOG=1 every WatchdogSec/2, unless WATCHDOG_PID names another
// process. The workers do not see the variables.
func TestSdNotify(t *testing.T) {
	dir := writeListenApp(t)
	t.Run("ready reload stop watchdog", func(t *testing.T) {
		n := newNotifySocket(t)
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		before := monotonicUsec()
		p := startListenProc(t, gowsgiBin, dir, []string{"NOTIFY_SOCKET=" + n.path, "WATCHDOG_USEC=100000"}, nil, false,
			"--bind", addr, "lapp.py")
		is := func(want string) func(string) bool { return func(m string) bool { return m == want } }
		n.wait(t, "READY=1", 1, is("READY=1"))
		if code, body := getText(t, client(), "http://"+addr+"/env"); code != 200 || body != "vars= listening=0" {
			t.Errorf("the worker sees %d %q, want no notify variable", code, body)
		}
		n.wait(t, "WATCHDOG=1", 3, is("WATCHDOG=1"))

		p.cmd.Process.Signal(syscall.SIGHUP)
		var stamp int64
		n.wait(t, "RELOADING=1 with MONOTONIC_USEC", 1, func(m string) bool {
			v, ok := strings.CutPrefix(m, "RELOADING=1\nMONOTONIC_USEC=")
			if ok {
				stamp, _ = strconv.ParseInt(v, 10, 64)
			}
			return ok
		})
		if after := monotonicUsec(); stamp < before || stamp > after {
			t.Errorf("MONOTONIC_USEC=%d is not CLOCK_MONOTONIC between %d and %d", stamp, before, after)
		}
		n.wait(t, "READY=1 after the reload", 2, is("READY=1"))
		msgs := n.all()
		last := -1
		for i, m := range msgs {
			if m == "READY=1" {
				last = i
			}
		}
		if last < 0 || !strings.Contains(strings.Join(msgs[:last], "|"), "RELOADING=1") {
			t.Errorf("READY=1 does not follow RELOADING=1: %q", msgs)
		}
		p.waitLog("reload complete", 1, 60*time.Second)

		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.exitCode(30 * time.Second); code != 0 {
			t.Errorf("exit code %d after SIGTERM", code)
		}
		if n.count("STOPPING=1") != 1 {
			t.Errorf("want one STOPPING=1, got %q", n.all())
		}
	})
	t.Run("watchdog for another pid", func(t *testing.T) {
		n := newNotifySocket(t)
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		p := startListenProc(t, gowsgiBin, dir, []string{"NOTIFY_SOCKET=" + n.path, "WATCHDOG_USEC=50000", "WATCHDOG_PID=1"}, nil, false,
			"--bind", addr, "lapp.py")
		n.wait(t, "READY=1", 1, func(m string) bool { return m == "READY=1" })
		// The watchdog, when on, pings before the workers boot, so before READY=1.
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.exitCode(30 * time.Second); code != 0 {
			t.Errorf("exit code %d after SIGTERM", code)
		}
		n.wait(t, "STOPPING=1", 1, func(m string) bool { return m == "STOPPING=1" })
		if c := n.count("WATCHDOG=1"); c != 0 {
			t.Errorf("WATCHDOG_PID=1: gowsgi sent %d× WATCHDOG=1: %q", c, n.all())
		}
	})
}

// alive reports whether pid is a running process (not gone, not a zombie
// left for an init that reaps late).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestBinaryUpgrade: SIGUSR2 starts the binary (replaced on disk, as in a
// real upgrade) again on the same TCP and unix sockets; once the new
// process serves, the old one stops accepting, finishes the request it is
// running, and exits 0. Clients hammering it over keep-alive and fresh
// connections meanwhile all get 200, and the new process serves
// afterwards; the pid file names it.
func TestBinaryUpgrade(t *testing.T) {
	dir := writeListenApp(t)
	state := t.TempDir()
	bin := filepath.Join(t.TempDir(), "gowsgi")
	copyFile(t, gowsgiBin, bin)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	sock := filepath.Join(t.TempDir(), "app.sock")
	pidFile := filepath.Join(state, "gowsgi.pid")
	old := startListenProc(t, bin, dir, []string{"LT_STATE=" + state}, nil, false,
		"--threads", "4", "--bind", addr, "--bind", "unix:"+sock, "--pid", pidFile, "--graceful-timeout", "60", "lapp.py")
	old.waitLog("msg=listening", 2, 60*time.Second)
	oldPID := strconv.Itoa(old.cmd.Process.Pid)
	var newPID string
	t.Cleanup(func() {
		if pid, _ := strconv.Atoi(newPID); pid > 0 && alive(pid) {
			syscall.Kill(pid, syscall.SIGTERM)
			if !waitFor(30*time.Second, func() bool { return !alive(pid) }) {
				t.Errorf("the new process %d did not stop within 30s of SIGTERM", pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})

	held := make(chan string, 1)
	go func() {
		resp, err := client().Get("http://" + addr + "/hold")
		if err != nil {
			held <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		held <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	waitFile(t, filepath.Join(state, "hold.entered"))

	// Load: two keep-alive clients and two on fresh connections.
	type result struct {
		byPID map[string]int
		errs  []string
		n     int
	}
	stop := make(chan struct{})
	results := make([]*result, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range results {
		r := &result{byPID: map[string]int{}}
		results[i] = r
		tr := &http.Transport{DisableCompression: true, DisableKeepAlives: i%2 == 1}
		c := &http.Client{Timeout: 30 * time.Second, Transport: tr}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get("http://" + addr + "/")
				var b []byte
				if err == nil {
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						err = fmt.Errorf("reading body: %v", err)
					}
				}
				mu.Lock()
				switch {
				case err != nil:
					r.errs = append(r.errs, err.Error())
				case resp.StatusCode != 200:
					r.errs = append(r.errs, fmt.Sprintf("status %d: %s", resp.StatusCode, b))
				default:
					r.byPID[string(b)]++
					seen[string(b)] = true
				}
				r.n++
				mu.Unlock()
			}
		}()
	}
	sawPID := func(pid string) bool { mu.Lock(); defer mu.Unlock(); return seen[pid] }
	if !waitFor(30*time.Second, func() bool { return sawPID(oldPID) }) {
		t.Fatal("the load got no answer from the old process")
	}

	// The upgrade: a new binary in place, then USR2.
	copyFile(t, gowsgiBin, bin+".new")
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	old.cmd.Process.Signal(syscall.SIGUSR2)
	old.waitLog("binary upgrade: serving; the previous process drains", 1, 90*time.Second)
	if !waitFor(10*time.Second, func() bool {
		b, _ := os.ReadFile(pidFile)
		newPID = strings.TrimSpace(string(b))
		return newPID != "" && newPID != oldPID
	}) {
		t.Fatalf("the pid file still says %q", newPID)
	}
	if !waitFor(30*time.Second, func() bool { return sawPID(newPID) }) {
		t.Fatalf("the load got no answer from the new process %s", newPID)
	}
	old.waitLog("binary upgrade: the new process serves; draining", 1, 30*time.Second)
	if old.exited() {
		t.Fatalf("the old process exited with a request still running")
	}
	os.WriteFile(filepath.Join(state, "hold.release"), nil, 0o644)
	if got := <-held; got != "200 "+oldPID {
		t.Errorf("the request running in the old process during the upgrade got %q, want 200 from %s", got, oldPID)
	}
	if code := old.exitCode(60 * time.Second); code != 0 {
		t.Fatalf("the old process: exit code %d, want 0", code)
	}

	// After the old process is gone, every client goes on being served.
	base := make([]int, len(results))
	mu.Lock()
	for i, r := range results {
		base[i] = r.byPID[newPID]
	}
	mu.Unlock()
	waitFor(30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i, r := range results {
			if r.byPID[newPID]-base[i] < 5 {
				return false
			}
		}
		return true
	})
	close(stop)
	wg.Wait()
	total := 0
	for i, r := range results {
		total += r.n
		if len(r.errs) > 0 {
			t.Errorf("client %d (keep-alive %v): %d of %d requests failed: %q", i, i%2 == 0, len(r.errs), r.n, r.errs)
		}
		if r.byPID[newPID]-base[i] < 5 {
			t.Errorf("client %d: %d answers from the new process after the old one exited", i, r.byPID[newPID]-base[i])
		}
		for pid := range r.byPID {
			if pid != oldPID && pid != newPID {
				t.Errorf("client %d: answer from unknown pid %q", i, pid)
			}
		}
	}
	t.Logf("%d requests during the upgrade", total)

	// The unix socket file is still there, served by the new process.
	unixClient := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	if code, body := getText(t, unixClient, "http://unix/"); code != 200 || body != newPID {
		t.Errorf("unix socket after the upgrade: %d %q, want 200 from %s", code, body, newPID)
	}
	// The new process stops as any: it removes its pid file and socket.
	pid, _ := strconv.Atoi(newPID)
	syscall.Kill(pid, syscall.SIGTERM)
	if !waitFor(30*time.Second, func() bool { return !alive(pid) }) {
		t.Fatalf("the new process did not stop")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file after the new process stopped: %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("unix socket file after the new process stopped: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	if !waitFor(30*time.Second, func() bool { _, err := os.Stat(path); return err == nil }) {
		t.Fatalf("%s did not appear within 30s", path)
	}
}

// TestReusePortAndBacklog: --reuse-port sets SO_REUSEPORT, so another
// socket with it can bind the same port while gowsgi serves; --backlog is
// the listen queue's length (as the kernel's sock_diag reports it).
func TestReusePortAndBacklog(t *testing.T) {
	dir := writeListenApp(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := startListenProc(t, gowsgiBin, dir, nil, nil, false, "--bind", addr, "--reuse-port", "--backlog", "7", "lapp.py")
	p.waitLog("msg=listening", 1, 60*time.Second)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Errorf("binding %s with SO_REUSEPORT beside gowsgi --reuse-port: %v", addr, err)
	} else {
		l.Close()
	}
	if got := listenBacklogs(t, port); len(got) != 1 || got[0] != 7 {
		t.Errorf("listen backlog of %s: %v, want [7]", addr, got)
	}
}

// listenBacklogs asks the kernel (NETLINK_SOCK_DIAG) for the listening
// IPv4 TCP sockets on port and returns their backlogs (idiag_wqueue, as
// `ss -l` shows in Send-Q).
func listenBacklogs(t *testing.T, port int) []int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		t.Fatalf("netlink: %v", err)
	}
	defer unix.Close(fd)
	const reqLen = 16 + 56 // nlmsghdr + inet_diag_req_v2
	req := make([]byte, reqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], reqLen)
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1)
	req[16], req[17] = unix.AF_INET, unix.IPPROTO_TCP
	ne.PutUint32(req[20:], 1<<10) // states: TCP_LISTEN
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatalf("netlink send: %v", err)
	}
	var out []int
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("netlink receive: %v", err)
		}
		for b := buf[:n]; len(b) >= 16; {
			l := int(ne.Uint32(b[0:]))
			typ := ne.Uint16(b[4:])
			if l < 16 || l > len(b) {
				t.Fatalf("netlink: bad message length %d", l)
			}
			switch typ {
			case unix.NLMSG_DONE:
				return out
			case unix.NLMSG_ERROR:
				t.Fatalf("netlink: error reply")
			}
			msg := b[16:l] // inet_diag_msg
			if len(msg) >= 72 && int(binary.BigEndian.Uint16(msg[4:])) == port {
				out = append(out, int(ne.Uint32(msg[60:])))
			}
			if next := (l + 3) &^ 3; next < len(b) {
				b = b[next:]
			} else {
				break
			}
		}
	}
}

// TestBinaryUpgradeFails: when the new process does not start serving
// (the app no longer loads: it exits 3, after writing the pid file and
// removing it), the old process logs why, keeps serving, and the pid file
// names it again.
func TestBinaryUpgradeFails(t *testing.T) {
	dir := writeListenApp(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	pidFile := filepath.Join(t.TempDir(), "gowsgi.pid")
	p := startListenProc(t, gowsgiBin, dir, nil, nil, false, "--bind", addr, "--pid", pidFile, "lapp.py")
	p.waitLog("msg=listening", 1, 60*time.Second)
	pid := strconv.Itoa(p.cmd.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "lapp.py"), []byte("def app(:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGUSR2)
	p.waitLog("binary upgrade failed; still serving", 1, 60*time.Second)
	if !strings.Contains(p.output(), "exited before it was ready: exit status 3") || !strings.Contains(p.output(), "SyntaxError") {
		t.Errorf("the log does not say how the new process ended")
	}
	if code, body := getText(t, client(), "http://"+addr+"/"); code != 200 || body != pid {
		t.Errorf("after the failed upgrade: %d %q, want 200 from %s", code, body, pid)
	}
	if b, _ := os.ReadFile(pidFile); strings.TrimSpace(string(b)) != pid {
		t.Errorf("pid file says %q, want %s", b, pid)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exitCode(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
