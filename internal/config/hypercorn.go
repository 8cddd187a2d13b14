package config

// hypercorn's configuration keys: its TOML file (-c hypercorn.toml), and
// the attributes of a Python file or module it is given (file:, python:).
// Each key is a gowsgi setting (with hypercorn's value converted where
// the two spell it differently), or noticed, or refused.

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// hyperKind is the type a hypercorn key's value must have.
type hyperKind int

const (
	hStr      hyperKind = iota // a string
	hInt                       // an integer
	hNum                       // an integer or a float
	hBool                      // a boolean
	hStrs                      // a string or a list of strings
	hDict                      // a table (dict)
	hIntOrStr                  // an integer or a string (verify_mode)
)

func (k hyperKind) String() string {
	return [...]string{"a string", "an integer", "a number", "a boolean", "a string or a list of strings", "a table", "an integer or a string"}[k]
}

// hyperKey is what gowsgi does with one hypercorn key.
type hyperKey struct {
	typ hyperKind
	// setting is the gowsgi setting the value goes to (by name); "" =
	// none: the key is noticed (kind Noticed) or refused (Refused) when
	// its value asks for something (not false, 0, "" or empty).
	setting string
	kind    Kind
	why     string
	// conv turns the value's items (as text) into the setting's values;
	// nil = as they are.
	conv func(items []string) ([]string, error)
	// short is the notice for a value conv leaves nothing of, though it
	// asks for something (startup_timeout = 30, within --boot-timeout).
	short string
}

// hypercornKeys are hypercorn 0.18's Config attributes.
var hypercornKeys = map[string]hyperKey{
	"access_log_format":          {typ: hStr, setting: "access-logformat"},
	"accesslog":                  {typ: hStr, setting: "access-log"},
	"alpn_protocols":             {typ: hStrs, setting: "http-protocols", conv: alpnProtocols},
	"alt_svc_headers":            {typ: hStrs, setting: "header", conv: prefixEach("Alt-Svc:")},
	"application_path":           {typ: hStr, setting: "app"},
	"backlog":                    {typ: hInt, setting: "backlog"},
	"bind":                       {typ: hStrs, setting: "bind"},
	"ca_certs":                   {typ: hStr, setting: "ca-certs"},
	"cert_reqs":                  {typ: hInt, setting: "cert-reqs"},
	"certfile":                   {typ: hStr, setting: "certfile"},
	"ciphers":                    {typ: hStr, setting: "ciphers"},
	"daemon":                     {typ: hBool, kind: Noticed, why: "hypercorn's daemon marks its worker processes as daemons; gowsgi's workers end with it anyway"},
	"debug":                      {typ: hBool, kind: Noticed, why: "use the app framework's own debug mode"},
	"dogstatsd_tags":             {typ: hStr, setting: "dogstatsd-tags"},
	"errorlog":                   {typ: hStr, setting: "error-log"},
	"graceful_timeout":           {typ: hNum, setting: "graceful-timeout"},
	"group":                      {typ: hInt, setting: "group"},
	"h11_max_incomplete_size":    {typ: hInt, kind: Noticed, why: "gowsgi bounds request heads with `--limit-request-header-size`, `--limit-request-line` and `--limit-request-fields`"},
	"h11_pass_raw_headers":       {typ: hBool, kind: Noticed, why: "header names reach the app lower-cased, as the ASGI spec says"},
	"h2_max_concurrent_streams":  {typ: hInt, setting: "http2-max-concurrent-streams"},
	"h2_max_header_list_size":    {typ: hInt, setting: "http2-max-header-list-size"},
	"h2_max_inbound_frame_size":  {typ: hInt, setting: "http2-max-frame-size"},
	"include_date_header":        {typ: hBool, setting: "date-header"},
	"include_server_header":      {typ: hBool, setting: "server-header"},
	"insecure_bind":              {typ: hStrs, setting: "insecure-bind"},
	"keep_alive_max_requests":    {typ: hInt, kind: Noticed, why: "gowsgi serves any number of requests on a keep-alive connection"},
	"keep_alive_timeout":         {typ: hNum, setting: "keep-alive"},
	"keyfile":                    {typ: hStr, setting: "keyfile"},
	"keyfile_password":           {typ: hStr, setting: "ssl-keyfile-password"},
	"logconfig":                  {typ: hStr, setting: "log-config"},
	"logconfig_dict":             {typ: hDict, setting: "logconfig_dict"},
	"logger_class":               {typ: hStr, kind: Noticed, why: "gowsgi writes its own log; configure the app's Python logging with `logconfig` or `logconfig_dict`"},
	"loglevel":                   {typ: hStr, setting: "log-level"},
	"max_app_queue_size":         {typ: hInt, kind: Noticed, why: "gowsgi bounds what each request and WebSocket buffers itself (`--response-buffer`, 16 messages or 1 MiB a WebSocket)"},
	"max_requests":               {typ: hInt, setting: "max-requests"},
	"max_requests_jitter":        {typ: hInt, setting: "max-requests-jitter"},
	"pid_path":                   {typ: hStr, setting: "pid"},
	"quic_bind":                  {typ: hStrs, setting: "quic-bind"},
	"read_timeout":               {typ: hInt, setting: "body-timeout"},
	"root_path":                  {typ: hStr, setting: "root-path"},
	"server_names":               {typ: hStrs, setting: "server-name"},
	"shutdown_timeout":           {typ: hNum, kind: Noticed, why: "the lifespan shutdown runs within `--graceful-timeout`"},
	"ssl_handshake_timeout":      {typ: hNum, kind: Noticed, why: "TLS handshakes are bounded by `--header-timeout`"},
	"startup_timeout":            {typ: hNum, setting: "boot-timeout", conv: longerBoot, why: "when longer than its default (2m): the lifespan startup counts toward it, with the import", short: "the lifespan startup counts toward `--boot-timeout` (2m, the import included)"},
	"statsd_host":                {typ: hStr, setting: "statsd-host"},
	"statsd_prefix":              {typ: hStr, setting: "statsd-prefix"},
	"umask":                      {typ: hInt, setting: "umask"},
	"use_reloader":               {typ: hBool, setting: "reload"},
	"user":                       {typ: hInt, setting: "user"},
	"verify_flags":               {typ: hInt, kind: Refused, why: "gowsgi does not offer OpenSSL's verify flags (revocation lists); terminate mTLS at a proxy that does"},
	"verify_mode":                {typ: hIntOrStr, setting: "cert-reqs"},
	"websocket_max_message_size": {typ: hInt, setting: "ws-max-size"},
	"websocket_ping_interval":    {typ: hNum, setting: "ws-ping-interval"},
	"worker_class":               {typ: hStr, setting: "worker-class"},
	"workers":                    {typ: hInt, setting: "workers"},
	"wsgi_max_body_size":         {typ: hInt, setting: "max-body-size"},
}

