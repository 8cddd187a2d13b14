package logging

import (
	"io"
	"os"
	"sync"
)

// Output is a log destination that can be reopened: a file by path, so
// that after logrotate renames it, Reopen (on SIGUSR1, as gunicorn) starts
// a new file at the old path; or a standard stream, which Reopen leaves
// alone. Writes are serialised, so lines from several writers (gowsgi's
// log, the workers' captured output) never interleave mid-write.
type Output struct {
	mu   sync.Mutex
	w    io.Writer
	f    *os.File // when the output is a file
	path string
}

// OpenFile opens path for appending (creating it 0644).
func OpenFile(path string) (*Output, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &Output{w: f, f: f, path: path}, nil
}

// Stream wraps a standard stream (os.Stdout, os.Stderr) or any writer that
// is not reopened.
func Stream(w io.Writer) *Output { return &Output{w: w} }

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// Write writes p in one call to the destination.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// Path is the file's path, "" for a stream.
func (o *Output) Path() string { return o.path }

// Reopen closes the file and opens its path again. If the new open fails
// the old file stays in use and the error is returned.
func (o *Output) Reopen() error {
	if o == nil || o.f == nil {
		return nil
	}
	f, err := openAppend(o.path)
	if err != nil {
		return err
	}
	o.mu.Lock()
	old := o.f
	o.f, o.w = f, f
	o.mu.Unlock()
	return old.Close()
}

// Close closes a file output; a stream stays open.
func (o *Output) Close() error {
	if o == nil || o.f == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.f.Close()
}
