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

// AllowList is a set of peer addresses: single IPs, CIDR prefixes, or
// everything ("*"). The zero value trusts no one.
type AllowList struct {
	all      bool
	ips      []netip.Addr
	prefixes []netip.Prefix
}

// ParseAllowList reads gunicorn's comma-separated list (items may also come
// one per element): "127.0.0.1,::1", "10.0.0.0/8", "*".
func ParseAllowList(items []string) (*AllowList, error) {
	a := &AllowList{}
	for _, item := range items {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			switch {
			case s == "":
			case s == "*":
				a.all = true
			case strings.Contains(s, "/"):
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
				}
				a.prefixes = append(a.prefixes, p.Masked())
			default:
				ip, err := netip.ParseAddr(strings.Trim(s, "[]"))
				if err != nil {
					return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
				}
				a.ips = append(a.ips, ip.Unmap())
			}
		}
	}
	return a, nil
}

// All reports whether the list is "*".
func (a *AllowList) All() bool { return a != nil && a.all }

// Empty reports whether the list trusts no address.
func (a *AllowList) Empty() bool {
	return a == nil || !a.all && len(a.ips) == 0 && len(a.prefixes) == 0
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

// TrustsPeer reports whether a connection from addr is trusted. A unix
// socket peer is, as in gunicorn: only local processes can reach it, and its
// permissions say which.
func (a *AllowList) TrustsPeer(addr net.Addr) bool {
	if a == nil {
		return false
	}
	switch t := addr.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(t.IP)
		return ok && a.Contains(ip)
	case *net.UnixAddr:
		return true
	}
	return false
}

// String is the list as gunicorn prints it, comma-separated.
func (a *AllowList) String() string {
	if a == nil {
		return ""
	}
	var parts []string
	if a.all {
		parts = append(parts, "*")
	}
	for _, ip := range a.ips {
		parts = append(parts, ip.String())
	}
	for _, p := range a.prefixes {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ",")
}
