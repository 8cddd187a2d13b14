// Package listen opens the sockets gowsgi serves on: bound by gowsgi itself,
// inherited from systemd (socket activation), or handed over by the gowsgi
// process that started this one on SIGUSR2 (a zero-downtime binary
// upgrade). It also speaks systemd's notify protocol (notify.go), starts
// the upgraded process (upgrade.go) and detaches a --daemon server
// (daemon.go); the last two share a readiness pipe (readiness.go).
//
// Which socket serves which --bind:
//
//   - Sockets passed by systemd (LISTEN_FDS) or by an upgrading gowsgi are
//     inherited. With no --bind given, gowsgi serves on all of them.
//   - With --bind given, each bind takes the inherited socket it names: the
//     one whose name (LISTEN_FDNAMES, systemd's FileDescriptorName=) equals
//     the bind as written, else the one listening on the same address
//     (0.0.0.0 and [::] count as the same, so ListenStream=8000 matches
//     --bind :8000), and fd://N takes descriptor N. A bind that no inherited
//     socket matches is bound as usual; an inherited socket that no bind
//     names is closed, with a warning.
package listen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gowsgi/gowsgi/internal/config"
)

// firstFD is the first inherited descriptor, as in sd_listen_fds(3)
// (SD_LISTEN_FDS_START); an upgrading gowsgi passes its sockets the same way.
const firstFD = 3

// Origins of a Socket.
const (
	Bound   = "bound"   // gowsgi bound it (or took an fd://N bind)
	Systemd = "systemd" // socket activation
	Upgrade = "upgrade" // handed over by the previous gowsgi process
)

// A Socket is one listening socket gowsgi serves on.
type Socket struct {
	net.Listener
	// Name says which bind it serves: the --bind as written, or, when no
	// --bind was given, the inherited socket's name. An upgraded process
	// receives it with the socket and matches its own binds against it.
	Name string
	// Origin is Bound, Systemd or Upgrade.
	Origin string
	// path is the unix socket file to remove at exit: set for sockets this
	// process (or the one it upgraded from) created, never for systemd's.
	path string
}

// Options are how gowsgi binds the sockets it creates itself; inherited
// sockets keep the options they were created with.
type Options struct {
	// ReusePort sets SO_REUSEPORT on TCP sockets, so that several processes
	// may bind the same address (gunicorn's --reuse-port).
	ReusePort bool
	// Backlog is the listen(2) backlog, the connections the kernel queues
	// before gowsgi accepts them (gunicorn's --backlog); 0 keeps Go's
	// default (the system's net.core.somaxconn). The kernel caps it at
	// somaxconn.
	Backlog int
	// Log receives the warning about inherited sockets no bind names.
	Log *slog.Logger
}

// Inherited are the listening sockets this process was started with.
type Inherited struct {
	// From is Systemd or Upgrade, or "" when nothing was inherited.
	From  string
	socks []*inheritedSock
	// ready is the upgrade readiness pipe to the parent (Upgrade only).
	ready *os.File
	// parent is the pid of the process that upgraded to this one (Upgrade
	// only).
	parent int
}

type inheritedSock struct {
	l    net.Listener
	fd   int    // the descriptor number it came in as
	name string // LISTEN_FDNAMES entry, or the parent's Socket.Name
	path string // unix socket file the parent created ("" = not ours)
	used bool
}

// Inherit takes the sockets the process was started with: systemd's
// (LISTEN_FDS, only when LISTEN_PID is this process, as sd_listen_fds(3)
// does) or an upgrading gowsgi's (GOWSGI_UPGRADE). Either way it unsets the
// variables and leaves the descriptors close-on-exec, so that the workers
// inherit neither. It returns a nil *Inherited when there is nothing; the
// methods accept nil.
func Inherit() (*Inherited, error) {
	if v, ok := os.LookupEnv(upgradeEnv); ok {
		os.Unsetenv(upgradeEnv)
		unsetSystemd()
		return inheritUpgrade(v)
	}
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	unsetSystemd()
	if fds == "" || pid != strconv.Itoa(os.Getpid()) {
		return nil, nil
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("LISTEN_FDS=%q is not a number of descriptors", fds)
	}
	var nameList []string
	if names != "" {
		nameList = splitColon(names)
	}
	in := &Inherited{From: Systemd}
	for i := 0; i < n; i++ {
		name := "unknown" // systemd's name for a socket without FileDescriptorName=
		if i < len(nameList) {
			name = nameList[i]
		}
		fd := firstFD + i
		l, err := fileListener(fd, name)
		if err != nil {
			in.Close()
			for j := i + 1; j < n; j++ {
				unix.Close(firstFD + j)
			}
			return nil, fmt.Errorf("socket activation: descriptor %d (%s): %v", fd, name, err)
		}
		in.socks = append(in.socks, &inheritedSock{l: l, fd: fd, name: name})
	}
	return in, nil
}

func unsetSystemd() {
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
}

func splitColon(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// fileListener turns descriptor fd into a net.Listener and closes fd: the
// listener holds a close-on-exec duplicate, so the workers do not inherit
// the socket.
func fileListener(fd int, name string) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if t, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
		return nil, fmt.Errorf("not a socket: %v", err)
	} else if t != unix.SOCK_STREAM {
		return nil, errors.New("not a stream socket (gowsgi serves TCP and unix stream sockets)")
	}
	if acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && acc == 0 {
		return nil, errors.New("not a listening socket")
	}
	return net.FileListener(f)
}

// Close closes the inherited sockets no Listen call took.
func (in *Inherited) Close() {
	if in == nil {
		return
	}
	for _, s := range in.socks {
		if !s.used {
			s.l.Close()
			s.used = true
		}
	}
}

