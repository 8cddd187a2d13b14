"""gowsgi's wire, Python side: frame I/O on a worker's sockets.

The frames are described in internal/wire/wire.go. A Slot is one worker
thread's end of a slot socket: it reads request-side frames (Request, Abort,
descriptors), answers the main thread's Revoke, and writes response frames,
holding the last frames of pipelined responses so that several leave in one
send (see Slot.finish). What a request means is the interface's business: a
subclass gives Slot its handle() (wsgi.py's WSGISlot). serve_control is the
main thread's loop on the control socket. Standard library only; Python 3.8+.
"""

import io
import marshal
import os
import select
import socket
import stat
import struct
import sys
import threading
from collections import deque
from time import perf_counter

HDR = struct.Struct('<IBI')
T_REQUEST, T_ABORT = ord('R'), ord('A')
T_START, T_WHOLE, T_BODY, T_END, T_ERROR, T_FILE = b'SWBEXF'
OFFSET_COUNT = struct.Struct('<QQ')
MAX_FRAME_BODY = 4 << 20  # larger body items are split, bounding the front's buffer per slot
T_READY, T_BOOT_FAILED = ord('Y'), ord('Z')
T_FORK, T_FORKED, T_EXITED = ord('K'), ord('k'), ord('x')
T_REVOKE, T_REVOKED = ord('V'), ord('v')
U32 = struct.Struct('<I')
ANC_SIZE = socket.CMSG_SPACE(4 * 4)
# Holding end frames (see Slot.finish): a response that ends while more
# requests are queued on its slot goes out with the next ones' frames, one
# send for several responses. A held response waits for the runs of the
# requests after it, so this pays only while runs are short. Nothing is
# held while a request takes more than HOLD_MAX_WAIT seconds on the slot
# (a moving average), and what is held goes out once the oldest of it has
# waited that long: a response then waits about HOLD_MAX_WAIT and one
# more request's run at most. At 200 us the send saved (a few us of worker
# CPU) is still a percent or two of a request's cost, and the wait is well
# inside what the front's pipelining accepts (it queues only behind slots
# answering within 1 ms); for slower requests the saving is noise and the
# wait is not.
HOLD_MAX_WAIT = 200e-6
# Should the request after held frames turn out slow, or hang, the worker's
# main thread sends them: it looks every HOLD_CHECK seconds while requests
# come (Slot.watched; see serve_control), so a finished response waits at
# most about that long, plus the GIL's switch interval when the slow
# request keeps the interpreter busy. Nothing is held while it does not look.
HOLD_CHECK = float(os.environ.get('GOWSGI_TEST_HOLD_CHECK') or 0.005)  # tests stretch it
HOLD_MAX_BYTES = 64 << 10  # more payload held than this goes out at once
HOLD_JOIN_MAX = 16 << 10  # held blocks of a response are joined into one frame up to this
_loads, _dumps, _pack = marshal.loads, marshal.dumps, HDR.pack


def log(msg):
    sys.stderr.write('[gowsgi worker %d] %s\n' % (os.getpid(), msg))
    sys.stderr.flush()


def error_payload(exc):
    """The payload of an Error frame for exc: its type and message, for the
    front's log (the traceback went to the worker's own log)."""
    try:
        text = str(exc)
    except BaseException:
        text = '(unprintable)'
    return ('%s: %s' % (type(exc).__name__, text)).encode('utf-8', 'replace')


