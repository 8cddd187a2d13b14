package compress

import "testing"

// The weights an Accept-Encoding gives: by name, through "*", a malformed
// qvalue as 0, several field values read together.
func TestParseAccept(t *testing.T) {
	for _, c := range []struct {
		in               []string
		gzip, zstd, br   int
		best             Encoding
		bestWithoutZstd  Encoding
		bestOnlyGzipOrBr Encoding
	}{
		{nil, 0, 0, 0, None, None, None},
		{[]string{""}, 0, 0, 0, None, None, None},
		{[]string{"identity, deflate"}, 0, 0, 0, None, None, None},
		{[]string{"gzip, deflate, br, zstd"}, 1000, 1000, 1000, Zstd, Brotli, Brotli},
		{[]string{"gzip", "br"}, 1000, 0, 1000, Brotli, Brotli, Brotli},
		{[]string{"x-gzip"}, 1000, 0, 0, Gzip, Gzip, Gzip},
		{[]string{"GZIP ; Q=0.5"}, 500, 0, 0, Gzip, Gzip, Gzip},
		{[]string{"gzip;q=1, br;q=0.5"}, 1000, 0, 500, Gzip, Gzip, Gzip},
		{[]string{"*"}, 1000, 1000, 1000, Zstd, Brotli, Brotli},
		{[]string{"*;q=0"}, 0, 0, 0, None, None, None},
		{[]string{"*;q=0.2, zstd;q=0"}, 200, 0, 200, Brotli, Brotli, Brotli},
		{[]string{"*;q=0, zstd"}, 0, 1000, 0, Zstd, None, None},
		{[]string{"br;level=5;q=0.5, gzip;q=0.4"}, 400, 0, 500, Brotli, Brotli, Brotli},
		{[]string{"gzip;q=0.3, gzip;q=0.6"}, 600, 0, 0, Gzip, Gzip, Gzip}, // the last one counts
		{[]string{" , ,gzip"}, 1000, 0, 0, Gzip, Gzip, Gzip},
		// Weights that are not qvalues count as 0: named, and refused even
		// where "*" would accept.
		{[]string{"*, br;q=2"}, 1000, 1000, 0, Zstd, Gzip, Gzip},
		{[]string{"br;q=1.001, gzip;q=0.1234, zstd;q=abc"}, 0, 0, 0, None, None, None},
		{[]string{"br;q=, gzip;q=.5, zstd;q=-0"}, 0, 0, 0, None, None, None},
		{[]string{"br;q=1e0, gzip;q=0x1p0, zstd;q=+1"}, 0, 0, 0, None, None, None},
		{[]string{"br;q=1., gzip;q=0.05, zstd;q=1.000"}, 50, 1000, 1000, Zstd, Brotli, Brotli},
	} {
		a := ParseAccept(c.in...)
		if g, z, b := a.Weight(Gzip), a.Weight(Zstd), a.Weight(Brotli); g != c.gzip || z != c.zstd || b != c.br {
			t.Errorf("%q: weights gzip %d zstd %d br %d, want %d %d %d", c.in, g, z, b, c.gzip, c.zstd, c.br)
		}
		if a.Weight(None) != 0 {
			t.Errorf("%q: identity weighed %d", c.in, a.Weight(None))
		}
		if got := a.Best(nil); got != c.best {
			t.Errorf("%q: Best = %v, want %v", c.in, got, c.best)
		}
		if got := a.Best(func(e Encoding) bool { return e != Zstd }); got != c.bestWithoutZstd {
			t.Errorf("%q: Best without zstd = %v, want %v", c.in, got, c.bestWithoutZstd)
		}
		if got := a.Best(func(e Encoding) bool { return e == Gzip || e == Brotli }); got != c.bestOnlyGzipOrBr {
			t.Errorf("%q: Best of gzip and br = %v, want %v", c.in, got, c.bestOnlyGzipOrBr)
		}
	}
}

func TestQvalue(t *testing.T) {
	for v, want := range map[string]int{
		"0": 0, "0.": 0, "0.5": 500, "0.05": 50, "0.005": 5, "0.999": 999,
		"1": 1000, "1.": 1000, "1.0": 1000, "1.000": 1000,
	} {
		if q, ok := qvalue(v); !ok || q != want {
			t.Errorf("qvalue(%q) = %d, %v; want %d", v, q, ok, want)
		}
	}
	for _, v := range []string{"", "2", "1.001", "1.5", "0.1234", ".5", "00.5", "0,5", "1e0", "0x1p0", "+1", "-0", "0.5 ", "01"} {
		if q, ok := qvalue(v); ok {
			t.Errorf("qvalue(%q) = %d, accepted; it is not an RFC 9110 qvalue", v, q)
		}
	}
}
