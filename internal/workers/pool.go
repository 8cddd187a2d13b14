// Package workers runs and supervises the Python worker processes and hands
// their slots (one per worker thread) to requests.
//
// Dispatch is a single channel of idle slots: a request takes a slot only
// when one is idle, so no request ever queues behind another inside a
// worker, and waits in a bounded queue otherwise.
//
// Workers are replaced without dropping anything: gowsgi owns every client
// connection, so a worker that is recycled (max requests, max memory), rolled
// (reload) or scaled away first stops receiving requests, finishes the ones it
// has, and only then exits; its replacement is ready before that starts.
package workers

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configure a Pool.
type Options struct {
	Python     string   // interpreter path
	Target     string   // what to load: module:callable, file.py, ...
	Chdir      string   // working directory of the workers
	PythonPath []string // prepended to sys.path
	Env        []string // environment of the workers
	Workers    int      // processes
	Threads    int      // slots per process
	Preload    bool     // import the app once in a template process and fork workers from it

	BootTimeout  time.Duration // loading the app; default 2 minutes
	MaxQueue     int           // requests waiting for a slot; beyond → ErrQueueFull
	QueueTimeout time.Duration // longest wait for a slot → ErrQueueTimeout

	PipelineDepth     int           // requests queued on one busy slot; 0 or 1 = no pipelining
	MaxRequests       int           // recycle a worker after this many requests; 0 = never
	MaxRequestsJitter int           // add up to this many, so workers do not recycle together
	MaxMemory         int64         // recycle a worker whose RSS exceeds this many bytes; 0 = never
	MemoryCheck       time.Duration // how often RSS is read; default 1s

	Log *slog.Logger
}

// Errors returned by Acquire.
var (
	ErrQueueFull    = errors.New("all workers busy and the queue is full")
	ErrQueueTimeout = errors.New("timed out waiting for a free worker")
	ErrStopped      = errors.New("server is shutting down")
)

// Pool is the set of live workers.
type Pool struct {
	opts Options
	log  *slog.Logger

	idle     chan *Slot
	roomy    chan *Slot              // busy slots with pipeline room, offered to the queue
	slots    atomic.Pointer[[]*Slot] // serving workers' slots, for pipelining
	waiting  atomic.Int64
	refused  atomic.Int64
	stopping chan struct{}
	stopOnce sync.Once
	fatal    chan error

	reloadMu sync.Mutex // one reload or scale step at a time
	preload  preloader  // --preload: the template processes (template.go)

	mu      sync.Mutex
	workers map[*Worker]struct{} // every process still running, retiring ones too
	target  int                  // how many serving workers the pool keeps
	nextID  int
	failing int            // consecutive boot failures while no worker serves
	wg      sync.WaitGroup // supervisors and background tasks
}

// maxSlots bounds the idle channel; far above any sane workers×threads.
const maxSlots = 1 << 14

// fatalBootFailures is how many boot failures in a row, with no worker left
// serving, make the pool give up (gunicorn's "worker failed to boot").
const fatalBootFailures = 5

// New returns a pool; Start launches its workers.
func New(o Options) *Pool {
	if o.BootTimeout <= 0 {
		o.BootTimeout = 2 * time.Minute
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 1 << 30
	}
	if o.MemoryCheck <= 0 {
		o.MemoryCheck = time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Pool{
		opts:     o,
		log:      o.Log,
		idle:     make(chan *Slot, maxSlots),
		roomy:    make(chan *Slot, maxSlots),
		stopping: make(chan struct{}),
		fatal:    make(chan error, 1),
		workers:  map[*Worker]struct{}{},
		target:   o.Workers,
	}
}

// Fatal delivers an error when the pool cannot go on: every worker keeps
// failing to boot. The server should exit non-zero with it.
func (p *Pool) Fatal() <-chan error { return p.fatal }

// Start launches every worker and returns once all have loaded the app, or
// with the first failure (a *BootError carries the Python traceback). On
// failure nothing is left running.
func (p *Pool) Start() error {
	ws, err := p.spawnN(p.opts.Workers)
	if err != nil {
		return err
	}
	for _, w := range ws {
		p.add(w)
	}
	if p.opts.MaxMemory > 0 {
		p.wg.Add(1)
		go p.watchMemory()
	}
	return nil
}

// spawnN starts n workers in parallel; all of them, or none and the first
// error.
func (p *Pool) spawnN(n int) ([]*Worker, error) {
	type result struct {
		w   *Worker
		err error
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		id := p.newID()
		go func() {
			w, err := p.spawn(id)
			results <- result{w, err}
		}()
	}
	var first error
	var ws []*Worker
	for i := 0; i < n; i++ {
		r := <-results
		if r.err != nil {
			if first == nil {
				first = r.err
			}
			continue
		}
		ws = append(ws, r.w)
	}
	if first != nil {
		for _, w := range ws {
			w.kill()
			<-w.exited
		}
		return nil, first
	}
	return ws, nil
}

func (p *Pool) newID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	return p.nextID
}