class Slot:
    """One worker thread's end of the wire: reads request frames, hands each
    request to handle() (the interface's, in a subclass), writes response
    frames.

    While the front has more requests queued on the slot, the frame that
    ends a response is held and goes out with the next frames (see finish):
    a burst of short requests costs one send, not one per request. Frames
    always leave in the order they were made."""

    watched = True  # the main thread looks for frames held too long
    wake_fd = None  # serve_control's wake-up pipe (write end), see watch

    @classmethod
    def watch(cls):
        """Make the main thread look for held frames again: after a second
        without requests it looks only once a second, and a request that
        comes then wakes it (one write per idle spell), so the first
        requests after an idle spell are held and batched like the rest."""
        cls.watched = True
        if cls.wake_fd is not None:
            try:
                os.write(cls.wake_fd, b'w')
            except OSError:
                pass  # the pipe is full: the main thread is woken already

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray(1 << 16)
        self.view = memoryview(self.buf)
        self.start = self.end = 0
        self.fds = deque()
        self.queue = deque()
        self.aborted = set()
        # lock guards buf, queue, fds and aborted against the main thread,
        # which drains the socket to answer a Revoke (see revoke). The slot's
        # thread holds it while it waits for frames, with reading set, so an
        # idle slot costs one acquire and release per request.
        self.lock = threading.Lock()
        self.reading = False
        # End frames not sent yet (see finish), their size, when the
        # request of the oldest began, when the current one began, and a
        # moving average of how long a request takes here (perf_counter
        # seconds). Only the slot's thread uses them.
        self.held = []
        self.held_size = 0
        self.wlock = threading.Lock()  # the socket's writes and held
        self.held_at = 0.0
        self.began = perf_counter()  # a new worker counts as busy (Slot.watched)
        self.cost = 0.0

    # Reading. Frames are taken off the socket as they come, several at a
    # time when the front pipelines requests; Abort frames are noted at once
    # so a running response can see them, the rest queue in order.

    def _fill(self, flags=0):
        """Read more bytes into the buffer and parse them; False at EOF."""
        if self.start == self.end:
            self.start = self.end = 0
        n, anc, _, _ = self.sock.recvmsg_into([self.view[self.end:]], ANC_SIZE, flags)
        if anc:
            self.fds.extend(received_fds(anc))
        self.end += n
        self._parse()
        return n > 0

    def _parse(self):
        buf, start, end = self.buf, self.start, self.end
        while end - start >= 9:
            n, t, rid = HDR.unpack_from(buf, start)
            if end - start < 9 + n:
                break
            if t == T_ABORT:
                self.aborted.add(rid)
            elif t == T_REQUEST:
                # Decoded here, straight from the buffer: a body is copied
                # once, into the bytes the application gets.
                try:
                    req = _loads(self.view[start + 9:start + 9 + n])
                except Exception as e:
                    req = e  # raised when the request's turn comes
                self.queue.append((t, rid, req))
            else:
                self.queue.append((t, rid, bytes(self.view[start + 9:start + 9 + n])))
            start += 9 + n
        self.start = start
        # Make room for the rest of a partial frame.
        avail = end - start
        need = 9 + HDR.unpack_from(buf, start)[0] if avail >= 9 else 9
        if need > len(buf):
            nbuf = bytearray(max(need, 1 << 16))
            nbuf[:avail] = self.view[start:end]
            self.buf, self.view = nbuf, memoryview(nbuf)
            self.start, self.end = 0, avail
        elif need > len(buf) - start:
            buf[:avail] = self.view[start:end]
            self.start, self.end = 0, avail

    def next_frame(self):
        """The next request-side frame as (type, id, payload), a request's
        payload decoded to (environ, body), or None when
        the front closed the socket. Held frames go out before it waits."""
        while True:
            if self.held and not self.queue:
                self.flush()  # outside the lock, which revoke needs meanwhile
            with self.lock:
                if self.queue:
                    return self.queue.popleft()
                if self.held:
                    continue  # revoke emptied the queue after the check above
                self.reading = True
                try:
                    more = self._fill()
                finally:
                    self.reading = False
                if not more:
                    return None

    def abort_requested(self, rid):
        """Whether the front has asked to abort request rid. Never blocks."""
        with self.lock:
            if rid not in self.aborted:
                try:
                    if not self._fill(socket.MSG_DONTWAIT):
                        self.aborted.add(rid)  # the front is gone
                except BlockingIOError:
                    pass
            return rid in self.aborted

    def revoke(self, first):
        """Called by the main thread for a Revoke frame: take every queued,
        not yet started request with id >= first off this slot and return
        their ids in order. Returns [] when the slot's thread is waiting for
        frames: its queue is empty, so whatever the front sent will start
        here. A request whose body travels as a descriptor is never revoked."""
        if self.reading:
            return []
        # The slot's thread holds the lock while it waits for frames; a
        # timed acquire lets that be told apart from a short critical section.
        while not self.lock.acquire(timeout=0.001):
            if self.reading:
                return []
        try:
            # Parse every frame the front has sent so far.
            while True:
                try:
                    if not self._fill(socket.MSG_DONTWAIT):
                        break  # the front closed the socket
                except BlockingIOError:
                    break
            keep, gone = deque(), []
            for f in self.queue:
                t, rid, req = f
                if t == T_REQUEST and rid >= first and not (type(req) is tuple and req[1] is None):
                    gone.append(rid)
                else:
                    keep.append(f)
            if gone:
                self.queue = keep
            return gone
        finally:
            self.lock.release()

    # Writing.

    def send(self, parts):
        """Write one frame now, after the held ones."""
        with self.wlock:
            self._send(parts)

    def _send(self, parts):
        """send, with wlock held. Small frames are joined (cheaper than
        sendmsg's iovec set-up); large ones go out with sendmsg, without a
        copy."""
        if self.held:
            self.held += parts
            parts, self.held, self.held_size = self.held, [], 0
        if len(parts) == 1:
            self.sock.sendall(parts[0])
            return
        total = sum(map(len, parts))
        if total <= HOLD_JOIN_MAX or len(parts) > 512:  # sendmsg takes at most IOV_MAX parts
            self.sock.sendall(b''.join(parts))
            return
        sent = self.sock.sendmsg(parts)
        if sent < total:
            self.sock.sendall(b''.join(parts)[sent:])

    def finish(self, parts, size):
        """Write a frame that ends a response (Whole, End, Error; its
        payload is size bytes). While another request is queued on the
        slot, requests here are short and nothing held has waited long
        (HOLD_MAX_WAIT), it is held instead: it goes out with the next frame
        sent, at the latest before the slot waits for frames (next_frame).
        Streamed Start and Body frames, and File frames, are never held.

        Should the request that follows turn out slow (a cold path after a
        run of fast ones), or hang, the main thread sends what is held
        (flush_stale), so a response waits about HOLD_CHECK at most. One
        slow request also stops the holding here until the average is
        short again (some 20 requests after a 20 ms one)."""
        with self.wlock:
            if not self.held:
                self.held_at = self.began
            if (Slot.watched and self.queue and self.cost < HOLD_MAX_WAIT
                    and self.began - self.held_at < HOLD_MAX_WAIT):
                self.held += parts
                self.held_size += size
                if self.held_size <= HOLD_MAX_BYTES:
                    return
                parts = ()
            self._send(parts)

    def flush(self):
        """Send the held frames."""
        with self.wlock:
            self._flush()

    def _flush(self):
        """flush, with wlock held. When the send fails the front has closed
        its end: the frames are dropped, as a failed send in handle drops
        its frame, and the slot's next read or write finds the stream gone."""
        if self.held:
            try:
                self._send(())
            except OSError:
                pass

    def flush_stale(self, now):
        """Called by the main thread every HOLD_CHECK seconds: send what was
        held for a request that began HOLD_CHECK or more ago. The request
        after it turned out slow (or hangs), and a finished response must
        not wait for it. Skipped while the slot's thread is sending, which
        sends what is held anyway."""
        if self.held and now - self.held_at >= HOLD_CHECK and self.wlock.acquire(False):
            try:
                self._flush()
            finally:
                self.wlock.release()

    def send_head(self, ftype, rid, state, data):
        status, headers = state
        try:
            head = _dumps((status, headers), 2)
        except ValueError:
            raise TypeError(describe_bad_head(status, headers)) from None
        if len(data) <= MAX_FRAME_BODY:
            n = len(head) + len(data)
            if ftype == T_WHOLE:
                self.finish((_pack(n, ftype, rid), head, data), n)
            else:
                self.send((_pack(n, ftype, rid), head, data))
            return
        data = memoryview(data)
        self.send((_pack(len(head) + MAX_FRAME_BODY, T_START, rid), head, data[:MAX_FRAME_BODY]))
        self.send_body(rid, data[MAX_FRAME_BODY:])
        if ftype == T_WHOLE:
            self.finish((_pack(0, T_END, rid),), 0)

    def hold_start(self, rid, state, data):
        """Make the Start frame of a streamed response with its first block
        and hold it (see hold_body): blocks the iterable has ready join it,
        and should the iterable end before it goes out, end_whole turns it
        into a Whole frame, so a generator that is done at once costs one
        frame and gets a Content-Length like a one-item list (the front
        then knows the whole body). Returns the token hold_body and
        end_whole take, or None when the frame was sent (nothing is held
        while the main thread does not look, or for a large block)."""
        status, headers = state
        try:
            head = _dumps((status, headers), 2)
        except ValueError:
            raise TypeError(describe_bad_head(status, headers)) from None
        n = len(head) + len(data)
        if Slot.watched and n <= HOLD_MAX_BYTES:
            with self.wlock:
                if self.held_size + n <= HOLD_MAX_BYTES:
                    if not self.held:
                        self.held_at = self.began
                    held = self.held
                    i = len(held)
                    held += (_pack(n, T_START, rid), head, data)
                    self.held_size += n
                    return (held, i, T_START, rid)
        if len(data) <= MAX_FRAME_BODY:
            self.send((_pack(n, T_START, rid), head, data))
        else:
            self.send_head(T_START, rid, state, data)
        return None

    def hold_body(self, rid, data, token):
        """Send a body block of a streamed response, or add it to the
        response's held frames (token: what hold_start or the last
        hold_body returned) while they are unsent and small: the blocks an
        iterable has ready go out in one send, small ones joined into the
        held frame's payload. A block goes out at once when nothing of
        this response is held any more (the main thread sent it because
        the iterable is slow: a slow stream is not held back further).
        Returns the token for the next block; None: send it at once."""
        n = len(data)
        with self.wlock:
            if token is not None and self.held is token[0] and self.held_size + n <= HOLD_MAX_BYTES:
                held, i, kind, _ = token
                self.held_size += n
                tail = held[-1]
                if len(tail) + n <= HOLD_JOIN_MAX and len(held) == i + (3 if kind == T_START else 2):
                    # Join it to the payload of the response's last frame
                    # (a send copies this much into one buffer anyway).
                    if type(tail) is not bytearray:
                        tail = held[-1] = bytearray(tail)
                    tail += data
                    held[i] = _pack(len(tail) + (len(held[i + 1]) if kind == T_START else 0), kind, rid)
                    return token
                i = len(held)
                held += (_pack(n, T_BODY, rid), data)
                return (held, i, T_BODY, rid)
            if token is not None and self.held is token[0]:
                # Full: what is held goes now, and this block opens a new batch.
                self._send(())
                if n <= HOLD_MAX_BYTES:
                    self.held_at = perf_counter()
                    held = self.held
                    held += (_pack(n, T_BODY, rid), data)
                    self.held_size = n
                    return (held, 0, T_BODY, rid)
        self.send_body(rid, data)
        return None

    def end_whole(self, token):
        """End a response whose held Start frame (token, from hold_start or
        hold_body) is still unsent and last: it becomes a Whole frame,
        finished as finish does. False when it has gone out or Body frames
        followed it: the caller ends the response with an End frame."""
        held, i, kind, rid = token
        with self.wlock:
            if kind != T_START or self.held is not held or len(held) != i + 3:
                return False
            held[i] = _pack(len(held[i + 1]) + len(held[i + 2]), T_WHOLE, rid)
        self.finish((), 0)
        return True

    def send_body(self, rid, data):
        """Send body bytes, in frames of at most MAX_FRAME_BODY so the front
        never needs more than that in memory for one slot."""
        if len(data) <= MAX_FRAME_BODY:
            self.send((_pack(len(data), T_BODY, rid), data))
            return
        data = memoryview(data)
        for i in range(0, len(data), MAX_FRAME_BODY):
            part = data[i:i + MAX_FRAME_BODY]
            self.send((_pack(len(part), T_BODY, rid), part))

    def send_file(self, rid, state, f):
        """Hand the regular file behind the file object f to the front,
        which sends it with sendfile(2): one File frame with the head, the
        offset and length, and the descriptor. False when f has no real
        file behind it; the caller then sends its bytes."""
        try:
            fd = f.fileno()
            st = os.fstat(fd)
            offset = f.tell() if hasattr(f, 'tell') else os.lseek(fd, 0, os.SEEK_CUR)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return False
        if not stat.S_ISREG(st.st_mode) or offset > st.st_size:
            return False
        status, headers = state
        try:
            head = _dumps((status, headers), 2)
        except ValueError:
            raise TypeError(describe_bad_head(status, headers)) from None
        tail = OFFSET_COUNT.pack(offset, st.st_size - offset)
        hdr = _pack(len(head) + len(tail), T_FILE, rid)
        with self.wlock:
            if self.held:  # the descriptor travels with this send alone
                self._send(())
            self.sock.sendmsg([hdr, head, tail], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('i', fd))])
        return True

    # Serving.

    def handle(self, rid, req):
        """Run request rid (req: the decoded Request payload, or the
        exception marshal raised on it) and send its response frames."""
        raise NotImplementedError

    def canceled(self, rid, req):
        """Whether request rid, about to start, was aborted already (its
        client went away while it was queued here): then it is dropped,
        answered with End alone. Aborts for requests before it are
        forgotten; those for requests queued behind it are kept."""
        with self.lock:
            if rid not in self.aborted:
                self.aborted = {a for a in self.aborted if 0 < (a - rid) & 0xffffffff < 0x80000000}
                return False
            self.aborted.discard(rid)
            if type(req) is tuple and req[1] is None:
                os.close(self.fds.popleft())  # the spooled body's descriptor
        self.finish((_pack(0, T_END, rid),), 0)
        return True

    def serve(self):
        """Handle the slot's requests in order until the front closes it."""
        try:
            while True:
                f = self.next_frame()
                if f is None:
                    return
                t, rid, payload = f
                if t == T_REQUEST:
                    if self.aborted and self.canceled(rid, payload):
                        continue
                    self.began = began = perf_counter()
                    if not Slot.watched:
                        Slot.watch()  # after began: the main thread sees it busy
                    self.handle(rid, payload)
                    self.cost += (perf_counter() - began - self.cost) / 8
        finally:
            self.flush()  # nothing held is lost, however the thread ends


