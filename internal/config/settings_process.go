package config

import (
	"fmt"
	"strings"
)

// processSettings are gowsgi's own process: the workers' environment, the
// pid file and the umask. (--user, --group, --daemon and --name, which
// only gunicorn spells, are in settings_gunicorn.go.)
var processSettings = []*setting{
	{
		name: "env", flags: []string{"-e", "--env"}, gunicorn: "raw_env", kind: Honoured, typ: tList, meta: "KEY=VALUE",
		usage: "set KEY=VALUE in the workers' environment (repeatable)",
		why:   "same: KEY=VALUE for the workers",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
					return fmt.Errorf("%q: expected KEY=VALUE", v)
				}
				c.Env = append(c.Env, v)
				return nil
			},
			show: listField(func(c *Config) *[]string { return &c.Env }).show,
		},
	},
	{
		name: "pid", flags: []string{"-p", "--pid"}, gunicorn: "pidfile", kind: Honoured, typ: tString,
		usage:    "write the process id to this file while serving",
		why:      "same",
		accessor: strField(func(c *Config) *string { return &c.PidFile }),
	},
	{
		name: "umask", flags: []string{"-m", "--umask"}, gunicorn: "umask", kind: Honoured, typ: tInt,
		usage: "umask while unix sockets are created (0o117, 0x4f or decimal)",
		why:   "same (applied while unix sockets are created)",
		accessor: parsedField(func(c *Config) *int { return &c.Umask }, func(v string) (int, error) {
			n, err := parseCount(v)
			if err == nil && n > 0o777 {
				err = fmt.Errorf("%q is not a umask (0 to 0o777)", v)
			}
			return n, err
		}, unsetBelowZero),
	},
}
