package workers

import (
	"context"
	"errors"
	"fmt"
	"github.com/gowsgi/gowsgi/internal/wire"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"
)

// The supervisor is one goroutine that owns the worker set, the --preload
// templates (template.go), the target count, boot-failure backoff and
// reloads, in the shape of gunicorn's arbiter: every change arrives as an
// event (a worker booted or exited, a template is wanted, booted or died,
// a request timed out, a worker is due for recycling or drained, a memory
// sample, reload, scale, stop), and after each one it reconciles the
// workers it has with the ones it should have (manage). Signals, file
// watchers and the data plane only post events, so nothing races with it:
// once it is stopping, a scale or reload is refused by construction.

type event interface{}

type (
	evStart  struct{ done chan error }
	evBooted struct {
		w   *Worker
		err error
		job *bootJob
	}
	evTemplateWanted struct{ reply chan *templateBoot }
	evTemplateBooted struct {
		boot *templateBoot
		t    *template
		err  error
	}
	evTemplateDied struct {
		t       *template
		err     error
		orphans int
	}
	evExited   struct{ w *Worker }
	evTimedOut struct{ w *Worker }
	evRecycle  struct {
		w   *Worker
		why string
	}
	evDrained struct{ w *Worker }
	evGoAway  struct{ w *Worker }
	evBlocked struct {
		w          *Worker
		blockedFor time.Duration
	}
	evBroken struct{ w *Worker }
	evKill   struct{ w *Worker }
	evReload struct{ done chan error }
	evScale  struct {
		delta int
		done  chan error
	}
	evStop struct {
		timeout time.Duration
		done    chan struct{}
	}
	evStopNow   struct{}
	evGoAwayAll struct{ reason uint32 }
	evQuery     struct{ fn func(*supervisor) }
)

// Kinds of boot job.
const (
	jobStart   = iota // the first workers, before the server listens
	jobReload         // a new generation, switched to once all are ready
	jobReplace        // one worker, to reach the target count
)

// bootJob is a set of workers booted together.
type bootJob struct {
	kind    int
	gen     int
	why     string // jobReplace: "scale" logs "added a worker"
	pending int
	ready   []*Worker
	err     error
	done    chan error
	byApp   bool // jobStart: the first worker boots alone; its app sets the count (Options.WorkersByApp)
}

// whyTimeout is why a worker that ran past --timeout is retired.
const whyTimeout = "a request ran past --timeout"

// whyBlocked is why an ASGI worker whose event loop stopped for --timeout
// is killed.
const whyBlocked = "its event loop was blocked past --timeout"

// fatalBootFailures is how many boot failures in a row, with no worker left
// serving, make the pool give up (gunicorn's "worker failed to boot").
const fatalBootFailures = 5

type supervisor struct {
	p       *Pool
	ctx     context.Context // cancelled on stop: abandons boots
	cancel  context.CancelFunc
	workers map[*Worker]bool // every process still running
	target  int
	gen     int

	replacing  int // jobReplace boots in flight
	failing    int // consecutive boot failures
	backoff    time.Duration
	retryAt    time.Time
	retryTimer *time.Timer
	retryC     <-chan time.Time
	gaveUp     bool

	reload      *bootJob
	reloadAgain bool

	// --preload (template.go): the template workers are forked from, and
	// a boot of one under way for workers that need one.
	tmpl     *template
	tmplBoot *templateBoot

	stopping bool
	stopDone chan struct{}
	// goneAway: the front told the ASGI workers that the server is going
	// away (Pool.GoAway); Stop follows, and nothing is booted meanwhile.
	goneAway bool
}

// post hands an event to the supervisor. It reports false when the
// supervisor has ended (or never started).
func (p *Pool) post(ev event) bool {
	if !p.started.Load() {
		return false
	}
	select {
	case <-p.loopDone:
		return false
	default:
	}
	select {
	case p.events <- ev:
		return true
	case <-p.loopDone:
		return false
	}
}

