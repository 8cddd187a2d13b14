package compress

import "strings"

// Accept is a request's Accept-Encoding (RFC 9110 §12.5.3), read once:
// the weight it gives each coding this package knows. It is the one reading
// of the field in gowsgi: on-the-fly compression (Negotiate) and
// precompressed static files (internal/static) both choose through it.
//
// The zero value is a request without Accept-Encoding: it accepts no
// coding (RFC 9110 lets a server pick any coding then, but clients that
// send none are typically tools that cannot decode).
type Accept struct {
	q       [Brotli + 1]int // by Encoding, in thousandths; valid where named
	named   [Brotli + 1]bool
	star    int  // the weight of "*", valid when hasStar
	hasStar bool // a "*" element was present
}

// Preference breaks ties between codings a request weighs the same: zstd
// first (the least CPU for a given ratio when compressing on the fly; for
// a precompressed file it costs nothing either way), then brotli, then
// gzip (which every client has).
var Preference = [...]Encoding{Zstd, Brotli, Gzip}

// ParseAccept reads Accept-Encoding field values (a request may send the
// field more than once; each value may hold several elements). Codings it
// does not know (deflate, identity, ...) are skipped; "x-gzip" counts as
// gzip (RFC 9110 §8.4.1.3). A name given twice keeps its last weight.
//
// A weight that is not an RFC 9110 §12.4.2 qvalue (q=2, q=0.1234, q=abc,
// q=) counts as q=0: the coding is named and refused, so "*" does not
// bring it back. A server must not send a coding the client may not
// decode, and a malformed weight says nothing it can rely on.
func ParseAccept(values ...string) Accept {
	var a Accept
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(elem, ";")
			coding = strings.ToLower(strings.Trim(coding, " \t"))
			if coding == "" {
				continue
			}
			q := weight(params)
			if coding == "*" {
				a.star, a.hasStar = q, true
				continue
			}
			if e, ok := byToken(coding); ok {
				a.q[e], a.named[e] = q, true
			}
		}
	}
	return a
}

// byToken is the Encoding an Accept-Encoding coding names.
func byToken(coding string) (Encoding, bool) {
	switch coding {
	case "gzip", "x-gzip":
		return Gzip, true
	case "zstd":
		return Zstd, true
	case "br":
		return Brotli, true
	}
	return None, false
}

// Weight returns the weight the request gives e, in thousandths (0 to
// 1000): its own, else that of "*", else 0 (not acceptable). None, the
// identity, is not weighed here: it is 0.
func (a Accept) Weight(e Encoding) int {
	switch {
	case e <= None || e > Brotli:
		return 0
	case a.named[e]:
		return a.q[e]
	case a.hasStar:
		return a.star
	}
	return 0
}

// Best returns the acceptable coding (weight above 0) with the highest
// weight among those available reports true for (nil: all), ties broken
// by Preference; None when there is none.
func (a Accept) Best(available func(Encoding) bool) Encoding {
	best, bestQ := None, 0
	for _, e := range Preference {
		if q := a.Weight(e); q > bestQ && (available == nil || available(e)) {
			best, bestQ = e, q
		}
	}
	return best
}

// weight returns the q parameter of an Accept-Encoding element in
// thousandths: 1000 when it has none, and 0 when it is not a qvalue
// (RFC 9110 §12.4.2: "0" [ "." 0*3DIGIT ] or "1" [ "." 0*3"0" ]).
func weight(params string) int {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.Trim(k, " \t"), "q") {
			continue
		}
		q, ok := qvalue(strings.Trim(v, " \t"))
		if !ok {
			return 0
		}
		return q
	}
	return 1000
}

// qvalue parses an RFC 9110 qvalue into thousandths.
func qvalue(v string) (int, bool) {
	if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
		return 0, false
	}
	q := int(v[0]-'0') * 1000
	if len(v) == 1 {
		return q, true
	}
	if v[1] != '.' {
		return 0, false
	}
	scale := 100
	for i := 2; i < len(v); i++ {
		d := v[i]
		if d < '0' || d > '9' || (q == 1000 && d != '0') {
			return 0, false
		}
		q += int(d-'0') * scale
		scale /= 10
	}
	return q, true
}
