// Package wire is the private protocol between the Go front and the Python
// worker processes.
//
// Each worker thread (a "slot") owns one end of a Unix socketpair. Both sides
// exchange frames: a 9-byte header (payload length u32, type u8, request id
// u32, all little-endian) followed by the payload. A slot serves one request
// at a time, so frames of different requests never interleave on a socket;
// the request id is there to tell a stale ABORT from a current one. While
// requests are queued behind the one running, the worker may hold the frame
// that ends a response (W, E, X) and send it with the next one's first
// frames, or before it waits for more requests.
//
// Structured payloads use CPython's marshal format, because marshal.loads and
// marshal.dumps run at C speed in the worker and need nothing beyond the
// standard library. Go writes the subset in EncodeRequest and reads the
// version-2 subset that marshal.dumps(obj, 2) produces in DecodeHead.
//
// Frames, Go → Python:
//
//	R  request: marshal (environ dict[str,str|bool|int], body bytes|None).
//	   body None means the body was spooled to a file whose descriptor
//	   travels with the frame (SCM_RIGHTS). On an ASGI slot, body True
//	   means the body streams: B frames follow as it arrives, then E
//	   (see "Streamed request bodies" below).
//	A  abort: the client went away or the response was refused. It may
//	   come at any time after its R. Before the request has started (it is
//	   queued on the slot behind another), the worker drops it unstarted
//	   and answers E alone, with no head. While it runs, the worker stops
//	   it: WSGI stops iterating, calls close() and ends the response with
//	   E; ASGI delivers http.disconnect. After it ended, it is ignored.
//
// Frames, Python → Go:
//
//	S  start: marshal (status str, headers list[tuple[str,str]]) followed by
//	   the first body bytes (maybe none); more frames follow.
//	W  whole: like S, and the response is complete.
//	B  body bytes.
//	E  end of the response.
//	F  file: like W, but the body is a regular file whose descriptor travels
//	   with the frame (SCM_RIGHTS); the payload ends with the offset and
//	   length (u64 each) to send from it, with sendfile(2).
//	X  error: UTF-8 message; the response is over. Before S it becomes a 500,
//	   after S the client connection is aborted.
//	Y  ready (control socket): marshal dict with the worker's facts.
//	Z  boot failed (control socket): UTF-8 text, a traceback or one line.
//
// With --preload a template process loads the app once and forks the
// workers; its control socket also carries:
//
//	K  fork (Go → template): JSON {"fds": n}; the request id is the new
//	   worker's number. n descriptors travel with the frame (SCM_RIGHTS):
//	   the child's control socket, then one socket per slot.
//	k  forked (template → Go): marshal dict {'pid': int} of the child, or
//	   {'error': str} when fork failed. Always before that child's x.
//	x  exited (template → Go): marshal dict {'pid': int, 'status': int}, a
//	   child reaped with its raw wait status.
//
// A worker's control socket also carries revocation, which lets the front
// take back requests it pipelined on a slot behind one that turned slow,
// as long as they have not started:
//
//	V  revoke (Go → worker): the request id field is the slot's index (0
//	   for the socket on fd 5); the payload is a u32 (little-endian) from.
//	   Every Request queued on that slot, not yet started, with an id >=
//	   from is dropped, except one whose body travels as a descriptor.
//	v  revoked (worker → Go): the request id field is the slot's index;
//	   the payload is marshal (from int, ids list[int]) (see DecodeRevoked),
//	   the revoked request ids in the order they were sent. Those requests
//	   never get a frame; every other request sent on the slot starts
//	   there and is answered as usual. An empty list means nothing was
//	   revoked. One v answers each V, in order.
//
// An ASGI worker (one event loop serving many slots, each with one request
// at a time) uses the same slot frames, but all its slots share one data
// socket: the first slot socket it was given (fd 5; it closes the others
// before Y, and so does Go on a Y that says "asgi"). Each slot's byte
// stream, the frames above, travels inside mux frames, both ways:
//
//	M  mux: the request id field is the slot's index (0 to
//	   --limit-concurrency - 1); the payload is one or more whole frames
//	   of that slot, in order. A frame is never split across M frames.
//	   A descriptor that travels with an inner frame (R with a spooled
//	   body, F) rides on the first byte of the M frame that holds it,
//	   sent in a sendmsg of its own. Each side keeps one queue of the
//	   descriptors received on the socket; an inner frame that needs one
//	   takes the queue's head when it is parsed. That is exact because
//	   each side parses inner frames in stream order as they arrive.
//	N  credit: the request id field is the slot's index; the payload is a
//	   u32 (little-endian), bytes of that slot's flow-controlled frames
//	   the receiver has consumed since its last N. From Go it may carry a
//	   second u32: bytes by which the slot's window grows (see below).
//
// Flow control replaces the socket buffers that bounded each slot's bytes
// when it had a socket of its own, and puts what the front holds for an
// ASGI worker under one total.
//
// Worker → Go: every frame of a slot counts, 9 + its payload. Each
// request starts with the slot's window at MuxFloor and nothing
// unacknowledged: both sides reset the slot's count at its R (Go when it
// releases the slot, after the last frame of the response before; the
// worker when the request starts), so credit never carries over from one
// request to the next. The worker sends a frame when it fits what is left
// of the window, or when less than a quarter of the window is
// unacknowledged (so that a frame larger than the window still goes, all
// but alone); else the application's send() waits. Body frames are at
// most half the window (and at most MuxWindow/2), the first frame of a
// streamed response (S, P) included; a whole response's one frame (W)
// carries at most MuxFloor body bytes with its head. So a slot holds in
// the front at most its window, or a quarter of it and one frame larger
// than it: a whole response (which the front reads at once, and counts
// under the budget below) or a WebSocket message.
//
// Go counts a frame as consumed when its reader asks for the next one
// (the frame it holds while it waits for its client is inside the window)
// and acknowledges once a quarter of the window or more is consumed. The
// window grows while the client keeps up: when the reader has consumed a
// whole window since it last grew, the worker had at least half the window
// in flight at once since then (the window, not the application, is what
// holds it back), and the response's buffer in the front
// (--response-buffer) holds less than a window for its client, Go takes
// the growth (doubling, up to MuxWindow) from the budget that bounds every
// response's memory (--response-memory-total) and sends it with the
// acknowledgement. It goes back to the budget when the slot is released
// (the response ended, was aborted, or the worker died), when the window
// starts again at MuxFloor. Nothing waits for the budget: without room a
// slot streams at MuxFloor. A slot that carries a WebSocket stays at
// MuxFloor. So the bytes the front holds for an ASGI worker's responses
// are bounded by --response-memory-total and MuxFloor (or one whole
// response or WebSocket message) per slot. The growth rides on the
// acknowledgement, not a frame of its own, so that both reach the worker
// together; and the count starts again at each R, rather than the last
// bytes of a response being acknowledged at its end, so that a response
// costs no N frame of its own until a quarter of the floor is consumed
// (a hello costs none).
//
// Go → worker: only WebSocket messages (T, D) and streamed request body
// pieces (B) count, each max(9 + payload, WSWindow/16); Go sends while a
// slot's are below WSWindow (then it stops reading that client), and the
// worker acknowledges each message as the application's receive() takes
// it, or as it drops those that come after the application returned (at
// WSWindow/16, which every message costs). Besides, all the slots of one
// worker together have a total (Go's wsWorkerCredit): a message goes
// without it when nothing of its slot is unacknowledged (one message per
// WebSocket or body, whatever the others do), and from it otherwise;
// without room, it waits for the worker's acknowledgements. R, A and E
// frames do not count. Every
// acknowledgement threshold is below its window, so a reader that
// consumes everything always lets its sender go on.
//
// On its control socket an ASGI worker also sends:
//
//	H  heartbeat (worker → Go): sent from an event-loop callback while
//	   the loop runs. A worker whose heartbeats stop for --timeout has a
//	   blocked event loop. The payload, empty or a u32, is how late the
//	   callback ran, in microseconds (the loop's lag, for metrics).
//
//	Q  going away (Go → worker), just before the control socket closes:
//	   the payload is a u32, the grace in milliseconds; the request id
//	   field is the reason (GoAwayShutdown, GoAwayRestart). Requests
//	   still running once the grace is over are told "going away" (an
//	   HTTP request's receive() returns http.disconnect and the client
//	   gets 503 if no head went out; a WebSocket closes with 1001 for a
//	   shutdown, 1012 for a restart), their tasks are cancelled, the
//	   lifespan shutdown runs and the worker exits. Without it, EOF on
//	   the control socket grants the shim's default grace.
//
// An ASGI response may also use these (Python → Go), for the extensions
// http.response.early_hint and http.response.trailers:
//
//	I  interim: an informational response before the head (S, W, F, P),
//	   laid out as a head with no body: marshal (status str, headers
//	   list[tuple[str,str]]), e.g. ("103 Early Hints", [("Link", ...)]).
//	   There may be several; Go sends each where the protocol allows a
//	   1xx response, else drops it.
//	P  start with trailers: like S, and the response ends with L (or X,
//	   or an E that drops the trailers). After the head come a u16 n
//	   (little-endian) and n latin-1 bytes, the trailer names the
//	   application declared (its Trailer header; may be empty), then the
//	   first body bytes.
//	L  trailers: the trailer fields, laid out as a head with an empty
//	   status: marshal ("", fields list[tuple[str,str]]); the response is
//	   complete.
//
// Streamed request bodies (ASGI only). When an HTTP request's body is not
// whole in the front when its head is parsed, the front sends the R at
// once with body True, and the body as it arrives from the client, every
// frame with the request's id:
//
//	B  (Go → worker) body bytes: the next piece of the request body;
//	   receive() returns them as http.request with more_body True.
//	E  (Go → worker) the body is complete: the last http.request has
//	   more_body False. An A instead means the client went away, or the
//	   body broke a limit (the front answers 413, 408 or 400 itself):
//	   receive() returns http.disconnect.
//	G  body wanted (worker → Go, on the mux, like N): the request id
//	   field is the slot's index; the payload is a u32 (little-endian),
//	   the request's id. The application called receive() for the first
//	   time. A request whose client sent "Expect: 100-continue" has its
//	   body read from the client only from then on, so the 100 goes out
//	   when the application asks for the body, and never when it answers
//	   without reading it.
//
// B frames are flow-controlled as WebSocket messages are (below): each
// costs max(9 + payload, WSWindow/16) against the slot's WSWindow and the
// worker's total, and the worker acknowledges it (N) as receive() takes
// it, or as it drops it: one that comes for a request that has ended, or
// after the application returned. So an application that does not
// receive() stops the front reading its client after WSWindow, and TCP or
// HTTP/2 flow control holds the client. The front stops sending B frames
// once the response has ended; receive() then says http.disconnect, as it
// does after the response.
//
// On an ASGI slot, A (abort) means the client has gone: the request's
// receive() returns http.disconnect, and send() raises. The worker answers
// E once the application returns (also when no head went out), or drops
// the request unstarted with an E when it had not begun.
//
// A WebSocket (ASGI only) is a Request whose environ has gowsgi.websocket;
// the slot stays with it for the connection's life, and frames flow both
// ways, every one with the request's id:
//
//	O  accept (worker → Go): the app's websocket.accept, laid out as a
//	   response head: marshal (subprotocol str, "" for none, headers
//	   list[tuple[str,str]]) (see DecodeHead). Go sends the 101 (or
//	   HTTP/2's 200).
//	T  text message, both ways: its UTF-8 bytes (websocket.receive and
//	   websocket.send with "text").
//	D  binary message, both ways (with "bytes").
//	C  close (worker → Go): u16 code (little-endian) and the UTF-8 reason,
//	   the app's websocket.close; before O, Go answers 403.
//	A  (Go → worker) with a u16 code (little-endian) and the client's
//	   UTF-8 close reason (maybe empty): the connection closed with that
//	   code; receive() returns websocket.disconnect with both.
//
// Instead of O the worker may answer the handshake with an HTTP response
// (S, W, B, E: the websocket.http.response extension), or X. A WebSocket
// ends, as a request does, with the worker's E (or X) once the app
// returns.
//
// A worker's control socket also carries stack dumps, which --timeout asks
// for:
//
//	U  dump (Go → worker): no payload; the request id field is a number
//	   the answer repeats. The worker's main thread writes every thread's
//	   Python stack to stderr, holding the GIL.
//	u  dumped (worker → Go): no payload; the stacks of the U with this
//	   request id are written. A worker that cannot answer (a thread holds
//	   the GIL inside C) gets SIGUSR1 instead, for faulthandler.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the length of a frame header.
const HeaderSize = 9

