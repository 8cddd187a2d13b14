package listen

// --daemon (gunicorn's -D): the command starts a detached copy of itself
// and returns once that copy serves, or with its failure.
//
// The launcher re-executes the binary with the same arguments in a new
// session (setsid: no controlling terminal), stdin and stdout on /dev/null,
// stderr on a pipe the launcher copies to its own stderr, and a readiness
// pipe (readiness.go, as a binary upgrade's). So everything the server
// says while it starts (warnings, a traceback of an app that does not
// load, a port in use) reaches the terminal as without --daemon. Once it
// serves, the server writes on the readiness pipe and moves its stderr to
// the --error-logfile file, or /dev/null; the launcher sees the end of the
// stderr pipe, reads the readiness byte and exits 0. Without it the server
// has exited, and the launcher exits with its status. The workers and the
// hook host get the final stderr from the start, so none of them holds the
// pipe. SIGINT or SIGTERM to the launcher while the server starts is passed
// on to it.

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/config"
)

// daemonEnv, in the detached server's environment, is its readiness
// pipe's descriptor.
const daemonEnv = "GOWSGI_DAEMON_READY_FD"

// Daemon is the detached server's side of --daemon. A nil *Daemon (no
// --daemon, or a process started by a binary upgrade) does nothing.
type Daemon struct {
	out   *os.File // the stderr kept once serving
	ready *os.File // the readiness pipe; nil once used
}

// Launched is Detach's answer in the launcher: the command is done, and
// Code is its exit status. Err, when set, is why it could not launch (a
// one-line message; Code is then 1).
type Launched struct {
	Code int
	Err  error
}

// Detach handles --daemon. In the launcher it starts the detached server,
// waits until it serves or exits, and returns its outcome as a *Launched.
// In the detached server it takes the readiness pipe from the environment
// and prepares the final stderr, and returns the *Daemon; without --daemon
// (or with --check-config, or after a binary upgrade, which is detached
// already) it returns nil, nil.
func Detach(cfg *config.Config, args []string) (*Daemon, *Launched) {
	if !cfg.Daemon || cfg.CheckConfig || os.Getenv(upgradeEnv) != "" {
		return nil, nil
	}
	v := os.Getenv(daemonEnv)
	if v == "" {
		code, err := launch(cfg, args)
		return nil, &Launched{Code: code, Err: err}
	}
	os.Unsetenv(daemonEnv) // not for the workers
	fd, err := strconv.Atoi(v)
	if err != nil {
		return nil, &Launched{Code: 1, Err: fmt.Errorf("--daemon: bad %s=%q", daemonEnv, v)}
	}
	syscall.CloseOnExec(fd)
	syscall.Umask(0o22) // as gunicorn's daemonize
	// A launcher killed before it serves must not take it down with
	// SIGPIPE on its next log line; writes just fail until stderr moves.
	signal.Ignore(syscall.SIGPIPE)
	out, err := daemonStderr(cfg)
	if err != nil {
		return nil, &Launched{Code: 1, Err: fmt.Errorf("--daemon: %v", err)}
	}
	return &Daemon{out: out, ready: os.NewFile(uintptr(fd), "gowsgi-ready")}, nil
}

// Stderr is the stderr the detached server keeps once serving, for its
// workers and hook host from the start; nil without --daemon.
func (d *Daemon) Stderr() *os.File {
	if d == nil {
		return nil
	}
	return d.out
}

// Serving tells the launcher the detached server serves, and moves stderr
// to its final place. Only the first call does anything.
func (d *Daemon) Serving() {
	if d == nil || d.ready == nil {
		return
	}
	tellReady(d.ready)
	d.ready = nil
	unix.Dup2(int(d.out.Fd()), 2) // not dup3: macOS has none
}

// daemonStderr is the stderr a detached server keeps: the error log file,
// or /dev/null.
func daemonStderr(cfg *config.Config) (*os.File, error) {
	if cfg.ErrorLog.To == config.OutputFile {
		return os.OpenFile(cfg.ErrorLog.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	}
	return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
}

// launch starts the detached server and waits until it serves (0) or
// exits (its status).
func launch(cfg *config.Config, args []string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 1, fmt.Errorf("--daemon: %v", err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 1, fmt.Errorf("--daemon: %v", err)
	}
	defer null.Close()
	relayR, relayW, err := os.Pipe()
	if err != nil {
		return 1, fmt.Errorf("--daemon: %v", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 1, fmt.Errorf("--daemon: %v", err)
	}
	extra, readyFD := passedFiles(cfg.Binds, readyW, null)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"="+strconv.Itoa(readyFD))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, relayW
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("--daemon: starting %s: %v", exe, err)
	}
	relayW.Close()
	readyW.Close()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s) // stop starting
		}
	}()
	io.Copy(os.Stderr, relayR) // until it serves (its stderr moves) or exits
	if waitReady(readyR) {
		fmt.Fprintf(os.Stderr, "gowsgi: serving in the background (pid %d)\n", cmd.Process.Pid)
		cmd.Process.Release()
		return 0, nil
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code > 0 {
		return code, nil
	}
	return 1, nil
}

// passedFiles are the descriptors the detached server inherits: fd://N
// binds at their own numbers, then the readiness pipe ready (at readyFD);
// holes are filled with null so the numbering holds.
func passedFiles(binds []config.Bind, ready, null *os.File) (files []*os.File, readyFD int) {
	for _, fd := range fdSlots(binds) {
		if fd < 0 {
			files = append(files, null)
		} else {
			files = append(files, os.NewFile(uintptr(fd), "fd://"+strconv.Itoa(fd)))
		}
	}
	return append(files, ready), firstFD + len(files)
}

// fdSlots lays out the fd://N binds from descriptor firstFD on: slot i is
// descriptor firstFD+i, holding that bind's descriptor, or -1 for a hole.
func fdSlots(binds []config.Bind) []int {
	var slots []int
	for _, b := range binds {
		n, _ := strconv.Atoi(b.Addr)
		if b.Network != "fd" || n < firstFD {
			continue
		}
		for len(slots) <= n-firstFD {
			slots = append(slots, -1)
		}
		slots[n-firstFD] = n
	}
	return slots
}