// take returns the inherited socket bind b names, or nil.
func (in *Inherited) take(b config.Bind) *inheritedSock {
	if in == nil {
		return nil
	}
	match := func(ok func(*inheritedSock) bool) *inheritedSock {
		for _, s := range in.socks {
			if !s.used && ok(s) {
				s.used = true
				return s
			}
		}
		return nil
	}
	if s := match(func(s *inheritedSock) bool { return s.name == b.Spec || s.name == b.String() }); s != nil {
		return s
	}
	switch b.Network {
	case "fd":
		if in.From != Systemd {
			return nil // an upgraded process matches fd://N binds by name
		}
		return match(func(s *inheritedSock) bool { return strconv.Itoa(s.fd) == b.Addr })
	case "unix":
		return match(func(s *inheritedSock) bool {
			a, ok := s.l.Addr().(*net.UnixAddr)
			return ok && a.Name == b.Addr
		})
	default:
		return match(func(s *inheritedSock) bool {
			a, ok := s.l.Addr().(*net.TCPAddr)
			return ok && sameTCPAddr(b.Addr, a)
		})
	}
}

// sameTCPAddr reports whether a listening socket on a serves bind address
// addr ("host:port"): the same port, and the same IP, or both a wildcard
// (0.0.0.0 and [::] are taken as one, since a socket on [::] also accepts
// IPv4), or a host name that resolves to a's IP. Port 0 (any port) never
// matches.
func sameTCPAddr(addr string, a *net.TCPAddr) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if p, err := strconv.Atoi(port); err != nil || p == 0 || p != a.Port {
		return false
	}
	if host == "" {
		return a.IP.IsUnspecified()
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.Equal(a.IP) || ip.IsUnspecified() && a.IP.IsUnspecified()
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if ip.Equal(a.IP) {
			return true
		}
	}
	return false
}

// Listen returns one socket per bind, or none and an error: inherited
// sockets where one matches (see the package comment), else a socket bound
// here. explicit says whether the binds were given (--bind, GOWSGI_BIND,
// $PORT, a config file) rather than the default; with inherited sockets and
// no explicit bind, every inherited socket is served. Inherited sockets
// left over are closed.
func Listen(in *Inherited, binds []config.Bind, explicit bool, opts Options) ([]*Socket, error) {
	var out []*Socket
	fromInherited := func(s *inheritedSock, name string) *Socket {
		s.used = true
		if ul, ok := s.l.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(s.path != "") // systemd's files are systemd's
		}
		return &Socket{Listener: s.l, Name: name, Origin: in.From, path: s.path}
	}
	if in != nil && len(in.socks) > 0 && !explicit {
		for _, s := range in.socks {
			out = append(out, fromInherited(s, s.name))
		}
		return out, nil
	}
	for _, b := range binds {
		if s := in.take(b); s != nil {
			out = append(out, fromInherited(s, b.Spec))
			continue
		}
		s, err := bind(b, opts)
		if err != nil {
			for _, s := range out {
				s.Close()
			}
			in.Close()
			return nil, err
		}
		out = append(out, s)
	}
	if in != nil {
		for _, s := range in.socks {
			if !s.used && opts.Log != nil {
				opts.Log.Warn("inherited socket not named by any --bind; closing it", "from", in.From, "fd", s.fd, "name", s.name, "addr", s.l.Addr().String())
			}
		}
		in.Close()
	}
	return out, nil
}

// bind creates the socket for b: a port in use is one clear line.
func bind(b config.Bind, opts Options) (*Socket, error) {
	var l net.Listener
	var err error
	s := &Socket{Name: b.Spec, Origin: Bound}
	switch b.Network {
	case "fd":
		// gunicorn's fd://N: a listening socket inherited from the parent.
		fd, _ := strconv.Atoi(b.Addr)
		l, err = fileListener(fd, b.Spec)
	case "unix":
		if err = removeStaleSocket(b.Addr); err == nil {
			l, err = net.Listen("unix", b.Addr)
		}
		if err == nil {
			s.path = b.Addr // removed when the listener closes, unless handed over
			err = setBacklog(l, opts.Backlog)
		}
	default:
		lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
			if !opts.ReusePort {
				return nil
			}
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			return serr
		}}
		l, err = lc.Listen(context.Background(), b.Network, b.Addr)
		if err == nil {
			err = setBacklog(l, opts.Backlog)
		}
	}
	if err != nil {
		if l != nil {
			l.Close()
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("cannot listen on %s: address already in use (is another server running?)", b.Spec)
		}
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return nil, fmt.Errorf("cannot listen on %s: %v", b.Spec, err)
	}
	s.Listener = l
	return s, nil
}

// setBacklog calls listen(2) again with the requested backlog: Linux
// accepts that on a listening socket and only changes the queue's length,
// which net.ListenConfig offers no other way to set.
func setBacklog(l net.Listener, n int) error {
	if n <= 0 {
		return nil
	}
	sc, ok := l.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), n) }); err != nil {
		return err
	}
	if lerr != nil {
		return fmt.Errorf("--backlog %d: %v", n, lerr)
	}
	return nil
}

// removeStaleSocket deletes a socket file no server answers on, left by a
// crash; a live one is reported as in use.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil // absent, or not a socket: net.Listen will say
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return syscall.EADDRINUSE
	}
	return os.Remove(path)
}

// Unlink removes the unix socket files this process created (or took over
// from the process it upgraded from), which closing their listeners also
// does. Systemd's socket files are systemd's.
func Unlink(socks []*Socket) {
	for _, s := range socks {
		if s.path != "" {
			os.Remove(s.path)
		}
	}
}

// HandOver keeps the unix socket files when the listeners close: they serve
// the process a binary upgrade started.
func HandOver(socks []*Socket) {
	for _, s := range socks {
		if ul, ok := s.Listener.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
	}
}
