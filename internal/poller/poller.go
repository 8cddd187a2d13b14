// Package poller is the process's one epoll set for sockets that wait
// without a goroutine of their own: parked keep-alive connections and
// quiet WebSockets, woken by their next input, and served connections,
// watched for their peer's FIN or reset.
//
// Go's netpoller cannot be asked to wait for a socket without reading it
// (internal/poll resets a descriptor's readiness before each read), and a
// goroutine blocked in a read per waiting connection costs its stack and
// its buffer. Here one epoll instance and one goroutine wait for them all;
// each registration names a function that gets its events.
package poller

import (
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Set is an epoll instance and the function each registration's key
// calls.
type Set struct {
	epfd int
	mu   sync.Mutex
	next uint64
	fns  map[uint64]func(events uint32)
}

var (
	once sync.Once
	proc *Set
)

// Get returns the process's set, started on first use, or nil where epoll
// is not available.
func Get() *Set {
	once.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		proc = &Set{epfd: fd, fns: map[uint64]func(uint32){}}
		go proc.loop()
	})
	return proc
}

// Add registers rc's descriptor for events (unix.EPOLL* bits) and returns
// the key to change or forget the registration by. fn gets every event
// that comes for it, on the set's goroutine and under the set's lock, so
// that Forget is a barrier: fn must be quick, must not block and must not
// call the set.
func (s *Set) Add(rc syscall.RawConn, events uint32, fn func(events uint32)) (uint64, error) {
	s.mu.Lock()
	s.next++
	key := s.next
	s.fns[key] = fn
	s.mu.Unlock()
	if err := s.ctl(rc, unix.EPOLL_CTL_ADD, key, events); err != nil {
		s.Forget(key)
		return 0, err
	}
	return key, nil
}

// Modify changes the events key's descriptor is registered for (and
// re-arms an EPOLLONESHOT registration).
func (s *Set) Modify(rc syscall.RawConn, key uint64, events uint32) error {
	return s.ctl(rc, unix.EPOLL_CTL_MOD, key, events)
}

// Forget drops key: once it returns, its function is not running and is
// not called again. The descriptor leaves the epoll set when it is closed;
// an event that comes meanwhile finds no key.
func (s *Set) Forget(key uint64) {
	s.mu.Lock()
	delete(s.fns, key)
	s.mu.Unlock()
}

// Remove takes rc's descriptor out of the set and forgets key: for a
// socket handed to another owner (a hijacked connection), who may register
// it again, while it stays open.
func (s *Set) Remove(rc syscall.RawConn, key uint64) {
	s.Forget(key)
	rc.Control(func(fd uintptr) { unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
}

func (s *Set) ctl(rc syscall.RawConn, op int, key uint64, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(uint32(key)), Pad: int32(uint32(key >> 32))}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.EpollCtl(s.epfd, op, int(fd), &ev) }); err != nil {
		return err
	}
	return cerr
}

func (s *Set) loop() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(s.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return // the epoll instance is broken: nothing is woken any more
		}
		for _, ev := range events[:n] {
			key := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			s.mu.Lock()
			if fn := s.fns[key]; fn != nil {
				fn(ev.Events)
			}
			s.mu.Unlock()
		}
	}
}

// Hold holds every event back until the returned function is called: for
// tests that need a wake-up to come after something else has happened.
func (s *Set) Hold() (release func()) {
	s.mu.Lock()
	return s.mu.Unlock
}