// Start launches the supervisor and the workers, and returns once all have
// loaded the app, or with the first failure (a *BootError carries the
// Python traceback). On failure nothing is left running.
func (p *Pool) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	s := &supervisor{p: p, ctx: ctx, cancel: cancel, workers: map[*Worker]bool{}, target: p.opts.Workers}
	p.started.Store(true)
	go s.run()
	done := make(chan error, 1)
	p.post(evStart{done})
	err := <-done
	if err != nil {
		p.Stop(0)
	}
	return err
}

// Reload starts a new generation of workers with freshly imported code and,
// once every one of them is ready, retires the old generation. If the new
// code does not load, the old generation keeps serving; the traceback is
// logged. It returns without waiting.
func (p *Pool) Reload() {
	p.post(evReload{})
}

// Scale asks for delta more (or, negative, fewer) workers, keeping at
// least one. It returns once the change was decided, not done.
func (p *Pool) Scale(delta int) error {
	done := make(chan error, 1)
	if !p.post(evScale{delta, done}) {
		return ErrStopped
	}
	select {
	case err := <-done:
		return err
	case <-p.loopDone: // it ended before handling the event
		return ErrStopped
	}
}

// Stop ends every worker: politely (close the control socket, the worker
// exits once its requests are done), then SIGKILL for any still running
// after timeout. Callers stop sending requests first.
func (p *Pool) Stop(timeout time.Duration) {
	done := make(chan struct{})
	if p.post(evStop{timeout, done}) {
		select {
		case <-done:
		case <-p.loopDone:
		}
	}
	if p.started.Load() {
		<-p.loopDone
	}
	p.preload.wait()
}

// GoAway tells every ASGI worker that the server is going away, now: it
// takes no new requests, its running ones see http.disconnect (those
// that have not answered get 503, a stream its end, a WebSocket 1001, or
// 1012 when restart says the server restarts: a binary upgrade) and are
// cancelled, its lifespan shutdown runs and it exits. The front calls it
// a moment before its graceful timeout ends, while it still has the
// connections to carry those answers. WSGI workers are left to Stop. It
// returns without waiting.
func (p *Pool) GoAway(restart bool) {
	reason := wire.GoAwayShutdown
	if restart {
		reason = wire.GoAwayRestart
	}
	p.post(evGoAwayAll{reason})
}

// AppFiles returns the application's own source files loaded by the
// serving workers, for a development reloader to watch.
func (p *Pool) AppFiles() []string {
	var out []string
	p.query(func(s *supervisor) {
		seen := map[string]bool{}
		for w := range s.workers {
			if !w.serving {
				continue
			}
			for _, f := range w.files {
				if !seen[f] {
					seen[f] = true
					out = append(out, f)
				}
			}
		}
	})
	sort.Strings(out)
	return out
}

// Size returns the number of workers the pool keeps serving.
func (p *Pool) Size() int {
	n := 0
	p.query(func(s *supervisor) { n = s.target })
	return n
}

// query runs fn in the supervisor and waits for it.
func (p *Pool) query(fn func(*supervisor)) {
	done := make(chan struct{})
	if p.post(evQuery{func(s *supervisor) { fn(s); close(done) }}) {
		select {
		case <-done:
		case <-p.loopDone:
		}
	}
}

func (s *supervisor) run() {
	p := s.p
	defer close(p.loopDone)
	var memC <-chan time.Time
	if p.opts.MaxMemory > 0 {
		t := time.NewTicker(p.opts.MemoryCheck)
		defer t.Stop()
		memC = t.C
	}
	for {
		select {
		case ev := <-p.events:
			s.handle(ev)
		case <-memC:
			s.sampleMemory()
		case <-s.retryC:
			s.retryC = nil
			s.manage()
		}
		if s.stopping && len(s.workers) == 0 && s.pendingBoots() == 0 {
			if s.stopDone != nil {
				close(s.stopDone)
			}
			return
		}
	}
}

func (s *supervisor) pendingBoots() int {
	n := s.replacing
	if s.tmplBoot != nil {
		n++
	}
	if s.reload != nil {
		n += s.reload.pending
	}
	return n
}

