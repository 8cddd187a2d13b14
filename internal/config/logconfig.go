package config

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// accessLoggers are the Python loggers gunicorn, uvicorn and hypercorn
// write their access log to. gowsgi writes the access log itself, in Go,
// so a logging config that sets them up has no effect on it. (Their error
// loggers are not among them: apps log to uvicorn.error and gunicorn.error
// themselves, to share the server's output.)
var accessLoggers = map[string]bool{"gunicorn.access": true, "uvicorn.access": true, "hypercorn.access": true}

// qualname is a fileConfig logger's name line.
var qualname = regexp.MustCompile(`(?m)^\s*qualname\s*[=:]\s*(\S+)\s*$`)

// noticeAccessLoggers gives a notice for each logging config (--log-config,
// --log-config-json, logconfig_dict, a worker class's log_config) that
// configures a server's access logger, instead of leaving it silently
// without effect. The rest of such a config applies to the app's loggers.
func (c *Config) noticeAccessLoggers() {
	for _, lc := range []struct{ name, value string }{
		{"log-config", c.LogConfig}, {"log-config-json", c.LogConfigJSON}, {"logconfig_dict", c.LogConfigDict},
	} {
		if lc.value == "" {
			continue
		}
		var found []string
		switch lc.name {
		case "log-config":
			b, err := os.ReadFile(lc.value)
			if err != nil {
				continue // reported where the workers apply it
			}
			for _, m := range qualname.FindAllStringSubmatch(string(b), -1) {
				if accessLoggers[m[1]] {
					found = append(found, m[1])
				}
			}
		default:
			text := []byte(lc.value)
			if lc.name == "log-config-json" {
				b, err := os.ReadFile(lc.value)
				if err != nil {
					continue
				}
				text = b
			}
			var d struct {
				Loggers map[string]json.RawMessage `json:"loggers"`
			}
			if json.Unmarshal(text, &d) != nil {
				continue
			}
			for name := range d.Loggers {
				if accessLoggers[name] {
					found = append(found, name)
				}
			}
		}
		if len(found) == 0 {
			continue
		}
		sort.Strings(found)
		origin := "--" + lc.name
		if g := c.given[lc.name]; g != nil {
			origin = g.origin
		} else if g := c.given["log-config"]; g != nil {
			origin = g.origin // uvicorn's --log-config log.json (or .yaml), read as a dict
		}
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: configures %s: gowsgi writes the access log itself, not through Python's logging "+
			"(set it with --access-logfile, --access-logformat, --log-format); the rest applies to the app's loggers",
			origin, strings.Join(found, ", ")))
	}
}
