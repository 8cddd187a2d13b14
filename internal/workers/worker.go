package workers

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/pyshim"
	"github.com/gowsgi/gowsgi/internal/wire"
)

// Worker is one Python worker process and its slots.
type Worker struct {
	ID  int // stable, small, for logs: "worker 3"
	PID int

	proc    *os.Process // gowsgi's child, or with --preload the template's
	control *net.UnixConn
	slots   []*Slot

	exited     chan struct{} // closed once the process has been reaped
	exitStatus string        // how it ended, set before exited is closed
	retiring   atomic.Bool   // takes no new requests; exits once idle
	recycling  atomic.Bool   // a replacement is on its way
	stopped    atomic.Bool   // exit was asked for: not a crash
	timedOut   atomic.Bool   // killed because a request ran past --timeout
	killing    atomic.Bool   // being killed after a protocol error

	files []string // the app's own source files, as the worker reported them

	busy        atomic.Int32 // slots serving a request now
	served      atomic.Int64 // requests finished
	maxRequests int64        // recycle after this many; 0 = never
}

// String names the worker for logs.
func (w *Worker) String() string {
	if w.ID == templateID {
		return fmt.Sprintf("preload template (pid %d)", w.PID)
	}
	return fmt.Sprintf("worker %d (pid %d)", w.ID, w.PID)
}

// Exited is closed when the process has ended.
func (w *Worker) Exited() <-chan struct{} { return w.exited }

// ExitStatus describes how the process ended ("exit status 1", "signal:
// killed"); empty while it runs.
func (w *Worker) ExitStatus() string {
	select {
	case <-w.exited:
		return w.exitStatus
	default:
		return ""
	}
}

func (w *Worker) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// BootError is a worker that could not load the application; Detail is the
// Python traceback or a one-line reason.
type BootError struct{ Detail string }

func (e *BootError) Error() string { return strings.TrimRight(e.Detail, "\n") }

// spawn starts a worker process and waits until it has loaded the app. With
// --preload the worker is forked from the template process (template.go).
func (p *Pool) spawn(id int) (*Worker, error) {
	if p.opts.Preload {
		return p.forkWorker(id)
	}
	return p.spawnExec(id, "", p.opts.Threads)
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// socketpairs makes n connected pairs: gowsgi's ends and the child's.
const slotSocketBuffer = 1 << 20

func socketpairs(n int) (parent, child []*os.File, err error) {
	for i := 0; i < n; i++ {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			closeAll(parent)
			closeAll(child)
			return nil, nil, fmt.Errorf("socketpair: %w", err)
		}
		// Room for a large response in flight, so a worker streaming a big
		// body is not woken for every few hundred KiB (the kernel caps it
		// at net.core.wmem_max).
		for _, fd := range fds {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, slotSocketBuffer)
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, slotSocketBuffer)
		}
		parent = append(parent, os.NewFile(uintptr(fds[0]), "gowsgi-slot"))
		child = append(child, os.NewFile(uintptr(fds[1]), "gowsgi-slot-child"))
	}
	return parent, child, nil
}

// attach turns gowsgi's ends of a worker's socketpairs into its control
// connection and slots.
func (w *Worker) attach(parent []*os.File) error {
	conns := make([]*net.UnixConn, 0, len(parent))
	var err error
	for _, f := range parent {
		if err == nil {
			var c net.Conn
			if c, err = net.FileConn(f); err == nil {
				conns = append(conns, c.(*net.UnixConn))
			}
		}
		f.Close()
	}
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return err
	}
	w.control = conns[0]
	for _, c := range conns[1:] {
		w.slots = append(w.slots, newSlot(w, c))
	}
	return nil
}

