package workers

// --preload: one Python process, the template, imports the application and
// forks the workers, which share its memory copy-on-write.
//
// gowsgi makes a worker's socketpairs as for an exec'd worker and sends the
// child ends to the template in a Fork frame; the template forks, the child
// puts them where an exec'd worker has them and says Ready on its own
// control socket, and the template answers Forked with the child's pid. A
// forked worker is the template's child, so the template reaps it and
// reports Exited with its wait status; that is when the worker's exited
// channel closes. The rest of the pool handles both kinds of worker alike:
// both are a process (process.go).
//
// Reload boots a new template (fresh code) and forks the new generation from
// it; the old template is stopped once its last worker has gone. A template
// that dies unexpectedly is replaced when the next worker is needed; its
// workers keep serving, watched through a pidfd since nobody reports their
// exit any more. The supervisor decides when workers are forked; the
// preloader only makes sure one template boots at a time.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/wire"
)

// templateID is the Worker.ID of a template process; workers count from 1.
const templateID = 0

// maxForkFDs is SCM_MAX_FD, the most descriptors one message carries: a
// control socket and up to 252 slots.
const maxForkFDs = 253

// forkTimeout bounds the wait for a Forked answer; the template answers at
// once unless it is stuck.
const forkTimeout = 30 * time.Second

// errTemplateRetired: the template asked no longer forks; ask the current one.
var errTemplateRetired = errors.New("preload template retired")

// preloader is a pool's set of templates. The zero value is ready.
type preloader struct {
	wg      sync.WaitGroup // template goroutines
	mu      sync.Mutex
	cur     *template     // the one workers are forked from; nil: boot one
	booting *templateBoot // a boot under way, shared by concurrent callers
	gen     int           // bumped by each reload; a boot begun earlier is stale
}

type templateBoot struct {
	done chan struct{}
	t    *template
	err  error
}

// template is one template process.
type template struct {
	p    *Pool
	proc *Worker // the process itself: a worker with no slots

	forkMu sync.Mutex // one fork request in flight

	mu       sync.Mutex
	pending  *Worker         // waiting for its Forked frame
	reply    chan error      // the outcome of the pending fork
	children map[int]*Worker // forked, not yet reported exited
	retired  bool            // forks no more; stopped once childless
	gone     bool            // its control stream has ended
}

// currentTemplate returns the template to fork from, booting one when there
// is none (first use, or the last one died).
func (p *Pool) currentTemplate() (*template, error) {
	pl := &p.preload
	pl.mu.Lock()
	if t := pl.cur; t != nil && t.usable() {
		pl.mu.Unlock()
		return t, nil
	}
	if b := pl.booting; b != nil {
		pl.mu.Unlock()
		<-b.done
		return b.t, b.err
	}
	b := &templateBoot{done: make(chan struct{})}
	pl.booting = b
	gen := pl.gen
	pl.mu.Unlock()

	b.t, b.err = p.bootTemplate(context.Background())
	pl.mu.Lock()
	pl.booting = nil
	stale := b.err == nil && gen != pl.gen
	if b.err == nil && !stale {
		pl.setCurrent(b.t)
	}
	pl.mu.Unlock()
	if stale {
		// A reload booted newer code meanwhile; fork from that.
		b.t.retire()
		b.t, b.err = nil, errTemplateRetired
	}
	close(b.done)
	return b.t, b.err
}

// wait waits for every template to have ended (after Stop).
func (pl *preloader) wait() { pl.wg.Wait() }

// retireAll stops forking; each template exits once its workers are gone.
func (pl *preloader) retireAll() {
	pl.mu.Lock()
	t := pl.cur
	pl.cur = nil
	pl.mu.Unlock()
	if t != nil {
		t.retire()
	}
}

// renewTemplate boots a template with freshly imported code for a reload and
// makes it current; the old one retires once its workers are gone. If the
// new code does not load, the old template stays. Without --preload it does
// nothing.
func (p *Pool) renewTemplate() error {
	if !p.opts.Preload {
		return nil
	}
	t, err := p.bootTemplate(context.Background())
	if err != nil {
		return err
	}
	pl := &p.preload
	pl.mu.Lock()
	pl.gen++
	pl.setCurrent(t)
	pl.mu.Unlock()
	return nil
}

