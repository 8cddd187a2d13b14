package workers

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// process is one operating-system process gowsgi supervises: a worker
// started with exec, a worker forked by a --preload template, or a template
// itself. The supervisor treats them alike; only how they are started and
// reaped differs.
type process interface {
	// Pid is the process id.
	Pid() int
	// Signal sends sig. It never reaches a different process that reused
	// the pid after this one was reaped.
	Signal(sig syscall.Signal)
	// Exited is closed once the process has ended and been reaped.
	Exited() <-chan struct{}
	// ExitStatus says how it ended ("exit status 1", "signal: killed");
	// valid once Exited is closed.
	ExitStatus() string
}

// execProcess is a child started with os/exec; cmd.Wait reaps it.
type execProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	status string
}

func startExec(cmd *exec.Cmd) (*execProcess, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &execProcess{cmd: cmd, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		if err == nil {
			p.status = "exit status 0"
		} else {
			p.status = err.Error()
		}
		close(p.exited)
	}()
	return p, nil
}

func (p *execProcess) Pid() int                  { return p.cmd.Process.Pid }
func (p *execProcess) Signal(sig syscall.Signal) { p.cmd.Process.Signal(sig) }
func (p *execProcess) Exited() <-chan struct{}   { return p.exited }
func (p *execProcess) ExitStatus() string        { return p.status }

// forkedProcess is a worker forked by a --preload template. It is the
// template's child: the template reaps it and reports its wait status, or,
// when the template died first, a pidfd tells when it has gone.
type forkedProcess struct {
	pid    int
	handle *os.Process // holds a pidfd: signals never reach a reused pid
	exited chan struct{}
	once   sync.Once
	status string
}

func newForkedProcess(pid int) *forkedProcess {
	h, _ := os.FindProcess(pid)
	return &forkedProcess{pid: pid, handle: h, exited: make(chan struct{})}
}

func (p *forkedProcess) Pid() int { return p.pid }
func (p *forkedProcess) Signal(sig syscall.Signal) {
	if p.handle != nil {
		p.handle.Signal(sig)
	}
}
func (p *forkedProcess) Exited() <-chan struct{} { return p.exited }
func (p *forkedProcess) ExitStatus() string      { return p.status }

// ended records the end of the process, once.
func (p *forkedProcess) ended(status string) {
	p.once.Do(func() {
		p.status = status
		close(p.exited)
		if p.handle != nil {
			p.handle.Release()
		}
	})
}

// watchOrphan waits for a forked worker whose template died to end. Nobody
// reports its exit any more; its pidfd becomes readable once it has exited
// (without pidfds, kill(pid, 0) is polled).
func (p *forkedProcess) watchOrphan() {
	const why = "exit status unknown (its preload template had died)"
	if awaitExitPidfd(p.pid) {
		p.ended(why)
		return
	}
	for unix.Kill(p.pid, 0) != unix.ESRCH {
		time.Sleep(200 * time.Millisecond) // no pidfd on this kernel: poll
	}
	p.ended(why)
}