func (s *supervisor) handle(ev event) {
	p := s.p
	switch ev := ev.(type) {
	case evStart:
		job := &bootJob{kind: jobStart, done: ev.done}
		n := s.target
		if p.opts.WorkersByApp && n > 1 {
			switch p.opts.Interface {
			case "asgi":
				s.target, n = 1, 1
			case "wsgi":
			default:
				job.byApp, n = true, 1
			}
		}
		for i := 0; i < n; i++ {
			s.boot(job)
		}
		s.reload = job
	case evBooted:
		s.booted(ev.w, ev.err, ev.job)
	case evTemplateWanted:
		ev.reply <- s.templateWanted()
	case evTemplateBooted:
		s.templateBooted(ev.boot, ev.t, ev.err)
	case evTemplateDied:
		s.templateDied(ev)
	case evExited:
		s.exited(ev.w)
	case evTimedOut:
		w := ev.w
		if !s.workers[w] {
			return
		}
		w.killWhenDrained = true
		w.why, w.reason = whyTimeout, ExitTimeout
		s.retire(w)
		s.manage()
	case evBlocked:
		s.blocked(ev.w, ev.blockedFor)
	case evRecycle:
		if w := ev.w; s.workers[w] && w.serving && !w.leaving {
			p.log.Info("recycling worker", "worker", w.ID, "pid", w.PID, "reason", ev.why)
			w.leaving, w.why, w.reason = true, ev.why, ExitRecycle
			s.manage()
		}
	case evDrained:
		if s.workers[ev.w] && ev.w.retiring.Load() {
			s.stopIfDrained(ev.w)
		}
	case evGoAway:
		// A retired ASGI worker's grace is over: its requests go away.
		if w := ev.w; s.workers[w] && !w.stopSent {
			s.stopWorker(w)
		}
	case evBroken:
		if w := ev.w; s.workers[w] && !w.stopSent {
			p.log.Error("killing worker after a protocol error", "worker", w.ID, "pid", w.PID)
			w.stopSent = true
			w.kill()
		}
	case evKill:
		if w := ev.w; s.workers[w] {
			if grace := p.opts.Process.AbortGrace; grace > 0 && w.killWhenDrained && !w.abortSent && w.why == whyTimeout {
				// worker_abort: the worker runs its hook and exits; killed
				// if it has not after the grace.
				w.abortSent = true
				w.proc.Signal(syscall.SIGABRT)
				time.AfterFunc(grace, func() { p.post(evKill{w}) })
				return
			}
			if w.asgi && !w.killWhenDrained && !w.stacksLogged {
				// An event loop that does not end by itself once told to
				// is blocked (time.sleep in the lifespan shutdown or in a
				// cancelled request's cleanup): say where before the kill.
				p.log.Error("worker did not exit in time after it was asked to; its event loop is blocked. Its Python stacks follow, then it is killed",
					"worker", w.ID, "pid", w.PID, "bound", stopBound.String())
				w.stacksLogged = true
				w.dumpStacksNow()
				dumped := w.stacksDumped()
				go func() {
					<-dumped
					p.post(evKill{w})
				}()
				return
			}
			if !w.killWhenDrained && !w.stacksLogged {
				p.log.Warn("retired worker did not exit; killing it", "worker", w.ID, "pid", w.PID)
			}
			w.kill()
		}
	case evReload:
		if s.stopping || s.goneAway {
			return
		}
		if s.reload != nil {
			s.reloadAgain = true // code changed again meanwhile: reload once more after this one
			return
		}
		s.startReload()
	case evScale:
		ev.done <- s.scale(ev.delta)
	case evStop:
		s.stop(ev.timeout, ev.done)
	case evStopNow:
		for w := range s.workers {
			if w.asgi && w.stopSent && !w.killWhenDrained {
				continue // told "going away": its own bound kills it (stopWorkerWithin)
			}
			if w.alive() {
				p.log.Warn("worker did not stop in time; killing it", "worker", w.ID, "pid", w.PID)
				w.kill()
			}
		}
	case evGoAwayAll:
		s.goneAway = true // the server stops: no replacements (manage)
		changed := false
		for w := range s.workers {
			if w.asgi && !w.stopSent {
				w.why, w.reason = "the server is shutting down", ExitStop
				w.serving = false
				w.retiring.Store(true)
				s.stopWorkerWithin(w, 0, ev.reason)
				changed = true
			}
		}
		if changed {
			s.rebuildSlots()
		}
	case evQuery:
		ev.fn(s)
	}
}

