package workers

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/pyshim"
	"github.com/gowsgi/gowsgi/internal/wire"
)

// Worker is one Python worker process and its slots.
type Worker struct {
	ID  int // stable, small, for logs: "worker 3"
	PID int
	Gen int // generation: bumped by each reload

	pool     *Pool
	proc     process
	control  *net.UnixConn
	ctlMu    sync.Mutex // serialises writes on control
	slots    []*Slot
	mx       *mux         // an ASGI worker's data socket, which carries all its slots
	files    []string     // the app's own source files, as the worker reported them
	template *template    // with --preload, the template it was forked from
	asgi     bool         // serves an ASGI app on one event loop (set before it serves)
	loop     string       // an ASGI worker's event loop ("uvloop", "asyncio"), for the log
	beat     atomic.Int64 // ASGI: when its last heartbeat came (unix ns)

	// Data-plane state, read on every dispatch.
	retiring    atomic.Bool  // takes no new requests
	busy        atomic.Int32 // requests on its slots now
	stuck       atomic.Int32 // of those, requests that ran past --timeout
	served      atomic.Int64 // requests finished
	maxRequests int64        // recycle after this many; 0 = never
	recycleSent atomic.Bool  // the supervisor has been told to recycle it

	// Supervisor state: touched only by the supervisor loop.
	serving         bool   // in service (its slots are handed out)
	leaving         bool   // to be replaced; retires once the replacement serves
	why             string // why it is leaving or retired, for logs
	reason          string // the same as an Exit* constant, for the Observer
	killWhenDrained bool   // timed out: killed, not stopped, once drained
	stopSent        bool
	abortSent       bool // SIGABRT sent for worker_abort (Process.AbortGrace)
	stacksLogged    bool // an ASGI worker that would not stop: its stacks were dumped before the kill
	expected        bool // its exit is not a crash

	// Stack dumps (dumpStacks), guarded by dumpMu.
	dumpMu   sync.Mutex
	dumpSeq  uint32                   // Dump frames sent
	dumpAcks map[uint32]chan struct{} // closed by readControl on its Dumped
	dumpDone chan struct{}            // the latest dump is over; nil: none asked
}

// String names the worker for logs.
func (w *Worker) String() string {
	if w.ID == templateID {
		return fmt.Sprintf("preload template (pid %d)", w.PID)
	}
	return fmt.Sprintf("worker %d (pid %d)", w.ID, w.PID)
}

// Exited is closed when the process has ended.
func (w *Worker) Exited() <-chan struct{} { return w.proc.Exited() }

// ExitStatus describes how the process ended ("exit status 1", "signal:
// killed"); empty while it runs.
func (w *Worker) ExitStatus() string {
	select {
	case <-w.proc.Exited():
		return w.proc.ExitStatus()
	default:
		return ""
	}
}

func (w *Worker) alive() bool {
	select {
	case <-w.proc.Exited():
		return false
	default:
		return true
	}
}

// BootError is a worker that could not load the application; Detail is the
// Python traceback or a one-line reason.
type BootError struct {
	Detail string
	// Status is the exit status the failure stands for (see ExitStatus):
	// the ID of the worker's BootFailed frame, 0 when it sent none.
	Status int
}

func (e *BootError) Error() string { return strings.TrimRight(e.Detail, "\n") }

// Exit statuses of a boot failure, gunicorn's arbiter's: gowsgi exits
// with them when its workers cannot start (README, "Exit statuses").
const (
	// ExitWorkerBoot (gunicorn's WORKER_BOOT_ERROR; uvicorn's exit for a
	// failed lifespan startup): a worker could not boot: the app's module
	// did not import or raised, its lifespan startup failed, raised or
	// timed out, or the worker died or hung while booting.
	ExitWorkerBoot = 3
	// ExitAppLoad (gunicorn's APP_LOAD_ERROR): the module imported but
	// the callable named is not in it, or is not callable.
	ExitAppLoad = 4
)

