// Package workers runs and supervises the Python worker processes and
// carries requests to them.
//
// Two planes. The data plane (Pool.Send, Exchange) hands each request to a
// worker slot (one per worker thread): an idle slot when there is one, else
// a busy slot that has been answering fast (pipelining: the worker then
// reads several requests per wake-up), else a bounded queue. A pipelined
// request whose slot turns slow is given back by the worker, unstarted, and
// sent elsewhere; so are requests queued behind one whose worker died. The
// response is read off the slot as fast as the worker produces it, so the
// slot is free again while a slow client is still reading. A request
// carries its client's context: when the client goes away the request
// leaves the queue, or is dropped unstarted by its worker, or is stopped
// (see Pool.Send).
//
// The control plane is one supervisor goroutine (supervisor.go) that owns
// the set of workers and reacts to events: worker ready, exited, timed out,
// to be recycled, memory samples, reload, scale, stop. Workers are replaced
// without dropping anything: a leaving worker first stops receiving
// requests, finishes the ones it has, and only then exits.
package workers

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gowsgi/gowsgi/internal/pyshim"
)

// Options configure a Pool.
type Options struct {
	Python     string   // interpreter path
	Target     string   // what to load: module:callable, file.py, ...
	Chdir      string   // working directory of the workers
	PythonPath []string // prepended to sys.path
	Env        []string // environment of the workers
	Workers    int      // processes
	// WorkersByApp says Workers was not asked for, so the application
	// decides: an ASGI one gets one worker, as uvicorn, hypercorn, granian
	// and gunicorn give it (its event loop serves many requests at once,
	// and its in-process state, a WebSocket room, an in-memory channel
	// layer, a model loaded at lifespan startup, is one), a WSGI one gets
	// Workers. Unless --interface says which, the first worker boots
	// alone and its import tells.
	WorkersByApp bool
	Threads      int  // slots per process
	Preload      bool // import the app once in a template process and fork workers from it

	// Interface is the application's interface: "auto" (or empty: the
	// first worker's import tells, see Pool.Interface), "wsgi" or "asgi".
	// Lifespan ("auto", "on", "off") and Loop ("auto", "asyncio",
	// "uvloop") apply to ASGI workers, each of which serves up to
	// LimitConcurrency requests at once on one event loop (0 =
	// DefaultLimitConcurrency). For them --timeout (Timeout) means an
	// event loop blocked that long, never a slow response.
	Interface        string
	Lifespan         string
	Loop             string
	LimitConcurrency int

	BootTimeout  time.Duration // loading the app; default 2 minutes
	MaxQueue     int           // requests waiting for a slot; beyond → ErrQueueFull
	QueueTimeout time.Duration // longest wait for a slot → ErrQueueTimeout

	// Timeout is how long a worker may go without sending anything for a
	// request; then its stacks are logged, the request fails with
	// ErrTimedOut and the worker is replaced once its other requests
	// finish. 0 = no limit.
	Timeout time.Duration

	// GracefulTimeout is how long a retiring ASGI worker's requests get
	// (reload, recycling, scale-down) before they are told "going away"
	// and the worker stops: its long-lived requests (SSE, long polls,
	// WebSockets) would otherwise keep it forever. 0: 30 s.
	GracefulTimeout time.Duration

	// RequestTimeout is an ASGI request's deadline: its task is cancelled
	// in the worker, and the client gets 504 if no response had started.
	// 0 = none. WSGI requests have Timeout.
	RequestTimeout time.Duration

	PipelineDepth     int           // requests queued on one busy slot; 0 or 1 = no pipelining
	MaxRequests       int           // recycle a worker after this many requests; 0 = never
	MaxRequestsJitter int           // add up to this many, so workers do not recycle together
	MaxMemory         int64         // recycle a worker whose RSS exceeds this many bytes; 0 = never
	MemoryCheck       time.Duration // how often RSS is read; default 50ms

	// ResponseBuffer bounds the bytes of one streamed response held in
	// memory while its client is slower than the worker; ResponseSpool
	// the bytes spooled to a temp file in TempDir beyond that (0: none).
	// Past both, the worker waits for the client (for Timeout at most:
	// then the response is cut off). ResponseMemory bounds all responses'
	// memory together, ResponseSpoolTotal all their spool files' bytes
	// (0: no bound); SpoolFiles counts the spool files open, requests'
	// and the one all responses share (nil: no bound). See respbuf.go.
	ResponseBuffer     int64
	ResponseSpool      int64
	ResponseMemory     int64
	ResponseSpoolTotal int64
	SpoolFiles         *Budget
	TempDir            string

	// OnReloaded, when set, is called (from the supervisor) after a reload
	// switched to new workers.
	OnReloaded func()
	// OnReloadFailed, when set, is called (from the supervisor) when a
	// reload's new workers did not load; the old ones keep serving.
	OnReloadFailed func(error)

	// Output, when set, is the workers' stdout and stderr
	// (--capture-output); nil = gowsgi's own.
	Output *os.File
	// LogConfig configures the app's Python logging in each worker.
	LogConfig pyshim.LogConfig

	// Observer, when set, hears about dispatches, workers and readiness
	// (metrics, health probes); see Observer.
	Observer Observer

	// Hooks, when set, is told of gunicorn's server-hook moments (see
	// Hooks); nil costs nothing.
	Hooks Hooks
	// Process is what each worker process is started with besides the
	// app: worker-side hooks, title, user (see Process).
	Process Process

	Log *slog.Logger
}

