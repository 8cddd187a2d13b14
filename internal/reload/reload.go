// Package reload watches an application's source files during development
// and says when one changed, so the server can roll its workers.
package reload

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports changes to a set of files. It watches their directories,
// not the files themselves, because editors save by writing a new file and
// renaming it over the old one, which a watch on the old inode would miss.
type Watcher struct {
	w       *fsnotify.Watcher
	mu      sync.Mutex      // Watch runs beside Run
	files   map[string]bool // exact files to react to
	dirs    map[string]bool
	log     *slog.Logger
	Changed chan string // a changed file, after a short quiet period
}

// debounce lets an editor's burst of events (write, chmod, rename) settle.
const debounce = 150 * time.Millisecond

// New returns a watcher; Watch adds files, Run delivers changes.
func New(log *slog.Logger) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &Watcher{w: fw, files: map[string]bool{}, dirs: map[string]bool{}, log: log, Changed: make(chan string, 1)}, nil
}

// Watch adds files (absolute or relative paths) to the watched set. It may
// be called while Run runs.
func (w *Watcher) Watch(files []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			continue
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		w.files[abs] = true
		dir := filepath.Dir(abs)
		if !w.dirs[dir] {
			if err := w.w.Add(dir); err != nil {
				w.log.Warn("cannot watch directory", "dir", dir, "err", err)
				continue
			}
			w.dirs[dir] = true
		}
	}
}

// Run delivers changed files on Changed until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	defer w.w.Close()
	var pending string
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) == 0 {
				continue
			}
			// A watched file, or a new Python file beside one (a new module).
			w.mu.Lock()
			watched := w.files[ev.Name]
			w.mu.Unlock()
			if !watched && !strings.HasSuffix(ev.Name, ".py") {
				continue
			}
			pending = ev.Name
			timer = time.After(debounce)
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			w.log.Warn("file watcher error", "err", err)
		case <-timer:
			timer = nil
			select {
			case w.Changed <- pending:
			case <-ctx.Done():
				return
			}
		}
	}
}