// boot starts one worker for job in the background; evBooted follows.
func (s *supervisor) boot(job *bootJob) {
	p := s.p
	job.pending++
	if job.kind == jobReplace {
		s.replacing++
	}
	id := int(p.nextID.Add(1))
	ctx := s.ctx
	gen := job.gen
	go func() {
		var env EnvChanges
		if h := p.opts.Hooks; h != nil && ctx.Err() == nil {
			env = h.PreFork(HookWorker{ID: id, Gen: gen})
		}
		w, err := p.spawn(ctx, id, env)
		if w != nil {
			w.Gen = job.gen
			if p.opts.MaxRequests > 0 {
				w.maxRequests = int64(p.opts.MaxRequests)
				if p.opts.MaxRequestsJitter > 0 {
					w.maxRequests += rand.Int64N(int64(p.opts.MaxRequestsJitter) + 1)
				}
			}
		}
		if !p.post(evBooted{w, err, job}) && w != nil {
			w.kill()
		}
	}()
}

// booted takes in a worker that finished booting (or failed to).
func (s *supervisor) booted(w *Worker, err error, job *bootJob) {
	p := s.p
	job.pending--
	if job.kind == jobReplace {
		s.replacing--
	}
	if w != nil {
		s.workers[w] = true
		go func() {
			<-w.Exited()
			p.post(evExited{w})
		}()
		go w.readControl()
	}
	if s.stopping {
		if w != nil {
			s.stopWorker(w)
		}
		return
	}
	switch job.kind {
	case jobReplace:
		if err != nil {
			s.bootFailed(err)
			return
		}
		s.failing, s.backoff = 0, 0
		s.serve(w)
		if job.why == "scale" {
			p.log.Info("added a worker", "signal", "SIGTTIN", "workers", s.target)
		}
		s.manage()
	default:
		if err != nil {
			s.jobFailed(job, err)
		} else if job.err != nil {
			s.stopWorker(w)
		} else {
			job.ready = append(job.ready, w)
			if job.byApp {
				job.byApp = false
				s.countByApp(job, w)
			}
		}
		if job.pending == 0 {
			s.finishJob(job)
		}
	}
}

// countByApp sets the worker count from the application the first worker
// of a start imported (Options.WorkersByApp): one for ASGI; for WSGI the
// rest of Workers boot now, in the same start.
func (s *supervisor) countByApp(job *bootJob, w *Worker) {
	if w.asgi {
		s.target = 1
		return
	}
	for i := 1; i < s.target; i++ {
		s.boot(job)
	}
}

// jobFailed records the first failure of a start or reload and stops the
// workers it had booted.
func (s *supervisor) jobFailed(job *bootJob, err error) {
	if job.err == nil {
		job.err = err
	}
	for _, w := range job.ready {
		s.stopWorker(w)
	}
	job.ready = nil
}

// finishJob ends a start or a reload once all its boots are done.
func (s *supervisor) finishJob(job *bootJob) {
	p := s.p
	s.reload = nil
	switch job.kind {
	case jobStart:
		if job.err == nil {
			for _, w := range job.ready {
				s.serve(w)
			}
			if o := p.opts.Observer; o != nil {
				o.Ready(true)
			}
		}
		job.done <- job.err
	case jobReload:
		if job.err != nil {
			var be *BootError
			if errors.As(job.err, &be) {
				fmt.Fprintf(os.Stderr, "gowsgi: reload failed; the previous workers keep serving. The new code does not load:\n%s\n", strings.TrimRight(be.Detail, "\n"))
			} else {
				p.log.Error("reload failed; the previous workers keep serving", "err", job.err)
			}
			if p.opts.OnReloadFailed != nil {
				p.opts.OnReloadFailed(job.err)
			}
		} else {
			for w := range s.workers {
				if w.serving && w.Gen < job.gen {
					w.leaving, w.why, w.reason = true, "reload", ExitReload
				}
			}
			for _, w := range job.ready {
				s.serve(w)
			}
			// The old generation takes no request from here on: the log
			// line below says so, and the pool's interface (a reload may
			// change it) follows the new one.
			s.retireLeaving()
			p.log.Info("reload complete: new workers serving, old ones draining")
			if p.opts.OnReloaded != nil {
				p.opts.OnReloaded()
			}
		}
		if s.reloadAgain {
			s.reloadAgain = false
			s.startReload()
		} else if o := p.opts.Observer; o != nil {
			o.Ready(true)
		}
		s.manage()
	}
}

