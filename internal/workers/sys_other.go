//go:build !linux

package workers

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// cloexecSocketpair makes a connected stream pair, close-on-exec. Without
// SOCK_CLOEXEC, ForkLock keeps a concurrent exec from inheriting the pair
// before CloseOnExec is set.
func cloexecSocketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}

// awaitExitPidfd: no pidfds here; the caller polls.
func awaitExitPidfd(pid int) bool { return false }

// punchHole: no hole punching here; a spool file's space comes back when
// nothing in it is in use.
func punchHole(fd int, off, size int64) {}
