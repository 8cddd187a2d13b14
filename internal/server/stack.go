package server

// stack is the server's cleanups, run last-in first-out: each part, once
// started (or once it holds something, such as an open file), pushes what
// undoes it, so whichever step fails, exactly what was done is undone, in
// the reverse order, and no error path stops anything by hand.
type stack struct {
	fns []func()
}

// push adds fn, to run before everything pushed earlier.
func (s *stack) push(fn func()) { s.fns = append(s.fns, fn) }

// run runs the cleanups, newest first, and empties the stack; a cleanup
// may push more, which run next.
func (s *stack) run() {
	for len(s.fns) > 0 {
		fn := s.fns[len(s.fns)-1]
		s.fns = s.fns[:len(s.fns)-1]
		fn()
	}
}
