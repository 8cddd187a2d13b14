package listen

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A Notifier sends sd_notify(3) messages to systemd (a Type=notify service)
// or whatever listens on $NOTIFY_SOCKET. A nil *Notifier sends nothing, so
// callers need not check.
type Notifier struct {
	addr *net.UnixAddr
	// watchdog is how often to send WATCHDOG=1 (half of WATCHDOG_USEC, as
	// sd_watchdog_enabled(3) advises); 0 = no watchdog.
	watchdog time.Duration
	usec     string // WATCHDOG_USEC as given, for an upgraded process
	stop     chan struct{}
}

// NewNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, and
// unsets them: the Python workers are not the service's main process, and
// an app that notified systemd itself would confuse it. It returns nil when
// NOTIFY_SOCKET is not set (or names no unix socket gowsgi can reach).
func NewNotifier() (*Notifier, error) {
	sock, usec, wpid := os.Getenv("NOTIFY_SOCKET"), os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID")
	for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"} {
		os.Unsetenv(k)
	}
	if sock == "" {
		return nil, nil
	}
	if !strings.HasPrefix(sock, "/") && !strings.HasPrefix(sock, "@") {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q: gowsgi speaks to unix datagram sockets (a path, or @abstract) only", sock)
	}
	n := &Notifier{addr: &net.UnixAddr{Name: sock, Net: "unixgram"}, stop: make(chan struct{})}
	if usec != "" && (wpid == "" || wpid == strconv.Itoa(os.Getpid())) {
		us, err := strconv.ParseInt(usec, 10, 64)
		if err != nil || us <= 0 {
			return nil, fmt.Errorf("WATCHDOG_USEC=%q is not a positive number of microseconds", usec)
		}
		n.usec = usec
		n.watchdog = time.Duration(us) * time.Microsecond / 2
	}
	return n, nil
}

// Notify sends one message: newline-separated VAR=value assignments.
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// Ready says the service is serving (READY=1). mainPID, when not 0, also
// names the service's main process: an upgraded gowsgi is not the process
// systemd started.
func (n *Notifier) Ready(mainPID int) error {
	if mainPID != 0 {
		return n.Notify("READY=1\nMAINPID=" + strconv.Itoa(mainPID))
	}
	return n.Notify("READY=1")
}

// Reloading says a reload started (RELOADING=1 with MONOTONIC_USEC, as
// Type=notify-reload wants); send Ready once it is done, whether it
// succeeded or not.
func (n *Notifier) Reloading() error {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return n.Notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000))
}

// Stopping says the service is shutting down (STOPPING=1).
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// MainPID hands the service over to another process (after a binary
// upgrade, from the old process, which systemd still takes for the main
// one: that works with the default NotifyAccess=main).
func (n *Notifier) MainPID(pid int) error {
	return n.Notify("MAINPID=" + strconv.Itoa(pid))
}

// StartWatchdog sends WATCHDOG=1 every WatchdogSec/2 until StopWatchdog,
// when systemd asked for it (WATCHDOG_USEC, for this pid).
func (n *Notifier) StartWatchdog() {
	if n == nil || n.watchdog <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(n.watchdog)
		defer t.Stop()
		n.Notify("WATCHDOG=1")
		for {
			select {
			case <-t.C:
				n.Notify("WATCHDOG=1")
			case <-n.stop:
				return
			}
		}
	}()
}

// StopWatchdog stops the pings; a second call does nothing.
func (n *Notifier) StopWatchdog() {
	if n == nil {
		return
	}
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
}

// Env is what an upgraded process needs to go on notifying: the socket
// and the watchdog interval (no WATCHDOG_PID: the new process is the one
// that pings).
func (n *Notifier) Env() []string {
	if n == nil {
		return nil
	}
	env := []string{"NOTIFY_SOCKET=" + n.addr.Name}
	if n.usec != "" {
		env = append(env, "WATCHDOG_USEC="+n.usec)
	}
	return env
}