// setCurrent makes t the template to fork from; pl.mu is held.
func (pl *preloader) setCurrent(t *template) {
	old := pl.cur
	pl.cur = t
	if old != nil && old != t {
		old.retire()
	}
}

// bootTemplate starts a template process and waits until it has loaded the
// app; a *BootError carries the traceback as for a worker.
func (p *Pool) bootTemplate(ctx context.Context) (*template, error) {
	if p.opts.Threads+1 > maxForkFDs {
		return nil, fmt.Errorf("--preload allows at most %d threads per worker", maxForkFDs-1)
	}
	tw, err := p.spawnExec(ctx, templateID, "template", 0)
	if err != nil {
		return nil, err
	}
	t := &template{p: p, proc: tw, children: map[int]*Worker{}}
	p.log.Info("preload template ready", "pid", tw.PID)
	p.preload.wg.Add(1)
	go t.run()
	if p.isStopping() {
		t.retire()
	}
	return t, nil
}

// forkWorker is spawn with --preload.
func (p *Pool) forkWorker(ctx context.Context, id int) (*Worker, error) {
	parent, child, err := socketpairs(p.opts.Threads + 1)
	if err != nil {
		return nil, err
	}
	w := &Worker{ID: id, pool: p}
	if err := w.attach(parent); err != nil {
		closeAll(child)
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		var t *template
		t, err = p.currentTemplate()
		if err == nil {
			err = t.fork(w, child)
		}
		if !errors.Is(err, errTemplateRetired) || attempt == 3 {
			break
		}
	}
	// Only the child holds its ends now: its exit closes the sockets.
	closeAll(child)
	if err != nil {
		w.closeConns()
		return nil, err
	}
	go w.closeWhenExited()
	if err := w.awaitReady(ctx, p.opts.BootTimeout); err != nil {
		w.kill()
		<-w.Exited()
		return nil, err
	}
	return w, nil
}

func (t *template) usable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.retired && !t.gone
}

// fork asks the template for a child that gets fds (control socket first,
// then the slots) and records it as w.
func (t *template) fork(w *Worker, fds []*os.File) error {
	t.forkMu.Lock()
	defer t.forkMu.Unlock()
	reply := make(chan error, 1)
	t.mu.Lock()
	if t.retired || t.gone {
		t.mu.Unlock()
		return errTemplateRetired
	}
	t.pending, t.reply = w, reply
	t.mu.Unlock()

	raw := make([]int, len(fds))
	for i, f := range fds {
		raw[i] = int(f.Fd())
	}
	payload, _ := json.Marshal(map[string]int{"fds": len(fds), "age": w.ID})
	frame := append(wire.AppendHeader(nil, wire.Fork, uint32(w.ID), len(payload)), payload...)
	c := t.proc.control
	c.SetWriteDeadline(time.Now().Add(forkTimeout))
	n, _, err := c.WriteMsgUnix(frame, unix.UnixRights(raw...), nil)
	c.SetWriteDeadline(time.Time{})
	if err == nil && n < len(frame) {
		err = io.ErrShortWrite
	}
	if err != nil {
		t.mu.Lock()
		t.pending, t.reply = nil, nil
		t.mu.Unlock()
		t.proc.kill() // out of step, or already gone
		return fmt.Errorf("sending a fork request to the %s: %w", t.proc, err)
	}
	select {
	case err := <-reply:
		return err
	case <-time.After(forkTimeout):
		t.proc.kill() // run fails the pending fork, and a new template is booted
		return fmt.Errorf("the %s did not answer a fork request within %s; restarting it", t.proc, forkTimeout)
	}
}

// retire stops forking from t; it is stopped once its last worker is gone.
func (t *template) retire() {
	t.mu.Lock()
	t.retired = true
	stop := t.idleLocked()
	t.mu.Unlock()
	if stop {
		t.proc.stop()
	}
}

// idleLocked reports whether a retired template can be stopped now.
func (t *template) idleLocked() bool {
	return t.retired && !t.gone && len(t.children) == 0 && t.pending == nil
}

