package pyshim

import _ "embed"

// CheckSource is the Python side of `gowsgi check` (check.py). It runs in a
// namespace that already holds WorkerSource's definitions, so the
// application is loaded by the very code that loads it for serving.
//
//go:embed check.py
var CheckSource []byte
