// Package creds is gunicorn's --user, --group and --initgroups: the
// credential the workers are started with (workers.Process.Credential),
// and the switch gowsgi itself makes to it once its ports are bound.
package creds

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// For returns the credential for uid and gid (-1: not given) and, with
// initGroups, the user's supplementary groups; nil when neither id is
// given. A uid without a gid takes the user's primary group; the current
// ids stand in for the one not given. Groups it cannot list are logged to
// log and left out.
func For(uid, gid int, initGroups bool, log *slog.Logger) *syscall.Credential {
	if uid < 0 && gid < 0 {
		return nil
	}
	u, g := os.Geteuid(), os.Getegid()
	var found *user.User
	if uid >= 0 {
		u = uid
		if x, err := user.LookupId(strconv.Itoa(uid)); err == nil {
			found = x
			if gid < 0 {
				g, _ = strconv.Atoi(x.Gid) // the user's primary group
			}
		}
	}
	if gid >= 0 {
		g = gid
	}
	cr := &syscall.Credential{Uid: uint32(u), Gid: uint32(g), Groups: []uint32{}}
	if initGroups && found != nil {
		ids, err := found.GroupIds()
		if err != nil {
			log.Warn("--initgroups: cannot list the user's groups", "user", found.Username, "err", err)
		}
		for _, id := range ids {
			if n, err := strconv.Atoi(id); err == nil {
				cr.Groups = append(cr.Groups, uint32(n))
			}
		}
	}
	return cr
}

// Drop switches this process to cr (groups, then gid, then uid). Switching
// needs root; a process that runs as cr already, or a nil cr, is left
// alone. Errors are one line naming the flag.
func Drop(cr *syscall.Credential, log *slog.Logger) error {
	if cr == nil || os.Geteuid() == int(cr.Uid) && os.Getegid() == int(cr.Gid) {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("--user/--group: switching to uid %d gid %d needs root (gowsgi runs as uid %d)", cr.Uid, cr.Gid, os.Geteuid())
	}
	groups := make([]int, len(cr.Groups))
	for i, g := range cr.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("--user/--group: setgroups: %v", err)
	}
	if err := syscall.Setgid(int(cr.Gid)); err != nil {
		return fmt.Errorf("--group: setgid %d: %v", cr.Gid, err)
	}
	if err := syscall.Setuid(int(cr.Uid)); err != nil {
		return fmt.Errorf("--user: setuid %d: %v", cr.Uid, err)
	}
	log.Info("switched user", "uid", cr.Uid, "gid", cr.Gid)
	return nil
}
