package config

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Setting is one effective setting, as --print-config shows it.
type Setting struct {
	// Name is gowsgi's name (the flag without "--"), or gunicorn's for
	// settings only a config file can give.
	Name string `json:"name"`
	// Gunicorn is gunicorn's setting name; nil for gowsgi-only options.
	Gunicorn *string `json:"gunicorn"`
	// Value is in gunicorn's units: seconds and byte counts as numbers,
	// lists as arrays, nil when unset.
	Value any `json:"value"`
	// Source is where the value came from: flag, GUNICORN_CMD_ARGS, env,
	// config file or default.
	Source string `json:"source"`
}

// Settings lists every effective setting in the table's order.
func (c *Config) Settings() []Setting {
	var out []Setting
	for _, s := range c.order {
		if s.name == "help" || s.name == "version" {
			continue
		}
		if s.peer != nil && s.usage == "" && s.gunicorn == "" && c.given[s.name] == nil {
			continue // uvicorn's or granian's own option, not given
		}
		st := Setting{Name: s.name, Source: srcDefault.String()}
		if s.gunicorn != "" {
			g := s.gunicorn
			st.Gunicorn = &g
		}
		g := c.given[s.name]
		if g != nil {
			st.Source = g.src.String()
		}
		switch {
		case isHook(s.gunicorn):
			if g != nil {
				st.Value = map[string]string{"callable": g.values[0]}
			}
		case s.show != nil:
			st.Value = s.show(c)
		case g != nil:
			st.Value = rawValue(s, g.values)
		}
		out = append(out, st)
	}
	return out
}

// rawValue types a setting's given text for printing.
func rawValue(s *setting, vals []string) any {
	if s.typ == tList {
		return vals
	}
	v := vals[len(vals)-1]
	switch s.typ {
	case tBool:
		if b, err := parseBool(v); err == nil {
			return b
		}
	case tInt:
		if n, err := strconv.ParseInt(v, 0, 64); err == nil {
			return n
		}
	}
	return v
}

// PrintSettings writes --print-config's output: a table, or with asJSON
// one object {"settings": [...], "warnings": [...]}.
func (c *Config) PrintSettings(w io.Writer, asJSON bool) error {
	settings := c.Settings()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(struct {
			Settings []Setting `json:"settings"`
			Warnings []string  `json:"warnings"`
		}{settings, nonNil(c.Warnings)})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "setting\tvalue\tgunicorn\tsource")
	for _, s := range settings {
		g := "-"
		if s.Gunicorn != nil {
			g = *s.Gunicorn
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, showText(s.Value), g, s.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}

func showText(v any) string {
	switch v := v.(type) {
	case nil:
		return "(unset)"
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []string:
		return "[" + strings.Join(v, ", ") + "]"
	case map[string]string:
		return v["callable"] + "()"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
