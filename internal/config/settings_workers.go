package config

import (
	"strconv"
	"strings"
	"time"
)

// workerSettings are the worker processes' lifecycle: boot, timeouts,
// pipelining, recycling, preloading and reloading.
var workerSettings = []*setting{
	{
		name: "boot-timeout", flags: []string{"--boot-timeout"}, kind: Native, typ: tString, def: "2m", meta: "duration",
		usage:    "time a worker may take to import the app and, for ASGI, run its lifespan startup (--timeout instead, when longer)",
		accessor: durField(func(c *Config) *time.Duration { return &c.BootTimeout }),
	},
	{
		name: "timeout", flags: []string{"-t", "--timeout"}, gunicorn: "timeout", kind: Native, typ: tString, def: "30s", meta: "duration",
		usage:    "a worker silent this long on a request has its stacks logged, gets 504 and is replaced; 0 = never",
		why:      "same (seconds), plus a stack dump of the stuck worker",
		accessor: durField(func(c *Config) *time.Duration { return &c.Timeout }),
	},
	{
		name: "pipeline-depth", flags: []string{"--pipeline-depth"}, kind: Native, typ: tInt, def: "32",
		usage:    "when every worker thread is busy, queue up to this many requests on one that is answering fast (fewer wake-ups under load); 1 = off",
		accessor: intField(1, func(c *Config) *int { return &c.PipelineDepth }),
	},
	{
		name: "max-requests", flags: []string{"--max-requests"}, gunicorn: "max_requests", kind: Native, typ: tInt, def: "0",
		usage:    "recycle a worker after this many requests; 0 = never",
		why:      "same; no request is dropped while recycling",
		accessor: intField(0, func(c *Config) *int { return &c.MaxRequests }),
	},
	{
		name: "max-requests-jitter", flags: []string{"--max-requests-jitter"}, gunicorn: "max_requests_jitter", kind: Native, typ: tInt, def: "0",
		usage:    "add a random 0..N to --max-requests per worker",
		why:      "same",
		accessor: intField(0, func(c *Config) *int { return &c.MaxRequestsJitter }),
	},
	{
		name: "max-memory", flags: []string{"--max-memory"}, kind: Native, typ: tString, def: "0", meta: "size",
		usage: "recycle a worker whose resident memory exceeds this (a number is MiB; or 512M, 2G); 0 = never",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
					c.MaxMemory = n << 20
					return nil
				}
				n, err := ParseSize(v)
				c.MaxMemory = n
				return err
			},
			show: func(c *Config) any { return c.MaxMemory },
		},
	},
	{
		name: "preload", flags: []string{"--preload"}, gunicorn: "preload_app", kind: Native, typ: tBool, def: "false",
		usage:    "import the app once in a template process and fork the workers from it (copy-on-write; see README)",
		why:      "same (`preload_app` in a config file); SIGHUP still loads new code",
		accessor: boolField(func(c *Config) *bool { return &c.Preload }),
	},
	{
		name: "reload", flags: []string{"--reload"}, gunicorn: "reload", kind: Native, typ: tBool, def: "false",
		usage:    "development: restart workers when a Python file of the app changes",
		why:      "same",
		accessor: boolField(func(c *Config) *bool { return &c.Reload }),
	},
	{
		name: "reload-extra-file", flags: []string{"--reload-extra-file"}, gunicorn: "reload_extra_files", kind: Native, typ: tList,
		usage:    "with --reload, also watch this file (repeatable)",
		why:      "same",
		accessor: listField(func(c *Config) *[]string { return &c.ReloadExtraFiles }),
	},
	{
		name: "reload-engine", flags: []string{"--reload-engine"}, gunicorn: "reload_engine", kind: Noticed, typ: tString,
		why:  "gowsgi has one file watcher; the engine cannot be chosen",
		asks: func(v string) bool { return v != "auto" && v != "" },
	},
}