// Errors returned by Send.
var (
	ErrQueueFull    = errors.New("all workers busy and the queue is full")
	ErrQueueTimeout = errors.New("timed out waiting for a free worker")
	ErrStopped      = errors.New("server is shutting down")
)

// Pool is the set of workers and the way to them.
type Pool struct {
	opts  Options
	log   *slog.Logger
	debug bool // the log takes debug lines

	// Data plane.
	idle     chan *Slot              // idle slots of serving workers
	roomy    chan *Slot              // busy slots with pipeline room, offered to the queue
	slots    atomic.Pointer[[]*Slot] // serving workers' slots, for pipelining
	waiting  atomic.Int64
	refused  atomic.Int64
	stopping chan struct{} // closed when Stop begins: nothing new is sent
	stopOnce sync.Once
	resp     *respStore // response memory, disk and spool files (respbuf.go)

	// Control plane: the supervisor loop and its inbox.
	events   chan event
	loopDone chan struct{}
	fatal    chan error
	started  atomic.Bool
	preload  preloader // --preload: the template processes (template.go)
	nextID   atomic.Int64
	spawnFn  func(ctx context.Context, id int) (*Worker, error) // tests only

	asgi atomic.Bool // a worker reported an ASGI application
}

// InFlight calls fn with each worker in service and its requests in
// flight (for metrics; read at scrape time).
func (p *Pool) InFlight(fn func(worker, n int)) {
	slots := p.slots.Load()
	if slots == nil {
		return
	}
	seen := map[*Worker]bool{}
	for _, sl := range *slots {
		if w := sl.worker; !seen[w] {
			seen[w] = true
			fn(w.ID, int(w.busy.Load()))
		}
	}
}

// DefaultLimitConcurrency is the requests in flight an ASGI worker serves
// at once when Options.LimitConcurrency is 0 (gunicorn's worker_connections
// default): each is a slot of the worker, and requests beyond it wait in
// the pool's queue. Measured with a 10 ms asyncio.sleep app at 1,000
// connections on one worker, 100 slots capped throughput (100 requests per
// 10 ms) while 250 and 1,000 ran the loop at its limit; and every open SSE
// stream or long poll holds a slot for its lifetime, so the default leaves
// room for many. The slots of an ASGI worker share its one data socket
// (mux.go): a slot costs no descriptor, only memory while data is in
// flight.
const DefaultLimitConcurrency = 1000

// limitConcurrency is the number of slots of an ASGI worker: the option,
// or the default, within maxASGISlots.
func (p *Pool) limitConcurrency() int {
	n := p.opts.LimitConcurrency
	if n <= 0 {
		n = DefaultLimitConcurrency
	}
	return min(n, maxASGISlots)
}

// maxASGISlots bounds an ASGI worker's slots. They cost no descriptors
// (one socket carries them all), but each is a Slot in the front and an
// entry in the pool's idle channel (maxSlots), and past a few thousand
// requests in flight one event loop serves none of them well.
const maxASGISlots = 4096

// ASGI reports whether the application is an ASGI one: --interface asgi,
// or a worker found one when it imported the app (interface auto). It is
// known before the first request is served.
func (p *Pool) ASGI() bool {
	return p.opts.Interface == "asgi" || p.asgi.Load()
}