// add puts a ready worker into service and supervises it.
func (p *Pool) add(w *Worker) {
	if p.opts.MaxRequests > 0 {
		w.maxRequests = int64(p.opts.MaxRequests)
		if p.opts.MaxRequestsJitter > 0 {
			w.maxRequests += rand.Int64N(int64(p.opts.MaxRequestsJitter) + 1)
		}
	}
	p.mu.Lock()
	p.workers[w] = struct{}{}
	p.failing = 0
	p.rebuildSlots()
	p.mu.Unlock()
	p.log.Info("worker ready", "worker", w.ID, "pid", w.PID)
	for _, s := range w.slots {
		p.idle <- s
	}
	p.wg.Add(1)
	go p.supervise(w)
}

// supervise waits for w to end and replaces it if it was not meant to go.
func (p *Pool) supervise(w *Worker) {
	defer p.wg.Done()
	<-w.exited
	p.mu.Lock()
	delete(p.workers, w)
	p.rebuildSlots()
	p.mu.Unlock()
	if p.isStopping() || w.retiring.Load() {
		return
	}
	switch {
	case w.timedOut.Load():
		p.log.Warn("worker killed after a request timeout; replacing it", "worker", w.ID, "pid", w.PID)
	case w.stopped.Load():
		p.log.Warn("worker stopped; replacing it", "worker", w.ID, "pid", w.PID, "status", w.exitStatus)
	default:
		p.log.Error("worker died; replacing it", "worker", w.ID, "pid", w.PID, "status", w.exitStatus)
	}
	p.replace(w.ID)
}

// serving counts workers that take requests.
func (p *Pool) serving() int {
	n := 0
	for w := range p.workers {
		if !w.retiring.Load() {
			n++
		}
	}
	return n
}

