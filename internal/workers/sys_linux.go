package workers

import (
	"errors"

	"golang.org/x/sys/unix"
)

// The Linux-only system calls the workers use; sys_other.go has what the
// other Unixes (macOS) do instead.

// cloexecSocketpair makes a connected stream pair, close-on-exec atomically.
func cloexecSocketpair() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}

// awaitExitPidfd waits, through a pidfd, until pid (not gowsgi's child)
// has exited. False when the kernel has no pidfds: the caller polls.
func awaitExitPidfd(pid int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true
	}
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, perr := unix.Poll(pfd, -1); perr != unix.EINTR {
			break
		}
	}
	// Where gowsgi is PID 1 or a subreaper the orphan became its
	// child: reap it, by pidfd so no other child's status is taken.
	unix.Waitid(unix.P_PIDFD, fd, &unix.Siginfo{}, unix.WEXITED|unix.WNOHANG, nil)
	return true
}

// punchHole gives a spool file's region back to the filesystem, the file's
// size kept (where the filesystem supports it; errors are ignored).
func punchHole(fd int, off, size int64) {
	unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, size)
}