func (s *supervisor) startReload() {
	p := s.p
	s.gen++
	job := &bootJob{kind: jobReload, gen: s.gen}
	s.reload = job
	if o := p.opts.Observer; o != nil {
		o.Ready(false)
	}
	p.log.Info("reloading: starting a new generation of workers", "generation", s.gen)
	if h := p.opts.Hooks; h != nil {
		h.Reloading()
	}
	if !p.opts.Preload {
		for i := 0; i < s.target; i++ {
			s.boot(job)
		}
		return
	}
	// The new code is imported once, by a new template; the new
	// generation is forked from it.
	job.pending++
	s.bootTemplate(job)
}

// bootFailed backs off after a replacement failed to boot, and gives up when
// boots keep failing and no worker is left serving.
func (s *supervisor) bootFailed(err error) {
	p := s.p
	s.failing++
	if s.failing >= fatalBootFailures && s.fresh() == 0 {
		if !s.gaveUp {
			s.gaveUp = true
			p.log.Error("workers keep failing to boot and none is serving; giving up")
			select {
			case p.fatal <- err:
			default:
			}
		}
		return
	}
	if s.backoff == 0 {
		s.backoff = 100 * time.Millisecond
	} else {
		s.backoff = min(2*s.backoff, 10*time.Second)
	}
	s.retryAt = time.Now().Add(s.backoff)
	p.log.Error("worker failed to boot; retrying", "in", s.backoff.String(), "err", Summary(err))
	s.manage()
}

// fresh counts the workers in service that are not leaving.
func (s *supervisor) fresh() int {
	n := 0
	for w := range s.workers {
		if w.serving && !w.leaving {
			n++
		}
	}
	return n
}

// manage reconciles the workers with the target: replacements are booted
// for missing ones (after a backoff while boots fail), leaving workers are
// retired once enough fresh ones serve, and extra ones are retired.
func (s *supervisor) manage() {
	if s.stopping || s.gaveUp || s.goneAway {
		return
	}
	fresh := s.fresh()
	if need := s.target - fresh - s.replacing; need > 0 && s.reload == nil {
		if wait := time.Until(s.retryAt); wait > 0 {
			if s.retryC == nil {
				s.retryC = time.After(wait)
			}
		} else {
			for i := 0; i < need; i++ {
				s.boot(&bootJob{kind: jobReplace, gen: s.gen})
			}
		}
	}
	if fresh >= s.target {
		s.retireLeaving()
	}
	if extra := fresh - s.target; extra > 0 {
		var ws []*Worker
		for w := range s.workers {
			if w.serving && !w.leaving {
				ws = append(ws, w)
			}
		}
		sort.Slice(ws, func(i, j int) bool { return ws[i].ID < ws[j].ID })
		for _, w := range ws[:extra] {
			w.why, w.reason = "scaled down", ExitScale
			s.retire(w)
		}
	}
}

// serve puts a ready worker into service.
func (s *supervisor) serve(w *Worker) {
	w.serving = true
	if w.asgi && s.p.opts.Timeout > 0 {
		go s.p.watchHeartbeat(w)
	}
	if o := s.p.opts.Observer; o != nil {
		o.WorkerStarted(w.ID, w.PID) // before Workers(n), so a count includes its RSS
	}
	s.rebuildSlots()
	iface := "wsgi"
	if w.asgi {
		iface = "asgi"
	}
	s.settleInterface()
	s.p.log.Info("worker ready", "worker", w.ID, "pid", w.PID, "interface", iface)
	for _, sl := range w.slots {
		s.p.pushIdle(sl)
	}
}

