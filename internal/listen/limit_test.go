package listen

import (
	"net"
	"testing"
	"time"
)

// TestLimit: at the limit Accept waits until a connection is closed, and
// the slot is freed once however often Close is called.
func TestLimit(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Limit([]net.Listener{raw}, 2)[0]
	defer l.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	dial()
	a := <-accepted
	<-accepted
	dial() // waits in the backlog
	select {
	case c := <-accepted:
		t.Fatalf("a third connection was accepted over the limit: %v", c.RemoteAddr())
	default:
	}
	a.Close()
	a.Close() // a second Close frees nothing more
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting connection was not accepted after one closed")
	}
	dial()
	select {
	case c := <-accepted:
		t.Fatalf("accepted over the limit after a double Close: %v", c.RemoteAddr())
	default:
	}
	l.Close()
	if _, ok := <-accepted; ok {
		t.Fatal("Accept returned a connection after Close")
	}
}
