package config

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// limitSettings bound what one request and the server may take: body and
// response sizes and spooling, the accept backlog, queueing, timeouts and
// the request head's limits.
var limitSettings = []*setting{
	{
		name: "max-body-size", flags: []string{"--max-body-size"}, kind: Native, typ: tString, def: "0", meta: "size",
		usage:    "largest request body accepted (e.g. 10M); larger gets 413; 0 = unlimited",
		accessor: sizeField(func(c *Config) *int64 { return &c.MaxBodySize }),
	},
	{
		name: "body-memory", flags: []string{"--body-memory"}, kind: Native, typ: tString, def: "1M", meta: "size",
		usage:    "request bodies larger than this are spooled to a temp file",
		accessor: sizeField(func(c *Config) *int64 { return &c.BodyMemory }),
	},
	{
		name: "body-memory-total", flags: []string{"--body-memory-total"}, kind: Native, typ: tString, def: "64M", meta: "size",
		usage:    "request-body bytes held in memory by all requests together; beyond, bodies spool to disk",
		accessor: sizeField(func(c *Config) *int64 { return &c.BodyMemoryTotal }),
	},
	{
		name: "body-min-rate", flags: []string{"--body-min-rate"}, kind: Native, typ: tString, def: "1K", meta: "size",
		usage:    "bytes per second a request body must keep up, over a sliding window of --body-timeout; slower gets 408; 0 = off",
		accessor: sizeField(func(c *Config) *int64 { return &c.BodyMinRate }),
	},
	{
		name: "response-buffer", flags: []string{"--response-buffer"}, kind: Native, typ: tString, def: "1M", meta: "size",
		usage:    "response bytes buffered per request, so a slow reader does not hold a worker thread",
		accessor: sizeField(func(c *Config) *int64 { return &c.ResponseBuffer }),
	},
	{
		name: "response-spool", flags: []string{"--response-spool"}, kind: Native, typ: tString, def: "1G", meta: "size",
		usage:    "beyond --response-buffer, response bytes spooled to a temp file per request; 0 = none",
		accessor: sizeField(func(c *Config) *int64 { return &c.ResponseSpool }),
	},
	{
		name: "response-memory-total", flags: []string{"--response-memory-total"}, kind: Native, typ: tString, def: "64M", meta: "size",
		usage:    "response bytes held in memory by all requests together, from the worker to the client; beyond, responses spool to disk; with no room there either, new requests get 503",
		accessor: sizeField(func(c *Config) *int64 { return &c.ResponseMemoryTotal }),
	},
	{
		name: "response-spool-total", flags: []string{"--response-spool-total"}, kind: Native, typ: tString, def: "1G", meta: "size",
		usage:    "response bytes spooled by all requests together; beyond, the worker waits for its client, --timeout at most, then the response is cut off",
		accessor: sizeField(func(c *Config) *int64 { return &c.ResponseSpoolTotal }),
	},
	{
		name: "max-spool-files", flags: []string{"--max-spool-files"}, kind: Native, typ: tInt, def: "1024",
		usage:    "temp files (descriptors) open for spooled request bodies (one each; all responses share one more); beyond, a body that needs one gets 503",
		accessor: intField(1, func(c *Config) *int { return &c.MaxSpoolFiles }),
	},
	{
		name: "tmp-upload-dir", flags: []string{"--tmp-upload-dir"}, gunicorn: "tmp_upload_dir", kind: Native, typ: tString,
		usage: "directory for spooled request bodies and responses (default: the system temp dir)",
		why:   "same: where spooled request bodies (and responses) go",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if v == "" {
					c.TmpUploadDir = ""
					return nil
				}
				abs, err := filepath.Abs(v)
				if err != nil {
					return err
				}
				if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
					return fmt.Errorf("%s is not a directory", v)
				}
				c.TmpUploadDir = abs
				return nil
			},
			show: strField(func(c *Config) *string { return &c.TmpUploadDir }).show,
		},
	},
	{
		name: "backlog", flags: []string{"--backlog"}, gunicorn: "backlog", kind: Honoured, typ: tInt,
		usage:    "listen(2) backlog: connections the kernel queues before gowsgi accepts them (default: the system's somaxconn)",
		why:      "same: the listen(2) backlog of the sockets gowsgi binds (capped by net.core.somaxconn); requests waiting for a worker are bounded by --max-queue",
		accessor: intField(0, func(c *Config) *int { return &c.Backlog }),
	},
	{
		name: "reuse-port", flags: []string{"--reuse-port"}, gunicorn: "reuse_port", kind: Honoured, typ: tBool, def: "false",
		usage:    "set SO_REUSEPORT on the TCP sockets gowsgi binds, so other processes may bind the same address",
		why:      "same: SO_REUSEPORT on the TCP sockets gowsgi binds",
		accessor: boolField(func(c *Config) *bool { return &c.ReusePort }),
	},
	{
		name: "max-queue", flags: []string{"--max-queue"}, kind: Native, typ: tInt, def: "2048",
		usage:    "requests that may wait for a free worker; beyond, 503",
		accessor: intField(1, func(c *Config) *int { return &c.MaxQueue }),
	},
	{
		name: "queue-timeout", flags: []string{"--queue-timeout"}, kind: Native, typ: tString, def: "30s", meta: "duration",
		usage:    "longest wait for a free worker before 503",
		accessor: durField(func(c *Config) *time.Duration { return &c.QueueTimeout }),
	},
	{
		name: "graceful-timeout", flags: []string{"--graceful-timeout"}, gunicorn: "graceful_timeout", kind: Native, typ: tString, def: "30s", meta: "duration",
		usage:    "on SIGTERM/SIGINT, how long in-flight requests may take to finish",
		why:      "same (seconds, or a Go duration)",
		accessor: durField(func(c *Config) *time.Duration { return &c.GracefulTimeout }),
	},
	{
		name: "keep-alive", flags: []string{"--keep-alive"}, gunicorn: "keepalive", kind: Native, typ: tString, def: "5s", meta: "duration",
		usage:    "how long an idle keep-alive connection is kept open",
		why:      "same (seconds; gowsgi's default is 5, gunicorn's 2)",
		accessor: durField(func(c *Config) *time.Duration { return &c.KeepAlive }),
	},
	{
		name: "header-timeout", flags: []string{"--header-timeout"}, kind: Native, typ: tString, def: "10s", meta: "duration",
		usage:    "time allowed to send a request's head (slowloris protection)",
		accessor: durField(func(c *Config) *time.Duration { return &c.HeaderTimeout }),
	},
	{
		name: "body-timeout", flags: []string{"--body-timeout"}, kind: Native, typ: tString, def: "30s", meta: "duration",
		usage:    "longest pause allowed while a client sends a request body",
		accessor: durField(func(c *Config) *time.Duration { return &c.BodyTimeout }),
	},
	{
		name: "write-timeout", flags: []string{"--write-timeout"}, kind: Native, typ: tString, def: "30s", meta: "duration",
		usage:    "longest a client may stall reading a response",
		accessor: durField(func(c *Config) *time.Duration { return &c.WriteTimeout }),
	},
	{
		name: "max-connections", flags: []string{"--max-connections"}, kind: Native, typ: tInt, def: "10000",
		usage:    "open client connections of every kind (HTTP/1.x, TLS, HTTP/2, waiting for a PROXY header); beyond, new ones wait to be accepted",
		accessor: intField(1, func(c *Config) *int { return &c.MaxConnections }),
	},
	{
		name: "limit-request-line", flags: []string{"--limit-request-line"}, gunicorn: "limit_request_line", kind: Native, typ: tInt, def: "8190",
		usage:    "longest request line; longer gets 414",
		why:      "same (gowsgi's default is 8190, gunicorn's 4094)",
		accessor: intField(0, func(c *Config) *int { return &c.MaxRequestLine }),
	},
	{
		name: "limit-request-field-size", flags: []string{"--limit-request-field-size", "--limit-request-field_size"}, gunicorn: "limit_request_field_size", kind: Honoured, typ: tInt, def: "8190",
		usage:    "longest request header field line (name and value); longer gets 431; 0 = no limit but --limit-request-header-size",
		why:      "same (0 = no per-field limit; the whole header section stays bounded by --limit-request-header-size)",
		accessor: intField(0, func(c *Config) *int { return &c.MaxFieldBytes }),
	},
	{
		name: "limit-request-header-size", flags: []string{"--limit-request-header-size"}, kind: Native, typ: tString, def: "64K", meta: "size",
		usage:    "largest request header section; larger gets 431",
		accessor: sizeField(func(c *Config) *int64 { return &c.MaxHeaderBytes }),
	},
	{
		name: "limit-request-fields", flags: []string{"--limit-request-fields"}, gunicorn: "limit_request_fields", kind: Native, typ: tInt, def: "100",
		usage:    "most request header fields; more gets 431",
		why:      "same",
		accessor: intField(0, func(c *Config) *int { return &c.MaxHeaderFields }),
	},
}