// ExitStatus is the exit status for e: ExitAppLoad when the worker said
// so, else ExitWorkerBoot.
func (e *BootError) ExitStatus() int {
	if e.Status == ExitAppLoad {
		return ExitAppLoad
	}
	return ExitWorkerBoot
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// slotSocketBuffer is the socket buffer size asked for each slot socket
// (an ASGI worker's mux included): room for a large response in flight, so
// a worker streaming a big body is not woken for every few hundred KiB
// (the kernel caps it at net.core.wmem_max).
const slotSocketBuffer = 1 << 20

// socketpairs makes n connected pairs: gowsgi's ends and the child's.
func socketpairs(n int) (parent, child []*os.File, err error) {
	for i := 0; i < n; i++ {
		fds, err := cloexecSocketpair()
		if err != nil {
			closeAll(parent)
			closeAll(child)
			return nil, nil, fmt.Errorf("socketpair: %w", err)
		}
		for _, fd := range fds {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, slotSocketBuffer)
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, slotSocketBuffer)
		}
		parent = append(parent, os.NewFile(uintptr(fds[0]), "gowsgi-slot"))
		child = append(child, os.NewFile(uintptr(fds[1]), "gowsgi-slot-child"))
	}
	return parent, child, nil
}

// attach turns gowsgi's ends of a worker's socketpairs into its control
// connection and slots.
func (w *Worker) attach(parent []*os.File) error {
	conns := make([]*net.UnixConn, 0, len(parent))
	var err error
	for _, f := range parent {
		if err == nil {
			var c net.Conn
			if c, err = net.FileConn(f); err == nil {
				conns = append(conns, c.(*net.UnixConn))
			}
		}
		f.Close()
	}
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return err
	}
	w.control = conns[0]
	for i, c := range conns[1:] {
		w.slots = append(w.slots, newSlot(w, i, c))
	}
	return nil
}

// spawn starts a worker process and waits until it has loaded the app.
// With --preload the worker is forked from the current template.
func (p *Pool) spawn(ctx context.Context, id int, env EnvChanges) (*Worker, error) {
	if p.spawnFn != nil {
		return p.spawnFn(ctx, id) // unit tests: fake workers
	}
	if p.opts.Preload {
		return p.forkWorker(ctx, id, env)
	}
	return p.spawnExec(ctx, id, "", p.socketCount(), env)
}

// spawnExec starts an interpreter running the shim in mode ("" for a worker,
// "template" for the --preload template) with nslots slot sockets, and waits
// until it has loaded the app. env are the master hooks' changes to its
// environment (Hooks.PreFork).
func (p *Pool) spawnExec(ctx context.Context, id int, mode string, nslots int, env EnvChanges) (*Worker, error) {
	o := p.opts
	srcR, srcW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	parent, child, err := socketpairs(nslots + 1)
	if err != nil {
		srcR.Close()
		srcW.Close()
		return nil, err
	}
	child = append([]*os.File{srcR}, child...)

	cfg := pyshim.Config{Target: o.Target, Chdir: o.Chdir, PythonPath: o.PythonPath, Threads: o.Threads, Workers: o.Workers, Mode: mode, LogConfig: o.LogConfig,
		Age: id, MasterPID: os.Getpid(), Hooks: o.Process.HookFile, HookNames: o.Process.HookNames,
		ProcName: o.Process.ProcName, ServerSoftware: o.Process.ServerSoftware, PasteGlobal: o.Process.PasteGlobal,
		Slots: nslots, Interface: o.Interface, Lifespan: o.Lifespan, Loop: o.Loop}
	if o.RequestTimeout > 0 {
		cfg.RequestTimeout = o.RequestTimeout.Seconds()
	}
	if o.Timeout > 0 {
		cfg.Heartbeat = heartbeatEvery(o.Timeout).Seconds()
	}
	cfg.StartupTimeout = o.bootBound().Seconds()
	cmd := exec.Command(o.Python, cfg.Args()...)
	cmd.ExtraFiles = child
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if out := o.Process.Output; out != nil {
		cmd.Stdout, cmd.Stderr = out, out // --daemon
	}
	if o.Output != nil {
		cmd.Stdout, cmd.Stderr = o.Output, o.Output // --capture-output
	}
	cmd.Env = env.apply(o.Env)
	if cfg.Hooks != "" && o.Process.Settings != nil {
		b, err := json.Marshal(o.Process.Settings)
		if err == nil {
			cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], pyshim.SettingsEnv+"="+string(b))
		}
	}
	// Its own process group: a terminal's Ctrl-C reaches gowsgi, which then
	// shuts workers down in order instead of every process at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cr := o.Process.Credential; cr != nil && os.Geteuid() == 0 && (cr.Uid != 0 || int(cr.Gid) != os.Getegid()) {
		cmd.SysProcAttr.Credential = cr // --user/--group, while gowsgi is still root
	}
	proc, err := startExec(cmd)
	if err != nil {
		closeAll(parent)
		closeAll(child)
		srcW.Close()
		return nil, fmt.Errorf("starting %s: %w", o.Python, err)
	}
	closeAll(child)
	go func() {
		srcW.Write(pyshim.WorkerSource)
		srcW.Close()
	}()

	w := &Worker{ID: id, PID: proc.Pid(), proc: proc, pool: p}
	if err := w.attach(parent); err != nil {
		proc.Signal(syscall.SIGKILL)
		<-proc.Exited()
		return nil, err
	}
	if err := w.awaitReady(ctx, o.bootBound()); err != nil {
		w.kill()
		<-w.Exited()
		w.closeConns()
		return nil, err
	}
	go w.closeWhenExited() // after the boot: awaitReady owns the control socket until then
	return w, nil
}

