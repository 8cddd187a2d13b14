package listen

// A zero-downtime binary upgrade, gunicorn's USR2: the running gowsgi
// starts its binary again (the path it was started as, so a file replaced
// on disk or a repointed link is the new version) with the same arguments
// and environment, and hands it its
// listening sockets. The new process boots its workers, serves on the same
// sockets, and says so over a pipe; only then does the old one stop
// accepting, finish its requests and exit. Both accept from the same
// kernel sockets in between, so no connection is refused or lost.
//
// This is cloudflare/tableflip's mechanism (descriptors passed as
// ExtraFiles, described in an environment variable, and a readiness pipe),
// written out here rather than imported because gowsgi's sockets do not fit
// tableflip's model: tableflip creates and names sockets itself by
// network and address, while gowsgi must also carry systemd's sockets (which
// it never unlinks), fd://N binds and unix sockets whose file the new process
// takes over, matched to the new process's --bind entries by name; and
// tableflip's own PID file and exit handling would duplicate main's. Its
// readiness pipe is --daemon's too (readiness.go).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// upgradeEnv describes the descriptors an upgrading gowsgi passes: sockets
// from firstFD on, then the readiness pipe.
const upgradeEnv = "GOWSGI_UPGRADE"

type upgradeInfo struct {
	// Parent is the upgrading process's pid: the variable is only honoured
	// by its direct child.
	Parent  int             `json:"parent"`
	Sockets []upgradeSocket `json:"sockets"`
}

type upgradeSocket struct {
	Name string `json:"name"`
	Path string `json:"path,omitempty"` // unix socket file the new process owns
}

// inheritUpgrade takes the sockets an upgrading gowsgi passed (v is
// GOWSGI_UPGRADE).
func inheritUpgrade(v string) (*Inherited, error) {
	var info upgradeInfo
	if err := json.Unmarshal([]byte(v), &info); err != nil {
		return nil, fmt.Errorf("%s: %v", upgradeEnv, err)
	}
	if info.Parent != os.Getppid() {
		// Not started by the process that set it (a worker's child, say):
		// the descriptors are not ours to take.
		return nil, nil
	}
	in := &Inherited{From: Upgrade, parent: info.Parent}
	for i, s := range info.Sockets {
		fd := firstFD + i
		l, err := fileListener(fd, s.Name)
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("binary upgrade: descriptor %d (%s): %v", fd, s.Name, err)
		}
		in.socks = append(in.socks, &inheritedSock{l: l, fd: fd, name: s.Name, path: s.Path})
	}
	readyFD := firstFD + len(info.Sockets)
	unix.CloseOnExec(readyFD)
	in.ready = os.NewFile(uintptr(readyFD), "upgrade-ready")
	return in, nil
}

// Parent returns the pid of the gowsgi process this one was upgraded from,
// or 0.
func (in *Inherited) Parent() int {
	if in == nil {
		return 0
	}
	return in.parent
}

// Ready tells the process this one was upgraded from that it is serving,
// so that it drains and exits. It does nothing when this process was not
// started by an upgrade, or the second time.
func (in *Inherited) Ready() error {
	if in == nil || in.ready == nil {
		return nil
	}
	err := tellReady(in.ready)
	in.ready = nil
	return err
}

// StartUpgrade starts the new process on socks with env (the variables it
// gets besides GOWSGI_UPGRADE) and gowsgi's own arguments, and returns at
// once; the returned channel then gives nil once the new process is serving
// (the caller drains and exits), or why it is not (it exited first, and the
// caller keeps serving).
func StartUpgrade(socks []*Socket, env []string) (pid int, done <-chan error, err error) {
	exe, err := executable()
	if err != nil {
		return 0, nil, fmt.Errorf("cannot find gowsgi's binary: %v", err)
	}
	info := upgradeInfo{Parent: os.Getpid()}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, s := range socks {
		f, err := dupFile(s.Listener, s.Name)
		if err != nil {
			return 0, nil, fmt.Errorf("cannot pass %s on: %v", s.Name, err)
		}
		files = append(files, f)
		info.Sockets = append(info.Sockets, upgradeSocket{Name: s.Name, Path: s.path})
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	files = append(files, w)
	js, _ := json.Marshal(info)
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(env, upgradeEnv+"="+string(js))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = files
	if err := cmd.Start(); err != nil {
		r.Close()
		return 0, nil, fmt.Errorf("cannot start %s: %v", exe, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan bool, 1)
	go func() { ready <- waitReady(r) }()
	out := make(chan error, 1)
	go func() {
		if <-ready {
			out <- nil
			return
		}
		err := <-exited
		if err == nil {
			err = errors.New("exit status 0")
		}
		out <- fmt.Errorf("the new process (pid %d) exited before it was ready: %v", cmd.Process.Pid, err)
	}()
	return cmd.Process.Pid, out, nil
}

// executable is the binary to start: the path gowsgi was started as
// (os.Args[0], looked up in PATH when it has no slash, as the shell did),
// so that an upgrade that repoints a symbolic link such as
// /usr/local/bin/gowsgi starts the new version; else os.Executable (which
// resolves links, and names the replaced file's path when the binary was
// replaced in place).
func executable() (string, error) {
	if a := os.Args[0]; a != "" {
		if p, err := exec.LookPath(a); err == nil {
			return p, nil
		}
	}
	return os.Executable()
}

// dupFile returns a close-on-exec duplicate of l's descriptor for
// ExtraFiles. Not l.File(): os/exec calls Fd on it, which would switch the
// socket, shared with l, to blocking mode and tie up a thread in l's Accept.
func dupFile(l any, name string) (*os.File, error) {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(nfd), name), nil
}
