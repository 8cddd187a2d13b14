package config

import "time"

// staticSettings are the files Go serves itself (--static).
var staticSettings = []*setting{
	{
		name: "static", flags: []string{"--static"}, kind: Native, typ: tList, meta: "/prefix=dir",
		usage: "serve files from DIR at URL-PREFIX from Go, never reaching Python: /URL-PREFIX=DIR (repeatable)",
		accessor: accessor{
			apply: func(c *Config, v string) error {
				m, err := ParseStatic(v)
				if err != nil {
					return err
				}
				c.Static = append(c.Static, m)
				return nil
			},
			show: func(c *Config) any {
				out := []string{}
				for _, m := range c.Static {
					out = append(out, m.Spec())
				}
				return out
			},
		},
	},
	{
		name: "static-allow-dotfiles", flags: []string{"--static-allow-dotfiles"}, kind: Native, typ: tBool, def: "false",
		usage:    "serve files and directories whose name starts with '.' under --static",
		accessor: boolField(func(c *Config) *bool { return &c.StaticAllowDotfiles }),
	},
	{
		name: "static-follow-symlinks", flags: []string{"--static-follow-symlinks"}, kind: Native, typ: tBool, def: "false",
		usage:    "follow symbolic links under --static, also out of the directory",
		accessor: boolField(func(c *Config) *bool { return &c.StaticFollowSymlinks }),
	},
	{
		name: "static-max-age", flags: []string{"--static-max-age"}, kind: Native, typ: tString, def: "0", meta: "duration",
		usage:    "Cache-Control max-age for static files; 0 = none",
		accessor: durField(func(c *Config) *time.Duration { return &c.StaticMaxAge }),
	},
}
