package http1

import "golang.org/x/sys/unix"

// ioctlUnread asks a socket how many received bytes are unread.
const ioctlUnread = unix.SIOCINQ
