package creds

import (
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"testing"
)

func TestFor(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if cr := For(-1, -1, true, log); cr != nil {
		t.Errorf("no ids: %+v, want nil", cr)
	}
	uid := os.Geteuid()
	cr := For(-1, 4242, false, log)
	if cr == nil || int(cr.Uid) != uid || cr.Gid != 4242 || len(cr.Groups) != 0 {
		t.Errorf("gid only: %+v, want uid %d gid 4242, no groups", cr, uid)
	}
	// A uid alone takes the user's primary group.
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		t.Fatal(err)
	}
	cr = For(uid, -1, false, log)
	if cr == nil || int(cr.Uid) != uid || strconv.Itoa(int(cr.Gid)) != u.Gid || len(cr.Groups) != 0 {
		t.Errorf("uid only: %+v, want gid %s", cr, u.Gid)
	}
}

// TestDropToSelf: switching to the ids the process runs as is no switch,
// and needs no root.
func TestDropToSelf(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if err := Drop(nil, log); err != nil {
		t.Errorf("nil credential: %v", err)
	}
	if err := Drop(For(os.Geteuid(), os.Getegid(), false, log), log); err != nil {
		t.Errorf("to itself: %v", err)
	}
}
