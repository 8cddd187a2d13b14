package h2

import (
	"net/http"
	"time"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// SetDefaults puts the server's default fields (http1.Defaults: Server,
// Date, the operator's extra fields) in hdr, the header map of an HTTP/2
// response whose own fields are have (added after these). Go's HTTP/2
// server adds a Date of its own unless the map has the key: a Date the
// defaults leave out is held off with a nil entry.
func SetDefaults(hdr http.Header, d *http1.Defaults, have []http1.Field) {
	for _, f := range d.Append(nil, have, time.Now()) {
		hdr.Add(f.Name, f.Value)
	}
	if _, ok := hdr["Date"]; !ok {
		hdr["Date"] = nil // have's own Date, if any, is added to it
	}
}