// MaxPayload bounds a frame's payload; a worker that announces more is
// broken and gets killed.
const MaxPayload = 64 << 20

// Type is a frame type.
type Type byte

// Frame types; see the package documentation.
const (
	Request    Type = 'R'
	Abort      Type = 'A'
	Start      Type = 'S'
	Whole      Type = 'W'
	Body       Type = 'B'
	End        Type = 'E'
	Error      Type = 'X'
	File       Type = 'F'
	Ready      Type = 'Y'
	BootFailed Type = 'Z'
	Fork       Type = 'K'
	Forked     Type = 'k'
	Exited     Type = 'x'
	Revoke     Type = 'V'
	Revoked    Type = 'v'
	Mux        Type = 'M'
	Credit     Type = 'N'
	Heartbeat  Type = 'H'
	WSAccept   Type = 'O'
	WSText     Type = 'T'
	WSBinary   Type = 'D'
	WSClose    Type = 'C'
	GoAway     Type = 'Q'
	Dump       Type = 'U'
	Dumped     Type = 'u'
	BodyWanted Type = 'G'
)

// Frame types of ASGI's response extensions (early hints, trailers).
const (
	Interim       Type = 'I'
	StartTrailers Type = 'P'
	Trailers      Type = 'L'
)

// Flow control windows on an ASGI worker's mux; see the package
// documentation.
const (
	// MuxFloor is worker → Go, per slot: the window each request starts
	// with, which needs no budget (uvicorn's transport buffers 64 KiB per
	// connection before its send() waits). 300 clients reading nothing of
	// 100 MiB responses grew the front by 387 MiB with every slot at a
	// fixed 512 KiB window; see bench/RESULTS.md, "Issue 17/18: a total
	// bound on buffered bytes", for what they take with the floor.
	MuxFloor = 64 << 10
	// MuxWindow is the most a slot's window grows to, from the response
	// memory budget, while its client keeps up: a large response streams
	// as fast as with a fixed window of this size (a 256 KiB window
	// streamed a quarter slower).
	MuxWindow = 512 << 10
	WSWindow  = 1 << 20 // Go → worker, per WebSocket
)