// longerBoot reads startup_timeout, the seconds hypercorn gives the
// lifespan startup, as --boot-timeout, which covers the import too: only a
// longer time than the boot timeout's default is taken (an app that loads
// models for minutes), a shorter one would cut the import short.
func longerBoot(items []string) ([]string, error) {
	var out []string
	for _, v := range items {
		d, err := ParseDuration(v)
		if err != nil {
			return nil, err
		}
		if def, _ := ParseDuration(byName["boot-timeout"].def); d > def {
			out = append(out, v)
		}
	}
	return out, nil
}

// alpnProtocols reads alpn_protocols (["h2", "http/1.1"]) as
// --http-protocols.
func alpnProtocols(items []string) ([]string, error) {
	var out []string
	for _, p := range items {
		switch strings.ToLower(p) {
		case "h2":
			out = append(out, "h2")
		case "http/1.1", "http/1.0":
			out = append(out, "h1")
		default:
			return nil, fmt.Errorf("%q: expected h2 or http/1.1", p)
		}
	}
	return []string{strings.Join(out, ",")}, nil
}

// prefixEach makes each item a --header value: prefix + item.
func prefixEach(prefix string) func([]string) ([]string, error) {
	return func(items []string) ([]string, error) {
		out := make([]string, len(items))
		for i, v := range items {
			out[i] = prefix + v
		}
		return out, nil
	}
}

// isTOML reports whether a config location is a TOML file: a path, or a
// file:path, ending in .toml. (hypercorn reads any bare path as TOML and
// file: as Python; gowsgi reads a bare path as gunicorn's Python file, so
// it goes by the suffix, also after file:, where a TOML file would not
// run as Python.)
func isTOML(location string) bool {
	return !strings.HasPrefix(location, "python:") && strings.HasSuffix(strings.ToLower(location), ".toml")
}

