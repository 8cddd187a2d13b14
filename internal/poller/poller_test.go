package poller

import (
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns both ends of a loopback TCP connection, and the raw
// connection of the accepted one.
func pair(t *testing.T) (client, server net.Conn, rc syscall.RawConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	rc, err = server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return client, server, rc
}

func waitEvent(t *testing.T, ch chan uint32, what string) uint32 {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no event: %s", what)
		return 0
	}
}

// Input wakes a registration armed for it, once (EPOLLONESHOT), until
// Modify re-arms it; a FIN is reported as EPOLLRDHUP.
func TestInputOnceThenRearm(t *testing.T) {
	s := Get()
	if s == nil {
		t.Fatal("no epoll")
	}
	client, _, rc := pair(t)
	got := make(chan uint32, 4)
	key, err := s.Add(rc, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLONESHOT, func(ev uint32) { got <- ev })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Forget(key)
	client.Write([]byte("x"))
	if ev := waitEvent(t, got, "input"); ev&unix.EPOLLIN == 0 {
		t.Fatalf("events %#x, want EPOLLIN", ev)
	}
	if err := s.Modify(rc, key, unix.EPOLLRDHUP|unix.EPOLLONESHOT); err != nil {
		t.Fatal(err)
	}
	client.(*net.TCPConn).CloseWrite()
	if ev := waitEvent(t, got, "FIN"); ev&unix.EPOLLRDHUP == 0 {
		t.Fatalf("events %#x, want EPOLLRDHUP", ev)
	}
}

// A socket handed on (a hijacked connection) is taken out with Remove and
// can be registered again by its new owner, whose function then gets its
// events; the first owner's does not.
func TestRemoveThenAddAgain(t *testing.T) {
	s := Get()
	client, _, rc := pair(t)
	first := make(chan uint32, 4)
	key, err := s.Add(rc, unix.EPOLLRDHUP|unix.EPOLLET, func(ev uint32) { first <- ev })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(rc, unix.EPOLLIN, func(uint32) {}); err == nil {
		t.Fatal("a second Add of a registered socket succeeded")
	}
	s.Remove(rc, key)
	second := make(chan uint32, 4)
	key2, err := s.Add(rc, unix.EPOLLIN|unix.EPOLLONESHOT, func(ev uint32) { second <- ev })
	if err != nil {
		t.Fatalf("Add after Remove: %v", err)
	}
	defer s.Forget(key2)
	client.Write([]byte("x"))
	waitEvent(t, second, "input for the new owner")
	select {
	case ev := <-first:
		t.Fatalf("the first owner got %#x after Remove", ev)
	default:
	}
}

// Forget is a barrier: once it returns, the function is not running, so
// what it uses may be released.
func TestForgetWaitsForTheFunction(t *testing.T) {
	s := Get()
	client, _, rc := pair(t)
	in, out := make(chan struct{}), make(chan struct{})
	key, err := s.Add(rc, unix.EPOLLIN|unix.EPOLLONESHOT, func(uint32) { close(in); <-out })
	if err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("x"))
	<-in // the function runs, and holds the set
	forgotten := make(chan struct{})
	go func() { s.Forget(key); close(forgotten) }()
	select {
	case <-forgotten:
		t.Fatal("Forget returned while the function ran")
	default:
	}
	close(out)
	<-forgotten
}