// replace starts a worker in place of one that ended, backing off while the
// app fails to boot so a broken deploy does not spin. When no worker is left
// serving and boots keep failing, the pool reports a fatal error.
func (p *Pool) replace(id int) {
	backoff := 100 * time.Millisecond
	for !p.isStopping() {
		w, err := p.spawn(id)
		if err == nil {
			if p.isStopping() {
				w.stop()
				return
			}
			p.add(w)
			return
		}
		p.mu.Lock()
		p.failing++
		giveUp := p.failing >= fatalBootFailures && p.serving() == 0
		p.mu.Unlock()
		if giveUp {
			p.log.Error("workers keep failing to boot and none is serving; giving up")
			select {
			case p.fatal <- err:
			default:
			}
			return
		}
		p.log.Error("worker failed to boot; retrying", "worker", id, "in", backoff.String(), "err", Summary(err))
		select {
		case <-time.After(backoff):
		case <-p.stopping:
			return
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// Summary is the last line of an error's message: for a Python traceback,
// the exception itself, which is what a one-line log needs.
func Summary(err error) string {
	s := strings.TrimRight(err.Error(), "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func (p *Pool) isStopping() bool {
	select {
	case <-p.stopping:
		return true
	default:
		return false
	}
}

// usable reports whether a slot may take a request.
func usable(s *Slot) bool {
	return !s.broken.Load() && s.worker.alive() && !s.worker.retiring.Load()
}

// take claims s's worker for a request, or reports that it is leaving. The
// busy count goes up before the retiring flag is read again, and retire sets
// the flag before it reads busy, so a worker is never stopped under a
// request.
func take(s *Slot) bool {
	if !usable(s) {
		return false
	}
	s.worker.busy.Add(1)
	if s.worker.retiring.Load() {
		s.worker.busy.Add(-1)
		return false
	}
	return true
}

// issueOn queues a request on s if its worker still takes requests.
// pipelined requests only go behind a running one, never to an idle slot
// (idle slots are in the idle channel and are taken from there).
func (p *Pool) issueOn(s *Slot, frame, body []byte, file *os.File, pipelined bool) (*Ticket, error, bool) {
	if !take(s) {
		return nil, nil, false
	}
	s.mu.Lock()
	if s.broken.Load() || (pipelined && (s.inflight < 1 || s.inflight >= int32(p.opts.PipelineDepth) || !s.fast(time.Now().UnixNano()))) {
		s.mu.Unlock()
		s.worker.busy.Add(-1)
		return nil, nil, false
	}
	t, err := s.issue(frame, body, file)
	room := s.inflight < int32(p.opts.PipelineDepth) && s.fast(time.Now().UnixNano())
	s.mu.Unlock()
	if room && p.opts.PipelineDepth > 1 && p.waiting.Load() > 0 {
		p.offerRoom(s)
	}
	return t, err, true
}

// offerRoom tells the queue that s can take a pipelined request. Each
// request that takes the offer passes it on while room is left, so a queue
// that formed while nothing was pipelined drains into the pipeline.
func (p *Pool) offerRoom(s *Slot) {
	select {
	case p.roomy <- s:
	default:
	}
}

// Dispatch sends a request to a worker and returns its ticket; the caller
// waits for t.Turn, reads the response from t.Slot, then Releases t.
//
// An idle slot is used when there is one. When every slot is busy, a small
// request may be pipelined behind one that began less than pipelineMaxAge
// ago on a slot with fewer than PipelineDepth requests: a worker answering
// fast then reads several requests per wake-up, while a slow request is not
// queued behind. Otherwise the request waits in the bounded queue for an
// idle slot.
func (p *Pool) Dispatch(frame, body []byte, file *os.File) (*Ticket, error) {
	for {
		select {
		case s := <-p.idle:
			if t, err, ok := p.issueOn(s, frame, body, file, false); ok {
				return t, err
			}
			continue
		default:
		}
		break
	}
	if p.isStopping() {
		return nil, ErrStopped
	}
	pipelinable := file == nil && p.opts.PipelineDepth > 1 && len(frame)+len(body) <= pipelineMaxBytes
	if pipelinable && p.waiting.Load() == 0 { // never overtake the queue
		if s := p.pipelineCandidate(); s != nil {
			if t, err, ok := p.issueOn(s, frame, body, nil, true); ok {
				return t, err
			}
		}
	}
	if p.waiting.Add(1) > int64(p.opts.MaxQueue) {
		p.waiting.Add(-1)
		p.refused.Add(1)
		return nil, ErrQueueFull
	}
	defer p.waiting.Add(-1)
	var timeout <-chan time.Time
	if p.opts.QueueTimeout > 0 {
		t := time.NewTimer(p.opts.QueueTimeout)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case s := <-p.idle:
			if t, err, ok := p.issueOn(s, frame, body, file, false); ok {
				return t, err
			}
		case s := <-p.roomy:
			if pipelinable {
				if t, err, ok := p.issueOn(s, frame, body, nil, true); ok {
					return t, err
				}
			}
		case <-timeout:
			p.refused.Add(1)
			return nil, ErrQueueTimeout
		case <-p.stopping:
			return nil, ErrStopped
		}
	}
}

// Pipelining bounds: only small requests, only on a slot that answers fast
// (see Slot.fast): whatever queues behind a slow request waits as long.
const (
	pipelineMaxBytes = 64 << 10
	pipelineMaxAge   = time.Millisecond
)

// pipelineCandidate picks the busy slot with the fewest queued requests
// among those whose current request is young.
func (p *Pool) pipelineCandidate() *Slot {
	slots := p.slots.Load()
	if slots == nil {
		return nil
	}
	now := time.Now().UnixNano()
	var best *Slot
	bestN := int32(p.opts.PipelineDepth)
	for _, s := range *slots {
		n := s.hint.Load()
		if n >= 1 && n < bestN && s.fast(now) && usable(s) {
			best, bestN = s, n
		}
	}
	return best
}

// rebuildSlots refreshes the list of slots the pipeline may use. p.mu is held.
func (p *Pool) rebuildSlots() {
	var all []*Slot
	for w := range p.workers {
		if !w.retiring.Load() {
			all = append(all, w.slots...)
		}
	}
	p.slots.Store(&all)
}

// Release ends a ticket after its response was read (or abandoned). A slot
// whose stream broke is not reused; a live worker that broke the protocol is
// killed, since it can no longer be trusted to stay in step.
func (p *Pool) Release(t *Ticket) {
	s := t.Slot
	w := s.worker
	s.served(time.Now().UnixNano()) // before the next ticket's turn starts
	close(t.done)
	s.mu.Lock()
	s.inflight--
	s.hint.Store(s.inflight)
	idle := s.inflight == 0
	s.mu.Unlock()
	defer w.busy.Add(-1)
	if s.broken.Load() {
		if s.protocolErr.Load() && w.alive() && !w.timedOut.Load() && w.killing.CompareAndSwap(false, true) {
			p.log.Error("killing worker after a protocol error", "worker", w.ID, "pid", w.PID)
			w.kill()
		}
		return
	}
	if !w.alive() {
		return
	}
	if n := w.served.Add(1); w.maxRequests > 0 && n == w.maxRequests {
		p.recycle(w, fmt.Sprintf("served %d requests (--max-requests)", n))
	}
	if w.retiring.Load() {
		return
	}
	if idle {
		p.idle <- s
	} else if p.waiting.Load() > 0 && p.opts.PipelineDepth > 1 && s.hint.Load() < int32(p.opts.PipelineDepth) && s.fast(time.Now().UnixNano()) {
		// The slot has room in its pipeline: offer it to the queue, so
		// waiting requests are not overtaken by newer ones.
		p.offerRoom(s)
	}
}

// Refused returns how many requests got 503 because the queue was full or
// they waited too long.
func (p *Pool) Refused() int64 { return p.refused.Load() }

// Waiting returns the number of requests queued for a slot.
func (p *Pool) Waiting() int { return int(p.waiting.Load()) }

// recycle replaces w: a new worker is started first, and w keeps serving
// until it is ready; then w is retired.
func (p *Pool) recycle(w *Worker, why string) {
	if !w.recycling.CompareAndSwap(false, true) {
		return
	}
	p.log.Info("recycling worker", "worker", w.ID, "pid", w.PID, "reason", why)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.reloadMu.Lock()
		defer p.reloadMu.Unlock()
		nw, err := p.spawn(p.newID())
		if err != nil {
			p.log.Error("replacement worker failed to boot; the old one keeps serving", "worker", w.ID, "err", Summary(err))
			w.recycling.Store(false)
			return
		}
		if p.isStopping() {
			nw.stop()
			return
		}
		p.add(nw)
		p.retire(w)
	}()
}

// retire stops sending requests to w, lets it finish the ones it has, then
// asks it to exit.
func (p *Pool) retire(w *Worker) {
	if !w.retiring.CompareAndSwap(false, true) {
		return
	}
	p.mu.Lock()
	p.rebuildSlots()
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for w.busy.Load() > 0 && w.alive() {
			time.Sleep(10 * time.Millisecond)
		}
		w.stop()
		select {
		case <-w.exited:
		case <-time.After(10 * time.Second):
			p.log.Warn("retired worker did not exit; killing it", "worker", w.ID, "pid", w.PID)
			w.kill()
		}
		p.log.Info("worker retired", "worker", w.ID, "pid", w.PID)
	}()
}

// Reload starts a new generation of workers with freshly imported code and,
// once every one of them is ready, retires the old generation. If the new
// code does not load, the old generation keeps serving and the error is
// returned (a *BootError holds the traceback).
func (p *Pool) Reload() error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	if p.isStopping() {
		return ErrStopped
	}
	if err := p.renewTemplate(); err != nil {
		return err
	}
	p.mu.Lock()
	n := p.target
	var old []*Worker
	for w := range p.workers {
		if !w.retiring.Load() {
			old = append(old, w)
		}
	}
	p.mu.Unlock()
	ws, err := p.spawnN(n)
	if err != nil {
		return err
	}
	if p.isStopping() {
		for _, w := range ws {
			w.stop()
		}
		return ErrStopped
	}
	for _, w := range ws {
		p.add(w)
	}
	for _, w := range old {
		p.retire(w)
	}
	return nil
}