// run reads the template's control frames until its stream ends, then
// deals with its end: expected (retired, childless) or a death, after which
// its workers are watched by pidfd and a new template is booted.
func (t *template) run() {
	p := t.p
	defer p.preload.wg.Done()
	ended := make(chan struct{})
	go func() {
		select {
		case <-p.stopping:
			t.retire()
		case <-ended:
		}
	}()
	err := t.read()
	close(ended)

	t.mu.Lock()
	expected := t.retired && len(t.children) == 0 && t.pending == nil
	t.gone = true
	orphans := t.children
	t.children = nil
	reply := t.reply
	t.pending, t.reply = nil, nil
	t.mu.Unlock()
	if reply != nil {
		reply <- fmt.Errorf("the %s ended during a fork request", t.proc)
	}
	if !expected {
		t.proc.kill() // dead already, or out of step
	}
	select {
	case <-t.proc.Exited():
	case <-time.After(10 * time.Second):
		p.log.Warn("preload template did not exit; killing it", "pid", t.proc.PID)
		t.proc.kill()
		<-t.proc.Exited()
	}
	for _, w := range orphans {
		go w.proc.(*forkedProcess).watchOrphan()
	}
	if expected {
		p.log.Info("preload template stopped", "pid", t.proc.PID)
		return
	}
	pl := &p.preload
	pl.mu.Lock()
	current := pl.cur == t
	if current {
		pl.cur = nil
	}
	pl.mu.Unlock()
	if !current || p.isStopping() {
		p.log.Warn("old preload template died", "pid", t.proc.PID, "status", t.proc.ExitStatus(), "workers", len(orphans))
		return
	}
	p.log.Error("preload template died; a new one boots when a worker is next needed, its workers keep serving",
		"pid", t.proc.PID, "status", t.proc.ExitStatus(), "err", err, "workers", len(orphans))
}

// read handles Forked and Exited frames until the stream ends or breaks.
func (t *template) read() error {
	c := t.proc.control
	var hb [wire.HeaderSize]byte
	for {
		if _, err := io.ReadFull(c, hb[:]); err != nil {
			return err
		}
		h, err := wire.ParseHeader(hb[:])
		if err != nil {
			return err
		}
		payload := make([]byte, h.Len)
		if _, err := io.ReadFull(c, payload); err != nil {
			return err
		}
		info, err := wire.DecodeDict(payload)
		if err != nil {
			return fmt.Errorf("bad %s frame: %w", h.Type, err)
		}
		pid, _ := info["pid"].(int)
		switch h.Type {
		case wire.Forked:
			msg, _ := info["error"].(string)
			t.forked(pid, msg)
		case wire.Exited:
			status, _ := info["status"].(int)
			t.exited(pid, unix.WaitStatus(status))
		default:
			return fmt.Errorf("unexpected frame %s", h.Type)
		}
	}
}

func (t *template) forked(pid int, msg string) {
	t.mu.Lock()
	w, reply := t.pending, t.reply
	t.pending, t.reply = nil, nil
	var err error
	switch {
	case w == nil:
		// Its fork request timed out; the child sees no gowsgi and exits.
	case pid <= 0:
		err = fmt.Errorf("the %s could not fork: %s", t.proc, msg)
	default:
		w.PID = pid
		w.proc = newForkedProcess(pid)
		t.children[pid] = w
	}
	stop := t.idleLocked()
	t.mu.Unlock()
	if reply != nil {
		reply <- err
	}
	if stop {
		t.proc.stop()
	}
}

func (t *template) exited(pid int, ws unix.WaitStatus) {
	t.mu.Lock()
	w := t.children[pid]
	delete(t.children, pid)
	stop := t.idleLocked()
	t.mu.Unlock()
	if w != nil {
		w.proc.(*forkedProcess).ended(exitStatusText(ws))
	}
	if stop {
		t.proc.stop()
	}
}

// exitStatusText words a wait status as os/exec does ("exit status 1",
// "signal: killed").
func exitStatusText(ws unix.WaitStatus) string {
	var s string
	switch {
	case ws.Exited():
		s = "exit status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		s = "signal: " + ws.Signal().String()
	default:
		s = fmt.Sprintf("wait status %#x", uint32(ws))
	}
	if ws.CoreDump() {
		s += " (core dumped)"
	}
	return s
}
