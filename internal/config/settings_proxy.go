package config

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gowsgi/gowsgi/internal/proxy"
)

// proxySettings are whose word is taken (the trusted proxies) and the
// PROXY protocol.
var proxySettings = []*setting{
	{
		name: "forwarded-allow-ips", flags: []string{"--forwarded-allow-ips"}, gunicorn: "forwarded_allow_ips", kind: Honoured, typ: tList, def: "127.0.0.1,::1",
		usage: "proxies whose X-Forwarded-*, Forwarded and secure scheme headers are believed: IPs, CIDRs, or * (default $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1)",
		why:   "same (IPs, CIDRs, `*`; default `$FORWARDED_ALLOW_IPS`, else `127.0.0.1,::1`); trusted peers also set REMOTE_ADDR (X-Forwarded-For, Forwarded), HTTP_HOST/SERVER_NAME/SERVER_PORT (X-Forwarded-Host/-Port)",
		defFn: func(getenv func(string) string) (string, string) {
			if v := getenv("FORWARDED_ALLOW_IPS"); v != "" {
				return v, "FORWARDED_ALLOW_IPS"
			}
			return "127.0.0.1,::1", ""
		},
		accessor: allowField(func(c *Config) **proxy.AllowList { return &c.ForwardedAllowIPs }),
	},
	{
		name: "secure_scheme_headers", gunicorn: "secure_scheme_headers", kind: Honoured, typ: tString, noEnv: true,
		why: "same (a dict in the config file); default `X-FORWARDED-PROTOCOL: ssl`, `X-FORWARDED-PROTO: https`, `X-FORWARDED-SSL: on`",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				m := map[string]string{}
				if v != "" {
					if err := json.Unmarshal([]byte(v), &m); err != nil {
						return fmt.Errorf("not a dict of header: value strings: %v", err)
					}
				}
				c.SecureSchemeHeaders = map[string]string{}
				for k, val := range m {
					c.SecureSchemeHeaders[strings.ToUpper(k)] = val
				}
				return nil
			},
			show: func(c *Config) any {
				if c.SecureSchemeHeaders == nil {
					return proxy.DefaultSchemeHeaders
				}
				return c.SecureSchemeHeaders
			},
		},
	},
	{
		name: "proxy-protocol", flags: []string{"--proxy-protocol"}, gunicorn: "proxy_protocol", kind: Honoured, typ: tString, def: "off", noOptDef: "auto",
		usage:    "read a PROXY protocol header (v1, v2 or auto; the flag alone = auto) from --proxy-allow-from peers: it sets REMOTE_ADDR/REMOTE_PORT",
		why:      "same (`off`, `v1`, `v2`, `auto`, or a boolean); a header is read only from `--proxy-allow-from` peers, under `--header-timeout`",
		accessor: parsedField(func(c *Config) *proxy.Mode { return &c.ProxyProtocol }, proxy.ParseMode, func(m proxy.Mode) any { return m.String() }),
	},
	{
		name: "proxy-allow-from", flags: []string{"--proxy-allow-from"}, gunicorn: "proxy_allow_ips", kind: Honoured, typ: tList, def: "127.0.0.1,::1",
		usage:    "peers allowed to send a PROXY protocol header: IPs, CIDRs, or *",
		why:      "same (IPs, CIDRs, `*`; default `127.0.0.1,::1`)",
		accessor: allowField(func(c *Config) **proxy.AllowList { return &c.ProxyAllowIPs }),
	},
}

// allowField reads an allow list (IPs, CIDR prefixes, "*"): parsed here,
// once; each value given adds to it.
func allowField(field func(*Config) **proxy.AllowList) accessor {
	return accessor{apply: func(c *Config, v string) error {
		l, err := (*field(c)).Extend(v)
		if err != nil {
			return err
		}
		*field(c) = l
		return nil
	}, show: func(c *Config) any {
		return nonNil((*field(c)).Items())
	}}
}