// Reasons of a GoAway frame, in its request id field.
const (
	GoAwayShutdown uint32 = 0 // the server stops
	GoAwayRestart  uint32 = 1 // the worker is replaced: reload, recycling, scale-down
)

func (t Type) String() string {
	switch t {
	case Request, Abort, Start, Whole, Body, End, Error, File, Ready, BootFailed, Fork, Forked, Exited, Revoke, Revoked, Mux, Credit, Heartbeat,
		WSAccept, WSText, WSBinary, WSClose, GoAway, Dump, Dumped, Interim, StartTrailers, Trailers, BodyWanted:
		return string(rune(t))
	}
	return fmt.Sprintf("0x%02x", byte(t))
}

// Header is a decoded frame header.
type Header struct {
	Len  int
	Type Type
	ID   uint32
}

// ErrFrameTooLarge reports a header announcing more than MaxPayload bytes.
var ErrFrameTooLarge = errors.New("wire: frame larger than MaxPayload")

// AppendHeader appends a frame header for a payload of n bytes.
func AppendHeader(dst []byte, t Type, id uint32, n int) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, byte(t))
	return binary.LittleEndian.AppendUint32(dst, id)
}

// ParseHeader decodes the first HeaderSize bytes of b.
func ParseHeader(b []byte) (Header, error) {
	_ = b[HeaderSize-1]
	n := binary.LittleEndian.Uint32(b)
	if n > MaxPayload {
		return Header{}, ErrFrameTooLarge
	}
	return Header{Len: int(n), Type: Type(b[4]), ID: binary.LittleEndian.Uint32(b[5:])}, nil
}
