package server

import (
	"context"
	"sync/atomic"

	"github.com/gowsgi/gowsgi/internal/reload"
)

// reloader is --reload: the app's files, and --reload-extra-file's, are
// watched from before the first request (a change made as soon as the
// server listens is not missed); a change reloads the workers.
type reloader struct {
	// w is the watcher: nil without --reload, or when watching failed. The
	// pool's supervisor reads it (watchAgain) while Start sets it.
	w       atomic.Pointer[reload.Watcher]
	changed <-chan string // nil: never fires
	stop    context.CancelFunc
	pool    *pool
}

func (r *reloader) Provision(s *Server) error { return nil }
func (r *reloader) Validate() error           { return nil }

func (r *reloader) Start(s *Server) error {
	if !s.cfg.Reload {
		return nil
	}
	w, err := reload.New(s.log)
	if err != nil {
		s.log.Error("--reload: cannot watch files", "err", err)
		return nil
	}
	r.pool = s.pool
	w.Watch(append(s.pool.p.AppFiles(), s.cfg.ReloadExtraFiles...))
	ctx, stop := context.WithCancel(context.Background())
	go w.Run(ctx)
	r.changed, r.stop = w.Changed, stop
	r.w.Store(w)
	return nil
}

func (r *reloader) Stop(s *Server) {
	if r.stop != nil {
		r.stop()
	}
}

// watchAgain adds the files of a new generation of workers (after a
// reload) to those watched. The pool calls it from its supervisor, so it
// does not wait.
func (r *reloader) watchAgain() {
	if w := r.w.Load(); w != nil {
		go func() { w.Watch(r.pool.p.AppFiles()) }()
	}
}