// retireLeaving retires the workers in service that are leaving (a
// reload's old generation, a recycled worker); callers call it once
// enough others serve.
func (s *supervisor) retireLeaving() {
	for w := range s.workers {
		if w.serving && w.leaving {
			s.retire(w)
		}
	}
}

// settleInterface makes the pool's interface (Pool.ASGI), by which the
// front encodes each request as a scope or an environ, that of the workers
// in service once they all speak one: with --interface auto a reload may
// turn the app from one into the other, and while the old generation still
// serves beside the new one the pool keeps the old interface.
func (s *supervisor) settleInterface() {
	var asgi, wsgi int
	loop := ""
	for x := range s.workers {
		switch {
		case !x.serving:
		case x.asgi:
			asgi++
			loop = x.loop
		default:
			wsgi++
		}
	}
	if asgi > 0 && wsgi > 0 || asgi+wsgi == 0 {
		return
	}
	if was := s.p.asgi.Swap(asgi > 0); was != (asgi > 0) {
		if asgi > 0 {
			s.p.log.Info("the application is ASGI: workers serve it on an event loop",
				"loop", loop, "limit_concurrency", s.p.limitConcurrency())
		} else {
			s.p.log.Info("the application is WSGI now: workers serve it on threads")
		}
	}
}

// retire takes w out of service: it gets no new requests, and is stopped
// once the ones it has are done.
func (s *supervisor) retire(w *Worker) {
	w.serving = false
	w.retiring.Store(true)
	s.rebuildSlots()
	s.settleInterface()
	// Requests pipelined on its slots that have not started go elsewhere.
	for _, sl := range w.slots {
		sl.mu.Lock()
		var behind *ticket
		if len(sl.queue) > 1 {
			behind = sl.queue[1]
		}
		sl.mu.Unlock()
		if behind != nil && behind.revoked != nil {
			sl.requestRevoke(behind)
		}
	}
	if w.asgi {
		// Long-lived requests never drain by themselves: GoAwayLead
		// before the grace ends the worker tells them it is going away
		// (goAway), then runs its lifespan shutdown, within the grace.
		// The front closes open WebSockets itself at that moment (1012,
		// see front.watchOpen); this comes a moment after, for the rest.
		g := s.p.gracefulTimeout()
		time.AfterFunc(g-GoAwayLead(g)+goAwayMargin, func() { s.p.post(evGoAway{w}) })
	}
	s.stopIfDrained(w)
}

// gracefulTimeout is Options.GracefulTimeout, or its default.
func (p *Pool) gracefulTimeout() time.Duration {
	if g := p.opts.GracefulTimeout; g > 0 {
		return g
	}
	return 30 * time.Second
}

// stopIfDrained stops a retired worker that has no request left, or kills a
// timed-out one once only its stuck requests remain.
func (s *supervisor) stopIfDrained(w *Worker) {
	if w.stopSent {
		return
	}
	if w.killWhenDrained {
		for _, sl := range w.slots {
			sl.mu.Lock()
			running := len(sl.queue) > 0 && !sl.queue[0].stuck
			sl.mu.Unlock()
			if running {
				return
			}
		}
		w.stopSent, w.expected = true, true
		// Killed once its stacks are written (bounded: see dumpStacks).
		dumped := w.stacksDumped()
		go func() {
			<-dumped
			s.p.post(evKill{w})
		}()
		return
	}
	if w.busy.Load() > 0 {
		return
	}
	s.stopWorker(w)
}

// stopWorker asks w to exit, and kills it if it has not after 10 s. An
// ASGI worker stops at once: what it still runs is told "going away"
// (a retired worker had its grace already; see retire).
func (s *supervisor) stopWorker(w *Worker) {
	s.stopWorkerWithin(w, 0, wire.GoAwayRestart)
}

