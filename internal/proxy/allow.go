// Package proxy is what gowsgi knows about the proxies in front of it: which
// peers are trusted (gunicorn's forwarded_allow_ips and proxy_allow_ips),
// what their forwarding headers say about the client (X-Forwarded-For,
// -Proto, -Host, -Port, RFC 7239 Forwarded and gunicorn's
// secure_scheme_headers), and the PROXY protocol (v1 and v2) that load
// balancers put before the first byte of a connection.
package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// AllowList is gowsgi's one answer to "whose word do we take": the peers
// whose forwarding headers (--forwarded-allow-ips), PROXY protocol header
// (--proxy-allow-from), X-Request-ID and traceparent are believed, and who
// may speak h2c. It holds single IPs, CIDR prefixes, or everything ("*").
//
// The rule for peers without an IP address is gunicorn's: a unix-socket
// peer is trusted by every list, "connections not associated with an IP
// address are treated as allowed, unconditionally" (only local processes
// can reach a unix socket, and its permissions say which). The one list
// that trusts no peer at all is NoPeers (uvicorn's --no-proxy-headers).
// Any other address (none at all included) is never trusted.
//
// A list is parsed once, by internal/config, and never changes after; the
// zero value (and nil) trusts no IP address.
type AllowList struct {
	all      bool
	none     bool // NoPeers: not even a unix-socket peer
	ips      []netip.Addr
	prefixes []netip.Prefix
	items    []string // the entries as given, for String and --print-config
}

// NoPeers returns the list that trusts no peer, unix-socket peers
// included: uvicorn's --no-proxy-headers.
func NoPeers() *AllowList { return &AllowList{none: true} }

// ParseAllowList reads gunicorn's comma-separated list (items may also come
// one per element): "127.0.0.1,::1", "10.0.0.0/8", "*".
func ParseAllowList(items []string) (*AllowList, error) {
	return (*AllowList)(nil).Extend(items...)
}

// Extend returns a new list holding a's entries and items' (each
// comma-separated, as ParseAllowList reads them); a is unchanged and may be
// nil. An entry that is not an IP address or a CIDR prefix is an error.
func (a *AllowList) Extend(items ...string) (*AllowList, error) {
	out := &AllowList{}
	if a != nil {
		out.all = a.all
		out.ips = append(out.ips, a.ips...)
		out.prefixes = append(out.prefixes, a.prefixes...)
		out.items = append(out.items, a.items...)
	}
	for _, item := range items {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			switch {
			case s == "":
				continue
			case s == "*":
				out.all = true
			case strings.Contains(s, "/"):
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
				}
				out.prefixes = append(out.prefixes, p.Masked())
			default:
				ip, err := netip.ParseAddr(strings.Trim(s, "[]"))
				if err != nil {
					return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
				}
				out.ips = append(out.ips, ip.Unmap())
			}
			out.items = append(out.items, s)
		}
	}
	return out, nil
}

// Items are the list's entries as they were given, in order.
func (a *AllowList) Items() []string {
	if a == nil {
		return nil
	}
	return a.items
}

// Contains reports whether ip is on the list. An IPv4-mapped IPv6 address
// counts as its IPv4 address.
func (a *AllowList) Contains(ip netip.Addr) bool {
	if a == nil {
		return false
	}
	if a.all {
		return true
	}
	ip = ip.Unmap()
	for _, x := range a.ips {
		if x == ip {
			return true
		}
	}
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// TrustsPeer reports whether a connection from addr is trusted: a TCP
// peer whose IP is on the list, or any unix-socket peer unless the list is
// NoPeers (see AllowList).
func (a *AllowList) TrustsPeer(addr net.Addr) bool {
	switch t := addr.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(t.IP)
		return ok && a.Contains(ip)
	case *net.UnixAddr:
		return a == nil || !a.none
	}
	return false
}

// String is the list as it was given, comma-separated.
func (a *AllowList) String() string { return strings.Join(a.Items(), ",") }