// Scale adds (delta > 0) or retires (delta < 0) workers, keeping at least one.
func (p *Pool) Scale(delta int) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	if delta > 0 {
		ws, err := p.spawnN(delta)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.target += delta
		p.mu.Unlock()
		for _, w := range ws {
			p.add(w)
		}
		return nil
	}
	p.mu.Lock()
	var victims []*Worker
	for w := range p.workers {
		if len(victims) < -delta && !w.retiring.Load() && p.target-len(victims) > 1 {
			victims = append(victims, w)
		}
	}
	p.target -= len(victims)
	p.mu.Unlock()
	if len(victims) == 0 {
		return errors.New("already at one worker")
	}
	for _, w := range victims {
		p.retire(w)
	}
	return nil
}

// AppFiles returns the application's own source files loaded by the
// serving workers, for a development reloader to watch.
func (p *Pool) AppFiles() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for w := range p.workers {
		if w.retiring.Load() {
			continue
		}
		for _, f := range w.files {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// Size returns the number of workers the pool keeps serving.
func (p *Pool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// TimedOut handles a request whose worker sent nothing for too long: the
// Python stack of every thread of that worker goes to the error log (through
// faulthandler, which works even while the thread is stuck), then the worker
// is killed. The caller answers 504; the supervisor starts a replacement.
func (p *Pool) TimedOut(s *Slot) {
	w := s.worker
	s.broken.Store(true)
	if !w.timedOut.CompareAndSwap(false, true) {
		return
	}
	w.signal(syscall.SIGUSR1)
	// faulthandler writes from its signal handler; give it a moment.
	time.Sleep(200 * time.Millisecond)
	w.kill()
}

// watchMemory retires workers whose resident memory passed MaxMemory.
func (p *Pool) watchMemory() {
	defer p.wg.Done()
	t := time.NewTicker(p.opts.MemoryCheck)
	defer t.Stop()
	for {
		select {
		case <-p.stopping:
			return
		case <-t.C:
		}
		for _, w := range p.snapshot() {
			if w.retiring.Load() || w.recycling.Load() {
				continue
			}
			if rss, err := residentBytes(w.PID); err == nil && rss > p.opts.MaxMemory {
				p.recycle(w, fmt.Sprintf("resident memory %d MiB over --max-memory %d MiB", rss>>20, p.opts.MaxMemory>>20))
			}
		}
	}
}

// snapshot returns the workers still running, retiring ones included.
func (p *Pool) snapshot() []*Worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	ws := make([]*Worker, 0, len(p.workers))
	for w := range p.workers {
		ws = append(ws, w)
	}
	return ws
}

// Stop ends every worker: politely (close the control socket, the worker
// exits), then SIGKILL for any still running after timeout. Callers stop
// sending requests first.
func (p *Pool) Stop(timeout time.Duration) {
	p.stopOnce.Do(func() { close(p.stopping) })
	p.reloadMu.Lock() // let a reload in progress settle
	p.reloadMu.Unlock()
	ws := p.snapshot()
	for _, w := range ws {
		w.stop()
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, w := range ws {
		select {
		case <-w.exited:
		case <-deadline.C:
			for _, w := range ws {
				if w.alive() {
					p.log.Warn("worker did not stop in time; killing it", "worker", w.ID, "pid", w.PID)
					w.kill()
				}
			}
			<-w.exited
		}
	}
	p.wg.Wait()
}
