package workers

import "time"

// Observer hears about the pool's life, for metrics (internal/metrics) and
// readiness probes. Options.Observer is nil unless something listens; every
// call site is one nil check.
//
// Dispatched is called on the data plane, from many goroutines at once, for
// every request Send hands to a worker: it must be cheap and must not
// block. The other methods are called from the supervisor loop only, one at
// a time, and must not call back into the pool.
type Observer interface {
	// Dispatched: a request reached a worker slot after waiting wait for
	// one (0 when a slot was free at once). Re-dispatches of a request a
	// worker gave back are not reported again.
	Dispatched(wait time.Duration)
	// WorkerStarted: a worker booted and was put into service.
	WorkerStarted(id, pid int)
	// WorkerExited: a worker process ended; reason is one of the Exit*
	// constants.
	WorkerExited(id, pid int, reason string)
	// Workers: the number of workers in service changed to n.
	Workers(n int)
	// Ready: the pool is ready to serve (true) once the first workers have
	// booted and after each reload switched over (or failed, leaving the
	// old workers serving); not ready (false) while a reload boots its new
	// generation and from the start of Stop.
	Ready(ready bool)
}

// LoopLagObserver is an Observer that also hears how late an ASGI
// worker's event loop ran each heartbeat callback (its lag: the time the
// loop was busy or blocked). Called from the worker's control reader.
type LoopLagObserver interface {
	LoopLag(worker int, lag time.Duration)
}

// Why a worker exited, as Observer.WorkerExited reports it.
const (
	ExitCrash   = "crash"   // it died on its own, or was killed for breaking the protocol
	ExitTimeout = "timeout" // a request ran past --timeout
	ExitRecycle = "recycle" // --max-requests
	ExitMemory  = "memory"  // --max-memory
	ExitReload  = "reload"  // replaced by a new generation (SIGHUP, --reload)
	ExitScale   = "scale"   // SIGTTOU took it away
	ExitStop    = "stop"    // the server is stopping, or it never served
)

// exitReason classifies an exited worker for the observer.
func (s *supervisor) exitReason(w *Worker) string {
	switch {
	case s.stopping:
		return ExitStop
	case !w.expected:
		return ExitCrash
	case w.reason != "":
		return w.reason
	}
	return ExitStop
}