// awaitReady reads the control frames of a booting worker until Ready, or
// BootFailed with the reason the app could not be loaded. A worker whose
// Ready says ASGI gets its mux: its first slot socket carries
// --limit-concurrency slots. Cancelling ctx abandons the boot.
//
// The control socket stays open until it returns, even once the process has
// exited: a BootFailed frame sent just before the exit is still read (the
// socket used to be closed at the exit, which lost it when this reader was
// scheduled late). A process that exits gets exitGrace for its last frame
// to be read; a child it started may hold the socket open, so end-of-stream
// need not come.
func (w *Worker) awaitReady(ctx context.Context, timeout time.Duration) error {
	w.control.SetReadDeadline(time.Now().Add(timeout))
	defer w.control.SetReadDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { w.control.SetReadDeadline(time.Now()) })
	defer stop()
	done, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-w.Exited():
			if ctx.Err() == nil {
				w.control.SetReadDeadline(time.Now().Add(exitGrace))
			}
		case <-done:
		}
	}()
	defer func() { close(done); <-watched }() // before the deadline is cleared
	for {
		var hb [wire.HeaderSize]byte
		if _, err := io.ReadFull(w.control, hb[:]); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			select {
			case <-w.Exited():
				return &BootError{Detail: fmt.Sprintf("%s exited during boot (%s) before loading the application", w, w.ExitStatus())}
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return &BootError{Detail: fmt.Sprintf("%s did not load the application within %s", w, timeout)}
			}
			// The process died before saying anything; its stderr has the story.
			select {
			case <-w.Exited():
			case <-time.After(2 * time.Second):
			}
			return &BootError{Detail: fmt.Sprintf("%s exited during boot (%s) before loading the application", w, w.ExitStatus())}
		}
		h, err := wire.ParseHeader(hb[:])
		if err != nil {
			return err
		}
		payload := make([]byte, h.Len)
		if _, err := io.ReadFull(w.control, payload); err != nil {
			return fmt.Errorf("%s: reading control frame: %w", w, err)
		}
		switch h.Type {
		case wire.Ready:
			info, err := wire.DecodeDict(payload)
			if err != nil {
				return fmt.Errorf("%s: bad ready frame: %w", w, err)
			}
			if files, ok := info["files"].(string); ok && files != "" {
				w.files = strings.Split(files, "\n")
			}
			w.asgi = info["interface"] == "asgi"
			if w.asgi {
				w.beat.Store(time.Now().UnixNano())
				w.loop, _ = info["loop"].(string)
				// One socket carries every slot: the first one given (fd
				// 5 in the worker, which closed the others).
				for _, s := range w.slots[1:] {
					s.conn.Close()
				}
				w.mx = newMux(w, w.slots[0].conn, w.pool.limitConcurrency())
				w.slots = w.mx.slots
			}
			return nil
		case wire.BootFailed:
			return &BootError{Detail: string(payload), Status: int(h.ID)}
		}
		return fmt.Errorf("%s: unexpected control frame %s", w, h.Type)
	}
}