def describe_bad_head(status, headers):
    """A plain-words reason why marshal could not encode the head."""
    if type(status) is not str:
        return 'status must be str, not %s' % type(status).__name__
    if type(headers) is not list:
        return 'response headers must be a list, not %s' % type(headers).__name__
    for i, h in enumerate(headers):
        if type(h) is not tuple or len(h) != 2:
            return 'response header %d must be a (name, value) tuple, not %r' % (i, h)
        for part in h:
            if type(part) is not str:
                return 'response header %r: %r is of type %s, not str' % (h[0], part, type(part).__name__)
    return 'response head cannot be encoded'


def received_fds(anc):
    """The descriptors that came with a recvmsg (its SCM_RIGHTS data)."""
    fds = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(struct.unpack('%di' % (len(data) // 4), data[:len(data) - len(data) % 4]))
    return fds


def take_frames(buf):
    """Take the complete frames off the front of buf (a bytearray) and
    return them as (type, id, payload) tuples; a partial frame stays. For
    control sockets: slots parse their frames in place (Slot._parse)."""
    frames = []
    while len(buf) >= 9:
        n, ftype, fid = HDR.unpack_from(buf)
        if len(buf) < 9 + n:
            break
        frames.append((ftype, fid, bytes(buf[9:9 + n])))
        del buf[:9 + n]
    return frames


def send_frame(sock, ftype, payload, fid=0):
    sock.sendall(_pack(len(payload), ftype, fid) + payload)


def serve_control(control, slots):
    """Answer the front's control frames until it closes the control
    socket, which asks for an exit once it has drained this worker's slots.
    Only this thread writes the control socket after Ready. Between frames
    it sends what the slots held too long (Slot.flush_stale): every
    HOLD_CHECK seconds while a request began in the last second, else it
    looks once a second, nothing is held, and the next request wakes it
    (Slot.watch)."""
    buf = bytearray()
    wake, Slot.wake_fd = os.pipe()
    os.set_blocking(wake, False)
    os.set_blocking(Slot.wake_fd, False)
    try:
        while True:
            ready = select.select([control, wake], [], [], HOLD_CHECK if Slot.watched else 1.0)[0]
            if not ready:
                now = perf_counter()
                for slot in slots:
                    slot.flush_stale(now)
                Slot.watched = now - max(slot.began for slot in slots) < 1.0
                continue
            if wake in ready:
                try:
                    os.read(wake, 4096)
                except OSError:
                    pass
                Slot.watched = True  # a request began (Slot.watch)
                if control not in ready:
                    continue
            data = control.recv(1 << 16)
            if not data:
                return
            buf += data
            for ftype, fid, payload in take_frames(buf):
                n = len(payload)
                if ftype == T_REVOKE and n == 4 and fid < len(slots):
                    first = U32.unpack(payload)[0]
                    gone = slots[fid].revoke(first)
                    send_frame(control, T_REVOKED, _dumps((first, gone), 2), fid)
                else:
                    log('ignoring a control frame %r for slot %d with %d bytes' % (chr(ftype), fid, n))
    except OSError:
        pass
