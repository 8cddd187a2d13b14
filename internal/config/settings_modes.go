package config

// modeSettings are the config file and the modes that do not serve:
// --print-config, --check-config, --version, --help.
var modeSettings = []*setting{
	{
		name: "config", flags: []string{"-c", "--config"}, gunicorn: "config", kind: Honoured, typ: tString,
		usage:    "gunicorn config file: FILE or python:MODULE (default: ./gunicorn.conf.py when present)",
		why:      "same: FILE, file:FILE or python:MODULE, executed with the workers' Python; ./gunicorn.conf.py by default",
		accessor: strField(func(c *Config) *string { return &c.ConfigFile }),
	},
	{
		name: "print-config", flags: []string{"--print-config"}, gunicorn: "print_config", kind: Honoured, typ: tBool, def: "false",
		usage:    "print every effective setting and where it came from, then exit (with --json: as JSON)",
		why:      "same; with `--json`, one JSON object",
		accessor: boolField(func(c *Config) *bool { return &c.PrintConfig }),
	},
	{
		name: "check-config", flags: []string{"--check-config"}, gunicorn: "check_config", kind: Honoured, typ: tBool, def: "false",
		usage:    "load the configuration and the app, then exit 0 (loads) or 1",
		why:      "same",
		accessor: boolField(func(c *Config) *bool { return &c.CheckConfig }),
	},
	{
		name: "json", flags: []string{"--json"}, kind: Native, typ: tBool, def: "false",
		usage:    "with --print-config (and gowsgi check): JSON output",
		accessor: boolField(func(c *Config) *bool { return &c.JSON }),
	},
	{
		name: "version", flags: []string{"-v", "--version"}, kind: Native, typ: tBool, def: "false", noEnv: true,
		usage:    "print the version and exit",
		accessor: boolField(func(c *Config) *bool { return &c.ShowVersion }),
	},
	{
		name: "help", flags: []string{"-h", "--help"}, kind: Native, typ: tBool, def: "false", noEnv: true,
		usage:    "show this help",
		accessor: boolField(func(c *Config) *bool { return &c.ShowHelp }),
	},
}