// Interface names the application's interface, "asgi" or "wsgi"; with
// --interface auto it is "wsgi" until a worker has loaded the app.
func (p *Pool) Interface() string {
	if p.ASGI() {
		return "asgi"
	}
	return "wsgi"
}

// socketCount is how many slot sockets a new worker gets: one for
// --interface asgi (its mux); else one per thread, as WSGI needs, of
// which an ASGI worker (--interface auto; a reload may change the app
// either way) keeps the first for its mux and closes the rest.
func (p *Pool) socketCount() int {
	if p.opts.Interface == "asgi" {
		return 1
	}
	return max(p.opts.Threads, 1)
}

// pushIdle makes s available to the next request: it is marked idle and,
// unless it already has one, gets an entry in the idle channel. A slot
// taken without its entry (Request.Prefer) leaves that entry in place,
// which then stands for the slot's next idle spell, so the channel never
// holds more than one entry per slot.
func (p *Pool) pushIdle(s *Slot) {
	s.idle.Store(true)
	if s.inIdle.CompareAndSwap(false, true) {
		p.idle <- s
	}
}

// maxSlots bounds the idle channel; far above any sane workers×threads,
// or workers×--limit-concurrency for ASGI (131 workers of 1,000 slots).
const maxSlots = 1 << 17

// maxPipelined bounds the channel of slots with pipeline room (WSGI slots
// only).
const maxPipelined = 1 << 14

// New returns a pool; Start launches its workers.
func New(o Options) *Pool {
	if o.BootTimeout <= 0 {
		o.BootTimeout = 2 * time.Minute
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 1 << 30
	}
	if o.MemoryCheck <= 0 {
		o.MemoryCheck = 50 * time.Millisecond
	}
	if o.ResponseBuffer <= 0 {
		o.ResponseBuffer = 1 << 20
	}
	if o.ResponseMemory <= 0 {
		o.ResponseMemory = max(64<<20, 16*o.ResponseBuffer)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	p := &Pool{
		opts:     o,
		log:      o.Log,
		debug:    o.Log.Enabled(context.Background(), slog.LevelDebug),
		idle:     make(chan *Slot, maxSlots),
		roomy:    make(chan *Slot, maxPipelined),
		stopping: make(chan struct{}),
		resp:     newRespStore(&o),
		events:   make(chan event, 64),
		loopDone: make(chan struct{}),
		fatal:    make(chan error, 1),
	}
	return p
}

// Fatal delivers an error when the pool cannot go on: every worker keeps
// failing to boot. The server should exit non-zero with it.
func (p *Pool) Fatal() <-chan error { return p.fatal }

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
	return !s.broken.Load() && !s.worker.retiring.Load() && s.worker.alive()
}

