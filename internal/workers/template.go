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
// exit any more.
//
// The supervisor owns the templates as it owns the workers: which one is
// current, the boot of a new one, and their generation live in its loop
// (the supervisor methods below), and a template boot runs under its
// context, so Stop abandons one in progress. A worker's boot asks the loop
// for the template to fork from (evTemplateWanted) and waits for it.

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

// preloader is what the pool keeps of its templates outside the
// supervisor loop: the goroutines that read them, which Stop waits for.
type preloader struct {
	wg      sync.WaitGroup                             // template goroutines (template.run)
	spawnFn func(ctx context.Context) (*Worker, error) // tests only: starts a template process
}

// wait waits for every template to have ended (after Stop).
func (pl *preloader) wait() { pl.wg.Wait() }

// templateBoot is a template boot under way, shared by the worker boots
// that wait for it. The supervisor sets t and err, then closes done.
type templateBoot struct {
	done chan struct{}
	t    *template
	err  error
	job  *bootJob // a reload's boot: its workers are forked once it is ready
	gen  int      // the supervisor's generation when it began
}

// doneBoot is an answer known at once.
func doneBoot(t *template, err error) *templateBoot {
	b := &templateBoot{done: make(chan struct{}), t: t, err: err}
	close(b.done)
	return b
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

// template returns the template to fork from, from the supervisor, which
// boots one when there is none (first use, or the last one died).
// Cancelling ctx abandons the wait.
func (p *Pool) template(ctx context.Context) (*template, error) {
	reply := make(chan *templateBoot, 1)
	if !p.post(evTemplateWanted{reply}) {
		return nil, ErrStopped
	}
	var b *templateBoot
	select {
	case b = <-reply:
	case <-p.loopDone:
		return nil, ErrStopped
	}
	select {
	case <-b.done:
		return b.t, b.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// The supervisor's side of --preload. These run in its loop only.

// templateWanted answers a worker boot's evTemplateWanted: the current
// template, or the boot under way, started here when there is none.
func (s *supervisor) templateWanted() *templateBoot {
	switch {
	case s.tmpl != nil && s.tmpl.usable():
		return doneBoot(s.tmpl, nil)
	case s.stopping:
		return doneBoot(nil, ErrStopped)
	case s.tmplBoot == nil:
		s.tmplBoot = s.bootTemplate(nil)
	}
	return s.tmplBoot
}

// bootTemplate boots a template in the background under the supervisor's
// context (Stop abandons it); evTemplateBooted follows. job is the reload
// it is for, or nil for one booted because workers need one.
func (s *supervisor) bootTemplate(job *bootJob) *templateBoot {
	p := s.p
	b := &templateBoot{done: make(chan struct{}), job: job, gen: s.gen}
	ctx := s.ctx
	go func() {
		t, err := p.bootTemplate(ctx)
		if !p.post(evTemplateBooted{b, t, err}) && t != nil {
			t.retire()
		}
	}()
	return b
}

// templateBooted takes in a template that finished booting (or failed to).
// A reload's becomes current and its generation of workers is forked from
// it; if it failed, the reload fails and the old template stays. One booted
// for workers becomes current unless a reload began meanwhile (then it is
// stale: its code may be older).
func (s *supervisor) templateBooted(b *templateBoot, t *template, err error) {
	if job := b.job; job != nil {
		job.pending-- // the template boot itself
		switch {
		case s.stopping:
			if t != nil {
				t.retire()
			}
		case err != nil:
			s.jobFailed(job, err)
			s.finishJob(job)
		default:
			s.setTemplate(t)
			for i := 0; i < s.target; i++ {
				s.boot(job)
			}
		}
		return
	}
	if s.tmplBoot == b {
		s.tmplBoot = nil
	}
	switch {
	case err != nil:
		b.err = err
	case s.stopping:
		t.retire()
		b.err = ErrStopped
	case b.gen != s.gen:
		t.retire()
		if s.tmpl != nil && s.tmpl.usable() {
			b.t = s.tmpl
		} else {
			b.err = errTemplateRetired // the worker boot asks again
		}
	default:
		s.setTemplate(t)
		b.t = t
	}
	close(b.done)
}

// setTemplate makes t the template to fork from; the old one retires, and
// is stopped once its last worker is gone.
func (s *supervisor) setTemplate(t *template) {
	old := s.tmpl
	s.tmpl = t
	if old != nil && old != t {
		old.retire()
	}
}

// retireTemplate stops forking (on stop); each template exits once its
// workers are gone.
func (s *supervisor) retireTemplate() {
	if s.tmpl != nil {
		s.tmpl.retire()
		s.tmpl = nil
	}
}

// templateDied hears that a template ended unexpectedly. The current one is
// forgotten, and a new one boots when a worker is next needed; its workers
// keep serving.
func (s *supervisor) templateDied(ev evTemplateDied) {
	t, p := ev.t, s.p
	current := s.tmpl == t
	if current {
		s.tmpl = nil
	}
	if !current || s.stopping {
		p.log.Warn("old preload template died", "pid", t.proc.PID, "status", t.proc.ExitStatus(), "workers", ev.orphans)
		return
	}
	p.log.Error("preload template died; a new one boots when a worker is next needed, its workers keep serving",
		"pid", t.proc.PID, "status", t.proc.ExitStatus(), "err", ev.err, "workers", ev.orphans)
}

// bootTemplate starts a template process and waits until it has loaded the
// app; a *BootError carries the traceback as for a worker. Cancelling ctx
// abandons the boot.
func (p *Pool) bootTemplate(ctx context.Context) (*template, error) {
	if p.opts.Threads+1 > maxForkFDs {
		return nil, fmt.Errorf("--preload allows at most %d threads per worker", maxForkFDs-1)
	}
	spawn := p.preload.spawnFn
	if spawn == nil {
		spawn = func(ctx context.Context) (*Worker, error) { return p.spawnExec(ctx, templateID, "template", 0, nil) }
	}
	tw, err := spawn(ctx)
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
func (p *Pool) forkWorker(ctx context.Context, id int, env EnvChanges) (*Worker, error) {
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
		t, err = p.template(ctx)
		if err == nil {
			err = t.fork(w, child, env)
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
	if err := w.awaitReady(ctx, p.opts.bootBound()); err != nil {
		w.kill()
		<-w.Exited()
		w.closeConns()
		return nil, err
	}
	go w.closeWhenExited() // after the boot: awaitReady owns the control socket until then
	return w, nil
}

func (t *template) usable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.retired && !t.gone
}

// fork asks the template for a child that gets fds (control socket first,
// then the slots) and env applied to its os.environ, and records it as w.
func (t *template) fork(w *Worker, fds []*os.File, env EnvChanges) error {
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
	req := map[string]any{"fds": len(fds), "age": w.ID}
	if len(env) > 0 {
		req["env"] = env
	}
	payload, _ := json.Marshal(req)
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
	if !p.post(evTemplateDied{t, err, len(orphans)}) { // the supervisor has ended: stopping
		p.log.Warn("old preload template died", "pid", t.proc.PID, "status", t.proc.ExitStatus(), "workers", len(orphans))
	}
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
