// Package workers runs and supervises the Python worker processes and hands
// their slots (one per worker thread) to requests.
//
// Dispatch is a single channel of idle slots: a request takes a slot only
// when one is idle, so no request ever queues behind another inside a
// worker, and waits in a bounded queue otherwise.
package workers

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
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

	BootTimeout  time.Duration // loading the app; default 2 minutes
	MaxQueue     int           // requests waiting for a slot; beyond → ErrQueueFull
	QueueTimeout time.Duration // longest wait for a slot → ErrQueueTimeout

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
	waiting  atomic.Int64
	stopping chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	workers map[*Worker]struct{}
	nextID  int
	wg      sync.WaitGroup // supervisor goroutines
}

// maxSlots bounds the idle channel; far above any sane workers×threads.
const maxSlots = 1 << 14

// New returns a pool; Start launches its workers.
func New(o Options) *Pool {
	if o.BootTimeout <= 0 {
		o.BootTimeout = 2 * time.Minute
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 1 << 30
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Pool{
		opts:     o,
		log:      o.Log,
		idle:     make(chan *Slot, maxSlots),
		stopping: make(chan struct{}),
		workers:  map[*Worker]struct{}{},
	}
}

// Start launches every worker and returns once all have loaded the app, or
// with the first failure (a *BootError carries the Python traceback). On
// failure nothing is left running.
func (p *Pool) Start() error {
	type result struct {
		w   *Worker
		err error
	}
	results := make(chan result, p.opts.Workers)
	for i := 0; i < p.opts.Workers; i++ {
		id := p.newID()
		go func() {
			w, err := p.spawn(id)
			results <- result{w, err}
		}()
	}
	var first error
	started := []*Worker{}
	for i := 0; i < p.opts.Workers; i++ {
		r := <-results
		if r.err != nil {
			if first == nil {
				first = r.err
			}
			continue
		}
		started = append(started, r.w)
	}
	if first != nil {
		for _, w := range started {
			w.kill()
			<-w.exited
		}
		return first
	}
	for _, w := range started {
		p.add(w)
	}
	return nil
}

func (p *Pool) newID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	return p.nextID
}

// add puts a ready worker into service and supervises it.
func (p *Pool) add(w *Worker) {
	p.mu.Lock()
	p.workers[w] = struct{}{}
	p.mu.Unlock()
	p.log.Info("worker ready", "worker", w.ID, "pid", w.PID)
	for _, s := range w.slots {
		p.idle <- s
	}
	p.wg.Add(1)
	go p.supervise(w)
}

// supervise waits for w to end and replaces it unless the pool is stopping.
func (p *Pool) supervise(w *Worker) {
	defer p.wg.Done()
	<-w.exited
	p.mu.Lock()
	delete(p.workers, w)
	p.mu.Unlock()
	if p.isStopping() {
		return
	}
	if !w.stopped.Load() {
		p.log.Error("worker died", "worker", w.ID, "pid", w.PID, "status", w.exitStatus)
	}
	p.replace(w.ID)
}

// replace starts a worker in place of one that ended, backing off while the
// app fails to boot so a broken deploy does not spin.
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
		p.log.Error("worker failed to boot; retrying", "worker", id, "in", backoff.String(), "err", err)
		select {
		case <-time.After(backoff):
		case <-p.stopping:
			return
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (p *Pool) isStopping() bool {
	select {
	case <-p.stopping:
		return true
	default:
		return false
	}
}

// usable reports whether an idle slot may take a request.
func usable(s *Slot) bool {
	return !s.broken && s.worker.alive() && !s.worker.retiring.Load()
}

// Acquire returns an idle slot, waiting in the bounded queue while every slot
// is busy. The caller must Release it.
func (p *Pool) Acquire() (*Slot, error) {
	for {
		select {
		case s := <-p.idle:
			if usable(s) {
				return s, nil
			}
			continue
		default:
		}
		break
	}
	if p.isStopping() {
		return nil, ErrStopped
	}
	if p.waiting.Add(1) > int64(p.opts.MaxQueue) {
		p.waiting.Add(-1)
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
			if usable(s) {
				return s, nil
			}
		case <-timeout:
			return nil, ErrQueueTimeout
		case <-p.stopping:
			return nil, ErrStopped
		}
	}
}

// Release returns a slot after its response ended. A slot whose stream broke
// (worker died, malformed frame) is not reused; a live worker behind a broken
// stream is killed, since it can no longer be trusted to stay in step.
func (p *Pool) Release(s *Slot) {
	if s.broken {
		if s.worker.alive() {
			p.log.Error("killing worker after a protocol error", "worker", s.worker.ID, "pid", s.worker.PID)
			s.worker.kill()
		}
		return
	}
	if !s.worker.alive() {
		return
	}
	p.idle <- s
}

// Waiting returns the number of requests queued for a slot.
func (p *Pool) Waiting() int { return int(p.waiting.Load()) }

// Stop ends every worker: politely (close the control socket, the worker
// exits), then SIGKILL for any still running after timeout. Callers stop
// sending requests first.
func (p *Pool) Stop(timeout time.Duration) {
	p.stopOnce.Do(func() { close(p.stopping) })
	p.mu.Lock()
	ws := make([]*Worker, 0, len(p.workers))
	for w := range p.workers {
		ws = append(ws, w)
	}
	p.mu.Unlock()
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
