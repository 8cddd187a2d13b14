package websocket

import (
	"context"
	"sync"
)

// msgOverhead is what a queued message costs beyond its payload, so that a
// flood of empty messages is bounded too.
const msgOverhead = 64

// inQueue holds whole messages between the connection's reader and the
// upstream, bounded by bytes: when it is full the reader waits, stops
// reading the socket, and the transport's flow control (TCP, or HTTP/2's
// window) holds the client. One message is always let in when the queue is
// empty, so a message up to the size limit can always be delivered. One
// goroutine pushes and one pops.
type inQueue struct {
	mu    sync.Mutex
	msgs  []Message
	bytes int
	limit int
	end   error         // set by finish: returned once the messages are taken
	ready chan struct{} // signalled when something can be popped
	space chan struct{} // signalled when room was made
}

func (q *inQueue) init(limit int) {
	q.limit = limit
	q.ready = make(chan struct{}, 1)
	q.space = make(chan struct{}, 1)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push queues m, waiting for room; it returns false when dead closes first.
func (q *inQueue) push(m Message, dead <-chan struct{}) bool {
	cost := len(m.Data) + msgOverhead
	for {
		q.mu.Lock()
		if q.bytes == 0 || q.bytes+cost <= q.limit {
			q.msgs = append(q.msgs, m)
			q.bytes += cost
			q.mu.Unlock()
			signal(q.ready)
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-dead:
			return false
		}
	}
}

// finish records the error pop returns after the last message.
func (q *inQueue) finish(err error) {
	q.mu.Lock()
	if q.end == nil {
		q.end = err
	}
	q.mu.Unlock()
	signal(q.ready)
}

// pop takes the oldest message, waiting for one.
func (q *inQueue) pop(ctx context.Context) (Message, error) {
	for {
		q.mu.Lock()
		if len(q.msgs) > 0 {
			m := q.msgs[0]
			q.msgs[0] = Message{}
			q.msgs = q.msgs[1:]
			if len(q.msgs) == 0 {
				q.msgs = q.msgs[:0:0]
			}
			q.bytes -= len(m.Data) + msgOverhead
			q.mu.Unlock()
			signal(q.space)
			return m, nil
		}
		if q.end != nil {
			err := q.end
			q.mu.Unlock()
			signal(q.ready) // for a later pop
			return Message{}, err
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// queued returns the bytes held (payload and overhead), for tests and
// gauges.
func (q *inQueue) queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}