// spawnExec starts an interpreter running the shim in mode ("" for a worker,
// "template" for the --preload template) with nslots slot sockets, and waits
// until it has loaded the app.
func (p *Pool) spawnExec(id int, mode string, nslots int) (*Worker, error) {
	o := p.opts
	srcR, srcW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	parent, child, err := socketpairs(nslots + 1)
	if err != nil {
		srcR.Close()
		srcW.Close()
		return nil, err
	}
	child = append([]*os.File{srcR}, child...)

	cfg := pyshim.Config{Target: o.Target, Chdir: o.Chdir, PythonPath: o.PythonPath, Threads: o.Threads, Workers: o.Workers, Mode: mode}
	cmd := exec.Command(o.Python, cfg.Args()...)
	cmd.ExtraFiles = child
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = o.Env
	// Its own process group: a terminal's Ctrl-C reaches gowsgi, which then
	// shuts workers down in order instead of every process at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		closeAll(parent)
		closeAll(child)
		srcW.Close()
		return nil, fmt.Errorf("starting %s: %w", o.Python, err)
	}
	closeAll(child)
	go func() {
		srcW.Write(pyshim.WorkerSource)
		srcW.Close()
	}()

	w := &Worker{ID: id, PID: cmd.Process.Pid, proc: cmd.Process, exited: make(chan struct{})}
	if err := w.attach(parent); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	go func() {
		err := cmd.Wait()
		if err == nil {
			w.exitStatus = "exit status 0"
		} else {
			w.exitStatus = err.Error()
		}
		close(w.exited)
		w.closeConns()
	}()

	if err := w.awaitReady(o.BootTimeout); err != nil {
		w.kill()
		<-w.exited
		return nil, err
	}
	return w, nil
}

// awaitReady reads the first control frame: Ready, or BootFailed with the
// reason the app could not be loaded.
func (w *Worker) awaitReady(timeout time.Duration) error {
	w.control.SetReadDeadline(time.Now().Add(timeout))
	defer w.control.SetReadDeadline(time.Time{})
	var hb [wire.HeaderSize]byte
	if _, err := io.ReadFull(w.control, hb[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("%s did not load the application within %s", w, timeout)
		}
		// The process died before saying anything; its stderr has the story.
		select {
		case <-w.exited:
		case <-time.After(2 * time.Second):
		}
		return &BootError{Detail: fmt.Sprintf("%s exited during boot (%s) before loading the application", w, w.ExitStatus())}
	}
	h, err := wire.ParseHeader(hb[:])
	if err != nil {
		return err
	}
	payload := make([]byte, h.Len)
	if _, err := io.ReadFull(w.control, payload); err != nil {
		return fmt.Errorf("%s: reading control frame: %w", w, err)
	}
	switch h.Type {
	case wire.Ready:
		info, err := wire.DecodeDict(payload)
		if err != nil {
			return fmt.Errorf("%s: bad ready frame: %w", w, err)
		}
		if files, ok := info["files"].(string); ok && files != "" {
			w.files = strings.Split(files, "\n")
		}
		return nil
	case wire.BootFailed:
		return &BootError{Detail: string(payload)}
	}
	return fmt.Errorf("%s: unexpected control frame %s", w, h.Type)
}

// stop asks the worker to exit: closing the control socket is the signal.
// The caller has made sure no request is in flight on its slots.
func (w *Worker) stop() {
	w.stopped.Store(true)
	w.control.Close()
}

// kill ends the worker at once.
func (w *Worker) kill() {
	w.stopped.Store(true)
	w.signal(syscall.SIGKILL)
}

// signal sends sig to the process, whether it is gowsgi's child or, with
// --preload, the template's. os.Process holds a pidfd on Linux, so a
// process that has already been reaped is never confused with a new one
// that got its pid.
func (w *Worker) signal(sig syscall.Signal) {
	if w.proc != nil {
		w.proc.Signal(sig)
	}
}

func (w *Worker) closeConns() {
	w.control.Close()
	for _, s := range w.slots {
		s.conn.Close()
	}
}

// residentBytes reads a process's resident set size from /proc.
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("unexpected /proc/%d/statm: %q", pid, b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}