// take claims s's worker for a request, or reports that it is leaving. The
// busy count goes up before the retiring flag is read again, and the
// supervisor sets the flag before it reads busy, so a worker is never
// stopped under a request.
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
// Pipelined requests only go behind a running one, never to an idle slot
// (idle slots are in the idle channel and are taken from there).
func (p *Pool) issueOn(s *Slot, frame, body []byte, file *os.File, pipelined bool) (*ticket, error, bool) {
	if !take(s) {
		return nil, nil, false
	}
	s.mu.Lock()
	if s.broken.Load() || (pipelined && (s.inflight < 1 || s.inflight >= int32(p.opts.PipelineDepth) ||
		s.qbytes+len(frame)+len(body) > pipelineSlotBytes || !s.fast(time.Now().UnixNano()))) {
		s.mu.Unlock()
		s.worker.busy.Add(-1)
		return nil, nil, false
	}
	t, err := s.issue(frame, body, file, pipelined)
	room := s.inflight < int32(p.opts.PipelineDepth) && s.fast(time.Now().UnixNano())
	s.mu.Unlock()
	if err != nil {
		p.release(t, false)
		return nil, err, true
	}
	if room && p.opts.PipelineDepth > 1 && p.waiting.Load() > 0 {
		p.offerRoom(s)
	}
	return t, nil, true
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

// dispatch puts a request on a slot and returns its ticket. avoid, when
// not nil, is a slot the request must not go back to; prefer, when not
// nil, the one that served the connection's last request (Request.Prefer).
//
// The preferred slot is used when it is idle and nobody is queued (a
// request that waits has its turn first). Else an idle slot is used when
// there is one. When every slot is busy, a small
// request may be pipelined behind one that began less than pipelineMaxAge
// ago on a slot with fewer than PipelineDepth requests: a worker answering
// fast then reads several requests per wake-up. Otherwise the request
// waits in the bounded queue for an idle slot.
//
// A request whose ctx has ended is not dispatched; one that waits in the
// queue leaves it (freeing its place) when ctx ends or finished closes:
// ErrCanceled.
func (p *Pool) dispatch(ctx context.Context, finished <-chan struct{}, frame, body []byte, file *os.File, avoid, prefer *Slot) (*ticket, error) {
	if ctx.Err() != nil {
		return nil, ErrCanceled
	}
	if prefer != nil && prefer.worker.pool == p && p.waiting.Load() == 0 && prefer.claimIdle() {
		if t, err, ok := p.issueOn(prefer, frame, body, file, false); ok {
			p.sentAtOnce(avoid, err)
			return t, err
		}
	}
	for {
		select {
		case s := <-p.idle:
			if !s.takeIdleEntry() {
				continue
			}
			if t, err, ok := p.issueOn(s, frame, body, file, false); ok {
				p.sentAtOnce(avoid, err)
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
		if s := p.pipelineCandidate(avoid); s != nil {
			if t, err, ok := p.issueOn(s, frame, body, nil, true); ok {
				p.sentAtOnce(avoid, err)
				return t, err
			}
		}
	}
	n := p.waiting.Add(1)
	if n > int64(p.opts.MaxQueue) {
		p.waiting.Add(-1)
		p.refused.Add(1)
		return nil, ErrQueueFull
	}
	defer p.waiting.Add(-1)
	if p.debug {
		p.log.Debug("request queued", "waiting", n)
	}
	var timeout <-chan time.Time
	if p.opts.QueueTimeout > 0 {
		t := time.NewTimer(p.opts.QueueTimeout)
		defer t.Stop()
		timeout = t.C
	}
	var queued time.Time
	if p.opts.Observer != nil && avoid == nil {
		queued = time.Now()
	}
	gone := ctx.Done()
	for {
		select {
		case s := <-p.idle:
			if !s.takeIdleEntry() {
				continue
			}
			if t, err, ok := p.issueOn(s, frame, body, file, false); ok {
				p.dequeued(queued, err)
				return t, err
			}
		case s := <-p.roomy:
			if pipelinable && s != avoid {
				if t, err, ok := p.issueOn(s, frame, body, nil, true); ok {
					p.dequeued(queued, err)
					return t, err
				}
			}
		case <-timeout:
			p.refused.Add(1)
			return nil, ErrQueueTimeout
		case <-finished:
			if p.debug {
				p.log.Debug("request canceled while queued: the client went away")
			}
			return nil, ErrCanceled
		case <-gone:
			if p.debug {
				p.log.Debug("request canceled while queued: the client went away")
			}
			return nil, ErrCanceled
		case <-p.stopping:
			return nil, ErrStopped
		}
	}
}

// sentAtOnce reports a request that reached a slot without waiting in the
// queue; a re-dispatch (avoid set) was counted the first time.
func (p *Pool) sentAtOnce(avoid *Slot, err error) {
	if o := p.opts.Observer; o != nil && avoid == nil && err == nil {
		o.Dispatched(0)
	}
}

// dequeued reports a request that waited since queued (zero: not
// observed) and reached a slot.
func (p *Pool) dequeued(queued time.Time, err error) {
	if o := p.opts.Observer; o != nil && !queued.IsZero() && err == nil {
		o.Dispatched(time.Since(queued))
	}
}

// Pipelining bounds: only requests of at most pipelineMaxBytes, as long
// as the requests on the slot come to at most pipelineSlotBytes (the
// slot's socket buffer, so writing them never waits for the worker), and
// only on a slot that answers fast (see Slot.fast): whatever queues behind
// a slow request waits as long.
const (
	pipelineMaxBytes  = 256 << 10
	pipelineSlotBytes = slotSocketBuffer
	pipelineMaxAge    = time.Millisecond
)

// pipelineCandidate picks the busy slot with the fewest queued requests
// among those whose current request is young.
func (p *Pool) pipelineCandidate(avoid *Slot) *Slot {
	slots := p.slots.Load()
	if slots == nil {
		return nil
	}
	now := time.Now().UnixNano()
	var best *Slot
	bestN := int32(p.opts.PipelineDepth)
	for _, s := range *slots {
		n := s.hint.Load()
		if n >= 1 && n < bestN && s != avoid && s.fast(now) && usable(s) {
			best, bestN = s, n
		}
	}
	return best
}

// otherSlotIdle reports whether a serving slot other than s has no request:
// somewhere a request taken back from s would start at once.
func (p *Pool) otherSlotIdle(s *Slot) bool {
	slots := p.slots.Load()
	if slots == nil {
		return false
	}
	for _, o := range *slots {
		if o != s && o.hint.Load() == 0 && usable(o) {
			return true
		}
	}
	return false
}

// queueFull reports whether the queue has no free place (--max-queue).
func (p *Pool) queueFull() bool { return p.waiting.Load() >= int64(p.opts.MaxQueue) }

// release ends a ticket after its response was read (or abandoned, or the
// request was given back). A slot whose stream broke is not reused; a live
// worker that broke the protocol is killed, since it can no longer be
// trusted to stay in step. served says the request was answered here.
func (p *Pool) release(t *ticket, served bool) {
	s := t.slot
	w := s.worker
	if served {
		s.served(time.Now().UnixNano()) // before the next ticket's turn starts
	}
	idle := s.release(t)
	if idle && served && !s.broken.Load() {
		s.shedBuf()
	}
	defer func() {
		if w.busy.Add(-1) <= w.stuck.Load() && w.retiring.Load() {
			p.post(evDrained{w})
		}
	}()
	if s.broken.Load() {
		if s.protocolErr.Load() && w.alive() {
			p.post(evBroken{w})
		}
		return
	}
	if !w.alive() {
		return
	}
	if served {
		if n := w.served.Add(1); w.maxRequests > 0 && n >= w.maxRequests && w.recycleSent.CompareAndSwap(false, true) {
			p.post(evRecycle{w, "served " + strconv.FormatInt(n, 10) + " requests (--max-requests)"})
		}
	}
	if w.retiring.Load() {
		return
	}
	if idle {
		p.pushIdle(s)
	} else if p.waiting.Load() > 0 && p.opts.PipelineDepth > 1 && s.hint.Load() < int32(p.opts.PipelineDepth) && s.fast(time.Now().UnixNano()) {
		// The slot has room in its pipeline: offer it to the queue, so
		// waiting requests are not overtaken by newer ones.
		p.offerRoom(s)
	}
}

// timedOut handles a request whose worker sent nothing for --timeout: the
// Python stack of every thread of that worker goes to the error log
// (dumpStacks: written by its main thread, or by faulthandler should a
// thread hold the GIL), the requests queued
// behind it on the slot are taken back, and the supervisor retires the
// worker: it takes no new requests, its other requests may finish, then it
// is killed and replaced.
func (p *Pool) timedOut(x *Exchange) {
	t := x.t
	s := t.slot
	w := s.worker
	s.mu.Lock()
	t.stuck = true
	var next *ticket
	for i, q := range s.queue {
		if q == t && i+1 < len(s.queue) {
			next = s.queue[i+1]
		}
	}
	s.mu.Unlock()
	w.stuck.Add(1)
	p.log.Error("request timed out; the worker's Python stacks follow. It takes no new requests and is replaced once its other requests finish",
		"timeout", p.opts.Timeout.String(), "worker", w.ID, "pid", w.PID, "request", x.req.line(), "request_id", x.req.ID)
	w.dumpStacks()
	if next != nil && next.revoked != nil {
		s.requestRevoke(next)
	}
	p.post(evTimedOut{w})
}

// Refused returns how many requests got 503 because the queue was full or
// they waited too long.
func (p *Pool) Refused() int64 { return p.refused.Load() }

// Waiting returns the number of requests queued for a slot.
func (p *Pool) Waiting() int { return int(p.waiting.Load()) }

// ResponseMemory reports the bytes taken now from the response memory
// budget (--response-memory-total): WSGI and ASGI responses held in the
// front's memory, and the ASGI windows grown beyond their floor (see
// Slot.growth).
func (p *Pool) ResponseMemory() int64 { return p.resp.budget().InUse() }
