package main

// --daemon (gunicorn's -D): the command starts a detached copy of itself
// and returns once that copy serves, or with its failure.
//
// The launcher re-executes the binary with the same arguments in a new
// session (setsid: no controlling terminal), stdin and stdout on /dev/null,
// stderr on a pipe the launcher copies to its own stderr, and a readiness
// pipe. So everything the server says while it starts (warnings, a
// traceback of an app that does not load, a port in use) reaches the
// terminal as without --daemon. Once it serves, the server writes "R" on
// the readiness pipe and moves its stderr to the --error-logfile file, or
// /dev/null; the launcher sees the end of the stderr pipe, reads "R" and
// exits 0. Without "R" the server has exited, and the launcher exits with
// its status. The workers and the hook host get the final stderr from the
// start, so none of them holds the pipe. SIGINT or SIGTERM to the launcher
// while the server starts is passed on to it.

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

// daemonOut is, in the detached server, the stderr it keeps once serving
// (and gives its workers and hook host from the start); nil otherwise.
var daemonOut *os.File

// daemonReadyFD is the detached server's readiness pipe; -1 otherwise.
var daemonReadyFD = -1

// detach handles --daemon: in the launcher it starts the detached server
// and returns its outcome (done); in the detached server it prepares the
// final stderr and returns done = false, as it does without --daemon.
func detach(cfg *config.Config, args []string) (code int, done bool) {
	if !cfg.Daemon || cfg.CheckConfig {
		return 0, false
	}
	if os.Getenv("GOWSGI_UPGRADE") != "" {
		// Started by a detached gowsgi's SIGUSR2 upgrade (internal/listen):
		// detached already, with its stdio.
		return 0, false
	}
	if v := os.Getenv(daemonEnv); v != "" {
		os.Unsetenv(daemonEnv) // not for the workers
		fd, err := strconv.Atoi(v)
		if err != nil {
			return fail(1, "--daemon: bad %s=%q", daemonEnv, v), true
		}
		daemonReadyFD = fd
		syscall.CloseOnExec(fd)
		syscall.Umask(0o22) // as gunicorn's daemonize
		// A launcher killed before it serves must not take it down with
		// SIGPIPE on its next log line; writes just fail until stderr moves.
		signal.Ignore(syscall.SIGPIPE)
		out, err := daemonStderr(cfg)
		if err != nil {
			return fail(1, "--daemon: %v", err), true
		}
		daemonOut = out
		return 0, false
	}
	return launch(cfg, args), true
}

// daemonStderr is the stderr a detached server keeps: the error log file,
// or /dev/null.
func daemonStderr(cfg *config.Config) (*os.File, error) {
	if cfg.ErrorLog.To == config.OutputFile {
		return os.OpenFile(cfg.ErrorLog.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	}
	return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
}

// launch starts the detached server and waits until it serves or exits.
func launch(cfg *config.Config, args []string) int {
	exe, err := os.Executable()
	if err != nil {
		return fail(1, "--daemon: %v", err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fail(1, "--daemon: %v", err)
	}
	defer null.Close()
	relayR, relayW, err := os.Pipe()
	if err != nil {
		return fail(1, "--daemon: %v", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fail(1, "--daemon: %v", err)
	}
	// fd://N binds are inherited at their own numbers; the readiness pipe
	// goes after them.
	var extra []*os.File
	for _, b := range cfg.Binds {
		if b.Network != "fd" {
			continue
		}
		n, _ := strconv.Atoi(b.Addr)
		for len(extra) <= n-3 {
			extra = append(extra, nil)
		}
		if n >= 3 {
			extra[n-3] = os.NewFile(uintptr(n), b.Spec)
		}
	}
	readyFD := 3 + len(extra)
	extra = append(extra, readyW)
	for i, f := range extra {
		if f == nil {
			extra[i] = null // a hole: /dev/null keeps the numbering
		}
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"="+strconv.Itoa(readyFD))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, relayW
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fail(1, "--daemon: starting %s: %v", exe, err)
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
	var b [1]byte
	if n, _ := readyR.Read(b[:]); n == 1 && b[0] == 'R' {
		fmt.Fprintf(os.Stderr, "gowsgi: serving in the background (pid %d)\n", cmd.Process.Pid)
		cmd.Process.Release()
		return 0
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code > 0 {
		return code
	}
	return 1
}

// daemonServing tells the launcher the detached server serves, and moves
// stderr to its final place.
func daemonServing() {
	if daemonReadyFD < 0 {
		return
	}
	ready := os.NewFile(uintptr(daemonReadyFD), "gowsgi-ready")
	ready.Write([]byte{'R'})
	ready.Close()
	daemonReadyFD = -1
	unix.Dup2(int(daemonOut.Fd()), 2)
}