// readTOMLConfig reads hypercorn's TOML config file: its keys, as JSON
// values, for fill (with hypercorn's names).
func readTOMLConfig(location string) (*fileResult, error) {
	b, err := os.ReadFile(strings.TrimPrefix(location, "file:"))
	if err != nil {
		return nil, &UsageError{fmt.Sprintf("cannot read config file %s: %v", location, errText(err))}
	}
	var m map[string]any
	if err := toml.Unmarshal(b, &m); err != nil {
		return nil, &UsageError{fmt.Sprintf("config file %s is not TOML: %v", location, err)}
	}
	res := &fileResult{location: location, Hypercorn: true, Settings: map[string]json.RawMessage{}}
	for k, v := range m {
		j, err := json.Marshal(v)
		if err != nil {
			return nil, &UsageError{fmt.Sprintf("%s: %s: %v", location, k, err)}
		}
		res.Settings[k] = j
	}
	return res, nil
}

// tomlDict reads a TOML logging configuration (hypercorn's --log-config
// toml:FILE) as the JSON of the dict logging.config.dictConfig takes.
func tomlDict(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read it: %v", errText(err))
	}
	var m map[string]any
	if err := toml.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("not TOML: %v", err)
	}
	j, err := json.Marshal(m)
	return string(j), err
}

// hyperValues checks a hypercorn key's value against its type and returns
// it as the text items the setting's parser reads.
func (k hyperKey) values(raw json.RawMessage) ([]string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil // None: hypercorn's default
	}
	bad := func() ([]string, error) {
		return nil, fmt.Errorf("expected %s, got %s", k.typ, describe(v))
	}
	var items []string
	switch x := v.(type) {
	case string:
		if k.typ != hStr && k.typ != hStrs && k.typ != hIntOrStr {
			return bad()
		}
		items = []string{x}
	case bool:
		if k.typ != hBool {
			return bad()
		}
		items = []string{fmt.Sprint(x)}
	case float64:
		whole := x == float64(int64(x))
		if k.typ != hNum && !(whole && (k.typ == hInt || k.typ == hIntOrStr)) {
			return bad()
		}
		items = []string{fmt.Sprint(x)}
		if whole {
			items = []string{fmt.Sprint(int64(x))}
		}
	case []any:
		if k.typ != hStrs {
			return bad()
		}
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("expected a list of strings, got %s in it", describe(e))
			}
			items = append(items, s)
		}
	case map[string]any:
		if k.typ != hDict {
			return bad()
		}
		items = []string{string(raw)}
	default:
		return bad()
	}
	if k.conv != nil {
		return k.conv(items)
	}
	return items, nil
}

// describe names a decoded value's type for messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		if r, ok := x["repr"].(string); ok && len(x) == 1 {
			return r // a Python object loadconf.py could not encode
		}
		if c, ok := x["callable"].(string); ok && len(x) == 1 {
			return c
		}
		return "a table"
	}
	return fmt.Sprintf("%v", v)
}

// fillHypercorn records hypercorn key name's value in l, or judges a key
// with no setting: a notice (returned) or a refusal (an error).
func (r *fileResult) fillHypercorn(l *layer, name string, k hyperKey, raw json.RawMessage) (string, error) {
	origin := r.location + ": " + name
	items, err := k.values(raw)
	if k.setting == "" {
		if err != nil {
			return "", &UsageError{fmt.Sprintf("%s: %v", origin, err)}
		}
		if !asksAny(items) {
			return "", nil
		}
		if k.kind == Refused {
			return "", &UsageError{fmt.Sprintf("%s: %s", origin, k.why)}
		}
		return fmt.Sprintf("%s: %s", origin, k.why), nil
	}
	s := byName[k.setting]
	if err != nil {
		l.add(s, origin, "\x00"+err.Error()) // reported when applied, with the origin
		return "", nil
	}
	if len(items) == 0 && k.short != "" && asksAny([]string{string(raw)}) {
		return fmt.Sprintf("%s: %s", origin, k.short), nil
	}
	for _, v := range items {
		l.add(s, origin, v)
	}
	return "", nil
}

// asksAny reports whether a value asks for something: not false, 0 or
// empty.
func asksAny(items []string) bool {
	for _, v := range items {
		if v != "" && v != "0" && v != "false" {
			return true
		}
	}
	return false
}

// hypercornNames is every hypercorn key, sorted.
func hypercornNames() []string {
	out := make([]string, 0, len(hypercornKeys))
	for n := range hypercornKeys {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