// stopWorkerWithin asks w to exit; an ASGI worker gives its requests grace,
// then tells the ones left that it is going away for reason, runs the
// lifespan shutdown and exits. It is killed if it has not exited 10 s
// after the grace.
func (s *supervisor) stopWorkerWithin(w *Worker, grace time.Duration, reason uint32) {
	if w.stopSent && !w.killWhenDrained {
		return
	}
	w.stopSent, w.expected = true, true
	if w.asgi {
		w.goAway(grace, reason)
	} else {
		grace = 0
	}
	w.stop()
	time.AfterFunc(grace+stopBound, func() { s.p.post(evKill{w}) })
}

// GoAwayLead is how long before the end of the graceful timeout g the
// requests still running are told that their worker, or the server, is
// going away (open WebSockets closed by the front, the rest by the ASGI
// worker: Pool.GoAway, retire): room for the close handshakes, for an
// app's half-second on http.disconnect (asgi.py's ASGI_DISCONNECT_WAIT)
// and its 503 while the front still holds the connections, and for the
// lifespan shutdown, within g. A quarter of g, 2 s at most, but at least
// 1 s (half of a g under 2 s).
func GoAwayLead(g time.Duration) time.Duration {
	return max(min(g/4, 2*time.Second), min(g/2, time.Second))
}

// goAwayMargin is how long after the front closes a retired ASGI
// worker's WebSockets (checked every 250 ms: front.watchOpen) the worker
// is told to go away: those close frames, with their 1012, go first (a
// WebSocket the worker ended first would close with its app's code).
const goAwayMargin = 500 * time.Millisecond

// stopBound is how long a worker asked to exit has (past an ASGI worker's
// grace) before it is killed: an ASGI worker's cancelled tasks and its
// lifespan shutdown fit in it (asgi.py bounds both).
const stopBound = 10 * time.Second

// exited forgets a worker whose process ended; manage replaces it.
func (s *supervisor) exited(w *Worker) {
	p := s.p
	if !s.workers[w] {
		return
	}
	delete(s.workers, w)
	if h := p.opts.Hooks; h != nil {
		h.ChildExit(w.hookWorker())
	}
	if o := p.opts.Observer; o != nil {
		o.WorkerExited(w.ID, w.PID, s.exitReason(w))
	}
	wasServing := w.serving
	if w.serving {
		w.serving = false
		w.retiring.Store(true)
		s.rebuildSlots()
	}
	switch {
	case s.stopping:
	case w.expected && w.retiring.Load():
		p.log.Info("worker retired", "worker", w.ID, "pid", w.PID, "reason", w.why)
	case w.expected:
	case wasServing:
		p.log.Error("worker died; replacing it", "worker", w.ID, "pid", w.PID, "status", w.ExitStatus())
	default:
		p.log.Warn("worker exited", "worker", w.ID, "pid", w.PID, "status", w.ExitStatus())
	}
	s.manage()
}

func (s *supervisor) scale(delta int) error {
	if s.stopping || s.goneAway {
		return ErrStopped
	}
	old := s.target
	defer func() {
		if h := s.p.opts.Hooks; h != nil && s.target != old {
			h.WorkersChanged(s.target, old)
		}
	}()
	if delta > 0 {
		s.target += delta
		for i := 0; i < delta && s.reload == nil; i++ {
			s.boot(&bootJob{kind: jobReplace, gen: s.gen, why: "scale"})
		}
		return nil
	}
	if s.target+delta < 1 {
		return errors.New("already at one worker")
	}
	s.target += delta
	s.p.log.Info("removing a worker", "signal", "SIGTTOU", "workers", s.target)
	s.manage()
	return nil
}

// stop ends every worker; evStopNow kills the ones still running after
// timeout. The loop returns once all have exited.
func (s *supervisor) stop(timeout time.Duration, done chan struct{}) {
	p := s.p
	if s.stopping {
		close(done)
		return
	}
	s.stopping, s.stopDone = true, done
	if o := p.opts.Observer; o != nil {
		o.Ready(false)
	}
	p.stopOnce.Do(func() { close(p.stopping) })
	s.cancel()
	if s.reload != nil && s.reload.done != nil {
		s.reload.done <- ErrStopped
		s.reload.done = nil
	}
	for w := range s.workers {
		w.retiring.Store(true)
		s.stopWorkerWithin(w, timeout, wire.GoAwayShutdown)
	}
	s.rebuildSlots()
	s.retireTemplate()
	if timeout <= 0 {
		s.handle(evStopNow{})
	} else {
		time.AfterFunc(timeout, func() { p.post(evStopNow{}) })
	}
}

