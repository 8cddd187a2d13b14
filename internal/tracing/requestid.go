// Package tracing correlates a request across gowsgi, its workers and the
// services around them: request IDs (X-Request-ID, always on) and
// OpenTelemetry server spans exported over OTLP/HTTP (only when the
// standard OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// variable is set).
//
// Both work on the request before the environ is built. The request ID is
// kept in http1.Request.ID, never added to the header fields: the
// application sees it as gowsgi.request_id, and HTTP_X_REQUEST_ID only
// when the client sent that header. The traceparent field the application
// sees (HTTP_TRACEPARENT) is the one set here. A peer's own values are
// taken only from trusted peers (the caller asks its proxy.AllowList,
// --forwarded-allow-ips); anyone else could otherwise choose the IDs in
// your logs or graft requests onto a trace of theirs.
package tracing

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"sync/atomic"

	"github.com/gowsgi/gowsgi/internal/http1"
)

// RequestIDHeader carries a request's ID, in and out.
const RequestIDHeader = "X-Request-ID"

// maxRequestID bounds an accepted request ID; a longer one is replaced.
const maxRequestID = 200

// ApplyRequestID settles r's ID (r.ID) and returns it: a trusted peer's
// own X-Request-ID (the first one, if it sent several, when it is
// printable ASCII of at most 200 bytes), else a new one. r's header fields
// are left as the client sent them: the application sees HTTP_X_REQUEST_ID
// only when the client sent one, and the ID under gowsgi.request_id.
func ApplyRequestID(r *http1.Request, trusted bool) string {
	if trusted {
		if id, ok := get(r, RequestIDHeader); ok && validID(id) {
			r.ID = id
			return id
		}
	}
	r.ID = NewID()
	return r.ID
}

// HasRequestID reports whether r carries an X-Request-ID field, the only
// case where ApplyRequestID and PassRequestID need to know whether the
// peer is trusted.
func HasRequestID(r *http1.Request) bool {
	_, ok := get(r, RequestIDHeader)
	return ok
}

// PassRequestID keeps a trusted peer's own X-Request-ID as r's ID (as
// ApplyRequestID does) and returns it; otherwise r has no ID and none is
// made up ("" then). r's header fields are left as the client sent them.
func PassRequestID(r *http1.Request, trusted bool) string {
	r.ID = ""
	if id, ok := get(r, RequestIDHeader); ok && trusted && validID(id) {
		r.ID = id
	}
	return r.ID
}

// NewID returns a new request ID: 32 lowercase hex digits, unique among
// the IDs of every gowsgi process. Each process draws two random 64-bit
// seeds when it starts; the n-th ID it makes is hi:lo with
//
//	lo = mix(n + seed1)    hi = mix(lo ^ seed0)
//
// where mix is SplitMix64's finalizer, a bijection. So lo differs for every
// n of one process: its IDs never repeat. Two processes (two gowsgi, or
// one restarted) make the same ID only if they drew the same seed0 (the
// same lo then needs the same seed0 for the same hi), 2^-64, and seeds1
// that differ by less than the number of IDs they made: about N/2^128 for
// N IDs, less than the N²/2^129 of 128 random bits. Every digit varies
// from one ID to the next, as with random IDs (log pipelines that sample
// or shard by a part of the ID see them spread), at the cost of one atomic
// add and no random numbers per request. Request IDs need to be unique,
// not unguessable.
func NewID() string {
	lo := mix(idCount.Add(1) + idSeed[1])
	hi := mix(lo ^ idSeed[0])
	var b [32]byte
	binary.BigEndian.PutUint64(b[0:], hexDigits(uint32(hi>>32)))
	binary.BigEndian.PutUint64(b[8:], hexDigits(uint32(hi)))
	binary.BigEndian.PutUint64(b[16:], hexDigits(uint32(lo>>32)))
	binary.BigEndian.PutUint64(b[24:], hexDigits(uint32(lo)))
	return string(b[:])
}

// hexDigits returns the 8 lowercase hex digits of x, most significant
// first when stored big-endian: each nibble is spread into a byte of its
// own, then each byte n becomes '0'+n, plus 39 more ('a'-'0'-10) where
// n >= 10, eight at a time (no byte carries into the next: n+6 < 256).
func hexDigits(x uint32) uint64 {
	const ones = 0x0101010101010101
	v := uint64(x)
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff
	v = (v | v<<4) & 0x0f0f0f0f0f0f0f0f
	letters := (v + 6*ones) >> 4 & ones // 1 in each byte whose nibble is 10 or more
	return v + '0'*ones + letters*('a'-'0'-10)
}

var (
	idSeed  = [2]uint64{rand.Uint64(), rand.Uint64()} // math/rand/v2: seeded by the OS at start
	idCount atomic.Uint64
)

// mix is SplitMix64's finalizer (Steele, Lea and Flood, 2014): a bijection
// of the 64-bit integers that spreads every input bit over the output.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func validID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// get returns the first value of header field name in r.
func get(r *http1.Request, name string) (string, bool) {
	for _, f := range r.Header {
		if len(f.Name) == len(name) && strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// set leaves r with one field name, holding value: the first one is
// rewritten in place, later ones are dropped, none is appended.
func set(r *http1.Request, name, value string) {
	found := false
	kept := r.Header[:0]
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			if found {
				continue
			}
			found = true
			f.Value = value
		}
		kept = append(kept, f)
	}
	clear(r.Header[len(kept):])
	r.Header = kept
	if !found {
		r.Header = append(r.Header, http1.Field{Name: name, Value: value})
	}
}

// del removes every field name from r.
func del(r *http1.Request, name string) {
	kept := r.Header[:0]
	for _, f := range r.Header {
		if !strings.EqualFold(f.Name, name) {
			kept = append(kept, f)
		}
	}
	clear(r.Header[len(kept):])
	r.Header = kept
}
