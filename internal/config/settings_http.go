package config

import (
	"fmt"
	"strings"

	"github.com/gowsgi/gowsgi/internal/tlsconf"
)

// httpSettings are how responses travel: compression, TLS and HTTP/2.
var httpSettings = []*setting{
	{
		name: "compress", flags: []string{"--compress"}, kind: Native, typ: tBool, def: "false",
		usage:    "compress responses on the fly with zstd, br or gzip, as the client's Accept-Encoding asks (not HEAD, ranges, 204/304, encoded or tiny bodies)",
		accessor: boolField(func(c *Config) *bool { return &c.Compress }),
	},
	{
		name: "compress-memory", flags: []string{"--compress-memory"}, kind: Native, typ: tString, def: "64M", meta: "size",
		usage:    "memory of the on-the-fly compressors of all responses together (about 1 MiB a gzip, 2 a zstd, 5 a br); a response over it is sent uncompressed",
		accessor: sizeField(func(c *Config) *int64 { return &c.CompressMemory }),
	},
	{
		name: "certfile", flags: []string{"--certfile"}, gunicorn: "certfile", kind: Honoured, typ: tList,
		usage:    "TLS certificate chain (PEM); turns TLS on for every bind (repeatable: one per --keyfile, chosen by SNI)",
		why:      "same; repeatable with `--keyfile` in pairs, the certificate matching the client's SNI is served (the first by default); re-read on SIGHUP",
		accessor: listField(func(c *Config) *[]string { return &c.CertFiles }),
	},
	{
		name: "keyfile", flags: []string{"--keyfile"}, gunicorn: "keyfile", kind: Honoured, typ: tList,
		usage:    "private key (PEM) of the --certfile in the same position (repeatable)",
		why:      "same; repeatable, paired in order with `--certfile`",
		accessor: listField(func(c *Config) *[]string { return &c.KeyFiles }),
	},
	{
		name: "ca-certs", flags: []string{"--ca-certs"}, gunicorn: "ca_certs", kind: Honoured, typ: tString,
		usage:    "CA certificates (PEM) that client certificates must chain to",
		why:      "same",
		accessor: strField(func(c *Config) *string { return &c.CACerts }),
	},
	{
		name: "cert-reqs", flags: []string{"--cert-reqs"}, gunicorn: "cert_reqs", kind: Honoured, typ: tString, def: "0",
		usage:    "client certificates: 0 (none), 1 (optional: verified when sent), 2 (required)",
		why:      "same: 0, 1, 2 (also none, optional, required); the subject reaches the app as `SSL_CLIENT_S_DN`",
		accessor: parsedField(func(c *Config) *int { return &c.CertReqs }, tlsconf.ParseCertReqs, asIs[int]),
	},
	{
		name: "ciphers", flags: []string{"--ciphers"}, gunicorn: "ciphers", kind: Honoured, typ: tString,
		usage: "OpenSSL cipher list for TLS 1.2 and older (e.g. ECDHE+AESGCM:ECDHE+CHACHA20); default: Go's",
		why:   "same (an OpenSSL cipher list, mapped to Go's suites; unknown names are an error; TLS 1.3 suites are always Go's)",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if strings.TrimSpace(v) != "" {
					if _, err := tlsconf.ParseCiphers(v); err != nil {
						return err
					}
				}
				c.Ciphers = strings.TrimSpace(v)
				return nil
			},
			show: strField(func(c *Config) *string { return &c.Ciphers }).show,
		},
	},
	{
		name: "ssl-version", flags: []string{"--ssl-version"}, gunicorn: "ssl_version", kind: Honoured, typ: tString, def: "TLS",
		usage: "lowest TLS version: TLS (default, TLS 1.2), TLSv1, TLSv1_1, TLSv1_2, TLSv1_3",
		why:   "a minimum version: TLS, TLS_SERVER and SSLv23 mean TLS 1.2 (gowsgi's floor), TLSv1_2 etc. that version or later; SSLv3 is refused",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				m, err := tlsconf.ParseSSLVersion(v)
				c.TLSMinVersion, c.sslVersion = m, v
				return err
			},
			show: func(c *Config) any { return c.sslVersion },
		},
	},
	{
		name: "do-handshake-on-connect", flags: []string{"--do-handshake-on-connect"}, gunicorn: "do_handshake_on_connect", kind: Honoured, typ: tBool, def: "false",
		usage: "accepted: the TLS handshake always runs as a connection is accepted (on its own goroutine)",
		why:   "accepted; the handshake always runs as soon as a connection is accepted, on its own goroutine, bounded by --header-timeout",
		accessor: accessor{
			apply: func(c *Config, v string) error { _, err := parseBool(v); return err },
		},
	},
	{
		name: "http-protocols", flags: []string{"--http-protocols"}, gunicorn: "http_protocols", kind: Honoured, typ: tString, def: "h2,h1",
		usage: "protocols offered, in order of preference: h2, h1 (HTTP/2 over TLS by ALPN; over cleartext see --http2-cleartext)",
		why:   "same values; gowsgi's default is `h2,h1` (gunicorn's `h1`): HTTP/2 is offered by ALPN on TLS listeners",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				c.HTTPProtocols = nil
				for _, p := range strings.Split(v, ",") {
					switch p = strings.ToLower(strings.TrimSpace(p)); p {
					case string(HTTP1), string(HTTP2):
						c.HTTPProtocols = append(c.HTTPProtocols, Protocol(p))
					case "h3":
						return fmt.Errorf("h3 (HTTP/3) is not implemented; use h2,h1")
					case "":
					default:
						return fmt.Errorf("unknown protocol %q: expected h1, h2", p)
					}
				}
				if len(c.HTTPProtocols) == 0 {
					return fmt.Errorf("no protocol given: expected h1, h2")
				}
				return nil
			},
			show: func(c *Config) any {
				var names []string
				for _, p := range c.HTTPProtocols {
					names = append(names, string(p))
				}
				return strings.Join(names, ",")
			},
		},
	},
	{
		name: "http2-cleartext", flags: []string{"--http2-cleartext"}, gunicorn: "http2_cleartext", kind: Honoured, typ: tString, def: "off",
		usage: "HTTP/2 without TLS (h2c) for peers in --forwarded-allow-ips: off, prior-knowledge, upgrade, both",
		why:   "same: off, prior-knowledge, upgrade, both; trusted peers (`--forwarded-allow-ips`) only",
		accessor: enumField(func(c *Config) *Cleartext { return &c.HTTP2Cleartext }, "%q: expected off, prior-knowledge, upgrade or both",
			CleartextOff, CleartextPriorKnowledge, CleartextUpgrade, CleartextBoth),
	},
	{
		name: "http2-max-concurrent-streams", flags: []string{"--http2-max-concurrent-streams"}, gunicorn: "http2_max_concurrent_streams", kind: Honoured, typ: tInt, def: "100",
		usage:    "HTTP/2 streams a connection may have open at once",
		why:      "same",
		accessor: intRange(1, 1<<31-1, func(c *Config) *int { return &c.HTTP2MaxConcurrentStreams }),
	},
	{
		name: "http2-max-streams-total", flags: []string{"--http2-max-streams-total"}, kind: Native, typ: tInt, def: "2048",
		usage:    "HTTP/2 streams served at once over all connections together, each connection's first in flight not counted (--max-connections bounds those); beyond, new streams get 503",
		accessor: intField(1, func(c *Config) *int { return &c.HTTP2MaxStreamsTotal }),
	},
	{
		name: "http2-initial-window-size", flags: []string{"--http2-initial-window-size"}, gunicorn: "http2_initial_window_size", kind: Honoured, typ: tInt, def: "65535",
		usage:    "HTTP/2 flow-control window per stream, in bytes",
		why:      "same",
		accessor: intRange(1, 1<<31-1, func(c *Config) *int { return &c.HTTP2InitialWindowSize }),
	},
	{
		name: "http2-max-frame-size", flags: []string{"--http2-max-frame-size"}, gunicorn: "http2_max_frame_size", kind: Honoured, typ: tInt, def: "16384",
		usage:    "largest HTTP/2 frame payload accepted, in bytes",
		why:      "same",
		accessor: intRange(16384, 16777215, func(c *Config) *int { return &c.HTTP2MaxFrameSize }),
	},
	{
		name: "http2-max-header-list-size", flags: []string{"--http2-max-header-list-size"}, gunicorn: "http2_max_header_list_size", kind: Honoured, typ: tInt, def: "65536",
		usage:    "largest HTTP/2 header list (after HPACK), in bytes; 0 = --limit-request-header-size",
		why:      "same; 0 falls back to `--limit-request-header-size` rather than no limit",
		accessor: intRange(0, 1<<31-1, func(c *Config) *int { return &c.HTTP2MaxHeaderListSize }),
	},
}