// sampleMemory retires workers whose resident memory passed --max-memory,
// at once (they get no new requests; a replacement boots), and kills one
// that reaches one and a half times the limit: a request leaking that fast
// would otherwise take the machine before it ends.
func (s *supervisor) sampleMemory() {
	p := s.p
	limit := p.opts.MaxMemory
	for w := range s.workers {
		if w.stopSent && !w.alive() {
			continue
		}
		rss, err := residentBytes(w.PID)
		if err != nil {
			continue
		}
		switch {
		case rss > limit+limit/2 && !w.killWhenDrained:
			p.log.Error("killing worker: resident memory over 1.5 times --max-memory", "worker", w.ID, "pid", w.PID,
				"rss_mib", rss>>20, "max_memory_mib", limit>>20)
			w.killWhenDrained, w.stopSent, w.expected = true, true, true
			w.why, w.reason = "memory", ExitMemory
			if w.serving {
				w.serving = false
				w.retiring.Store(true)
				s.rebuildSlots()
			}
			w.kill()
			s.manage()
		case rss > limit && w.serving:
			p.log.Info("recycling worker", "worker", w.ID, "pid", w.PID,
				"reason", fmt.Sprintf("resident memory %d MiB over --max-memory %d MiB", rss>>20, limit>>20))
			w.why, w.reason = "memory", ExitMemory
			s.retire(w)
			s.manage()
		}
	}
}

// rebuildSlots refreshes the list of slots the pipeline may use.
func (s *supervisor) rebuildSlots() {
	var all []*Slot
	n := 0
	for w := range s.workers {
		if w.serving {
			all = append(all, w.slots...)
			n++
		}
	}
	s.p.slots.Store(&all)
	if o := s.p.opts.Observer; o != nil {
		o.Workers(n)
	}
}

// watchHeartbeat posts evBlocked once an ASGI worker's heartbeats have
// stopped for --timeout: its event loop is blocked (time.sleep or a long
// computation in async code), so none of its requests moves. A response
// that merely takes long (SSE, a long poll) never stops the heartbeats.
func (p *Pool) watchHeartbeat(w *Worker) {
	d := p.opts.Timeout
	t := time.NewTicker(heartbeatEvery(d))
	defer t.Stop()
	for {
		select {
		case <-w.Exited():
			return
		case <-t.C:
			if since := time.Since(time.Unix(0, w.beat.Load())); since > d {
				p.post(evBlocked{w, since})
				return
			}
		}
	}
}

// blocked kills an ASGI worker whose event loop has been blocked past
// --timeout, after its Python stacks (faulthandler, which runs even while
// the loop, on the main thread, is stuck: dumpStacksNow) went to the
// error log; it is replaced at once. Its requests fail: none of them
// could move.
func (s *supervisor) blocked(w *Worker, d time.Duration) {
	p := s.p
	if !s.workers[w] || !w.alive() {
		return
	}
	if w.stopSent && !w.killWhenDrained {
		// Asked to stop: its control socket, which carried the
		// heartbeats, is closed, so their silence says nothing. The
		// stop's own bound (stopWorkerWithin) kills it, stacks first, if
		// its loop is blocked.
		return
	}
	p.log.Error("event loop blocked past --timeout; the worker's Python stacks follow. It is killed and replaced",
		"timeout", p.opts.Timeout.String(), "blocked_for", d.Round(time.Millisecond).String(), "worker", w.ID, "pid", w.PID)
	w.dumpStacksNow()
	w.killWhenDrained, w.stopSent, w.expected = true, true, true
	w.why, w.reason = whyBlocked, ExitTimeout
	if w.serving {
		w.serving = false
		w.retiring.Store(true)
		s.rebuildSlots()
	}
	dumped := w.stacksDumped()
	go func() {
		<-dumped
		p.post(evKill{w})
	}()
	s.manage()
}