// bootBound is how long a worker may take from its start (or its fork) to
// ready: loading the app and, for ASGI, the lifespan startup. It is
// --boot-timeout, or --timeout when longer, since gunicorn bounds a
// worker's boot by --timeout (its users raise it for an app that loads a
// large model) while uvicorn has no bound at all: either way a boot that
// took less than two minutes before still boots.
func (o *Options) bootBound() time.Duration { return max(o.BootTimeout, o.Timeout) }

// heartbeatEvery is how often an ASGI worker's event loop reports that it
// runs, for a --timeout of d: often enough that a few late beats never
// pass for a blocked loop.
func heartbeatEvery(d time.Duration) time.Duration {
	return max(min(d/4, time.Second), 10*time.Millisecond)
}

// readControl reads the worker's control frames once it serves: answers to
// revoke and dump requests. It returns when the control stream ends.
func (w *Worker) readControl() {
	var hb [wire.HeaderSize]byte
	for {
		if _, err := io.ReadFull(w.control, hb[:]); err != nil {
			return
		}
		h, err := wire.ParseHeader(hb[:])
		if err != nil {
			return
		}
		payload := make([]byte, h.Len)
		if _, err := io.ReadFull(w.control, payload); err != nil {
			return
		}
		if h.Type == wire.Heartbeat {
			w.beat.Store(time.Now().UnixNano())
			if len(payload) >= 4 {
				if o, ok := w.pool.opts.Observer.(LoopLagObserver); ok {
					o.LoopLag(w.ID, time.Duration(binary.LittleEndian.Uint32(payload))*time.Microsecond)
				}
			}
			continue
		}
		if h.Type == wire.Dumped {
			w.dumped(h.ID)
			continue
		}
		if h.Type != wire.Revoked || int(h.ID) >= len(w.slots) {
			continue // nothing else is expected; ignore rather than guess
		}
		from, ids, err := wire.DecodeRevoked(payload)
		if err != nil {
			ids = nil // treat as "nothing revoked": the requests stay
		}
		w.slots[h.ID].revoked(from, ids)
	}
}

// sendRevoke asks the worker to take back the requests queued on slot that
// have not started and whose id is at least from.
func (w *Worker) sendRevoke(slot int, from uint32) error {
	var b [wire.HeaderSize + 4]byte
	wire.AppendHeader(b[:0], wire.Revoke, uint32(slot), 4)
	binary.LittleEndian.PutUint32(b[wire.HeaderSize:], from)
	w.ctlMu.Lock()
	defer w.ctlMu.Unlock()
	_, err := w.control.Write(b[:])
	return err
}

// stop asks the worker to exit: closing the control socket is the signal.
// The caller has made sure no request is in flight on its slots.
func (w *Worker) stop() {
	w.control.Close()
}

// goAway tells an ASGI worker, before stop closes its control socket, how
// long its running requests get before they are told "going away", and
// why (see wire.GoAway).
func (w *Worker) goAway(grace time.Duration, reason uint32) {
	var b [wire.HeaderSize + 4]byte
	wire.AppendHeader(b[:0], wire.GoAway, reason, 4)
	binary.LittleEndian.PutUint32(b[wire.HeaderSize:], uint32(grace/time.Millisecond))
	w.ctlMu.Lock()
	defer w.ctlMu.Unlock()
	w.control.Write(b[:]) // a worker that is gone already needs no telling
}

// kill ends the worker at once.
func (w *Worker) kill() {
	w.proc.Signal(syscall.SIGKILL)
}

// dumpStacks makes the worker write every thread's Python stack to stderr.
// A Dump frame asks its main thread to, under the GIL; it answers Dumped.
// Without an answer within dumpGrace (a thread holds the GIL inside a C
// call, so the main thread cannot run) SIGUSR1 asks faulthandler instead.
// faulthandler is only the fallback because it walks the other threads'
// frames from its signal handler, without the GIL: it can crash a worker
// whose other threads are running Python, but not one where a thread
// holds the GIL. stacksDumped tells when the dump is over.
func (w *Worker) dumpStacks() { w.startDump(true) }

