//go:build !linux

package http1

// ioctlUnread asks a socket how many received bytes are unread: FIONREAD,
// _IOR('f', 127, int) in the BSDs' and macOS's <sys/filio.h> (x/sys/unix
// does not name it there).
const ioctlUnread = 0x4004667f