// dumpStacksNow is dumpStacks for a worker whose main thread cannot
// answer: an ASGI worker's blocked event loop runs there. faulthandler
// writes the stacks at once, the blocked code's included.
func (w *Worker) dumpStacksNow() { w.startDump(false) }

func (w *Worker) startDump(askMain bool) {
	w.dumpMu.Lock()
	w.dumpSeq++
	seq := w.dumpSeq
	acked, done := make(chan struct{}), make(chan struct{})
	if w.dumpAcks == nil {
		w.dumpAcks = map[uint32]chan struct{}{}
	}
	if askMain {
		w.dumpAcks[seq] = acked
	}
	w.dumpDone = done
	w.dumpMu.Unlock()

	var err error
	if askMain {
		var b [wire.HeaderSize]byte
		wire.AppendHeader(b[:0], wire.Dump, seq, 0)
		w.ctlMu.Lock()
		_, err = w.control.Write(b[:])
		w.ctlMu.Unlock()
	}
	go func() {
		defer close(done)
		if askMain && err == nil {
			t := time.NewTimer(dumpGrace)
			defer t.Stop()
			select {
			case <-acked:
				return
			case <-w.Exited():
				return
			case <-t.C:
			}
			w.dumpMu.Lock()
			delete(w.dumpAcks, seq)
			w.dumpMu.Unlock()
		}
		w.proc.Signal(syscall.SIGUSR1)
		// faulthandler writes from its signal handler: give it a moment.
		select {
		case <-time.After(faulthandlerMoment):
		case <-w.Exited():
		}
	}()
}

// dumped takes the worker's Dumped answer to the Dump frame seq.
func (w *Worker) dumped(seq uint32) {
	w.dumpMu.Lock()
	defer w.dumpMu.Unlock()
	if c := w.dumpAcks[seq]; c != nil {
		close(c)
		delete(w.dumpAcks, seq)
	}
}

// stacksDumped is closed once the latest dumpStacks is over: the worker
// has written the stacks, or exited, or faulthandler had its moment. It
// is closed already when no dump was asked for.
func (w *Worker) stacksDumped() <-chan struct{} {
	w.dumpMu.Lock()
	defer w.dumpMu.Unlock()
	if w.dumpDone == nil {
		return closedChan
	}
	return w.dumpDone
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

const (
	// dumpGrace is how long the worker's main thread has to answer a Dump:
	// it needs the GIL from the busy threads, which hand it over every
	// switch interval (5 ms), and to format the stacks; far less than this
	// even on a loaded host.
	dumpGrace = 2 * time.Second
	// faulthandlerMoment is how long faulthandler may take to write the
	// stacks after SIGUSR1, before the worker may be killed: its signal
	// handler writes them at once, once the process gets a CPU, which on
	// a loaded host can take a while (at 250 ms a dump was lost).
	faulthandlerMoment = time.Second
)

// exitGrace is how long awaitReady still reads after the process exited.
const exitGrace = time.Second

// closeWhenExited releases gowsgi's ends of the worker's sockets once the
// process has ended. The control socket closes at once. The data sockets
// close a while later: what the worker wrote just before it exited is
// still in them, and a reader that gets to it first sees the data and then
// end-of-stream, as a dead peer gives (closing our end at the exit instead
// lost a response head a worker had sent as it died).
func (w *Worker) closeWhenExited() {
	<-w.Exited()
	w.control.Close()
	time.AfterFunc(slotLinger, w.closeSlots)
}

// slotLinger is how long the data sockets of an exited worker stay open
// for their readers: far longer than reading what is buffered takes.
const slotLinger = 10 * time.Second

func (w *Worker) closeConns() {
	w.control.Close()
	w.closeSlots()
}

// closeSlots closes gowsgi's ends of the worker's data sockets: the mux's,
// or one per slot.
func (w *Worker) closeSlots() {
	if w.mx != nil {
		w.mx.close()
		return
	}
	for _, s := range w.slots {
		s.conn.Close()
	}
}

// residentBytes reads a process's resident set size from /proc.
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("unexpected /proc/%d/statm: %q", pid, b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}
