package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// suite is one TLS 1.0–1.2 cipher suite Go implements, with its OpenSSL
// name and the OpenSSL keywords ("aliases") that select it.
type suite struct {
	id      uint16
	openssl string
	tags    []string
}

// suites are Go's TLS 1.2 (and earlier) cipher suites, strongest first.
// TLS 1.3 suites are not configurable in Go (they are always AES-GCM and
// ChaCha20-Poly1305), as OpenSSL configures them apart from the cipher list.
var suites = []suite{
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", []string{"kECDHE", "ECDHE", "EECDH", "aECDSA", "ECDSA", "AES256", "AES", "AESGCM", "SHA384", "HIGH", "TLSv1.2"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", []string{"kECDHE", "ECDHE", "EECDH", "aRSA", "AES256", "AES", "AESGCM", "SHA384", "HIGH", "TLSv1.2"}},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", []string{"kECDHE", "ECDHE", "EECDH", "aECDSA", "ECDSA", "CHACHA20", "HIGH", "TLSv1.2"}},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", []string{"kECDHE", "ECDHE", "EECDH", "aRSA", "CHACHA20", "HIGH", "TLSv1.2"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", []string{"kECDHE", "ECDHE", "EECDH", "aECDSA", "ECDSA", "AES128", "AES", "AESGCM", "SHA256", "HIGH", "TLSv1.2"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", []string{"kECDHE", "ECDHE", "EECDH", "aRSA", "AES128", "AES", "AESGCM", "SHA256", "HIGH", "TLSv1.2"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256", []string{"kECDHE", "ECDHE", "EECDH", "aECDSA", "ECDSA", "AES128", "AES", "SHA256", "HIGH", "TLSv1.2"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256", []string{"kECDHE", "ECDHE", "EECDH", "aRSA", "AES128", "AES", "SHA256", "HIGH", "TLSv1.2"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", []string{"kECDHE", "ECDHE", "EECDH", "aECDSA", "ECDSA", "AES256", "AES", "SHA1", "SHA", "HIGH", "SSLv3", "TLSv1"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", []string{"kECDHE", "ECDHE", "EECDH", "aRSA", "AES256", "AES", "SHA1", "SHA", "HIGH", "SSLv3", "TLSv1"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", []string{"kECDHE", "ECDHE", "EECDH", "aECDSA", "ECDSA", "AES128", "AES", "SHA1", "SHA", "HIGH", "SSLv3", "TLSv1"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", []string{"kECDHE", "ECDHE", "EECDH", "aRSA", "AES128", "AES", "SHA1", "SHA", "HIGH", "SSLv3", "TLSv1"}},
	{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", []string{"kRSA", "RSA", "aRSA", "AES256", "AES", "AESGCM", "SHA384", "HIGH", "TLSv1.2"}},
	{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", []string{"kRSA", "RSA", "aRSA", "AES128", "AES", "AESGCM", "SHA256", "HIGH", "TLSv1.2"}},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256", []string{"kRSA", "RSA", "aRSA", "AES128", "AES", "SHA256", "HIGH", "TLSv1.2"}},
	{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA", []string{"kRSA", "RSA", "aRSA", "AES256", "AES", "SHA1", "SHA", "HIGH", "SSLv3", "TLSv1"}},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA", []string{"kRSA", "RSA", "aRSA", "AES128", "AES", "SHA1", "SHA", "HIGH", "SSLv3", "TLSv1"}},
	{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE-RSA-DES-CBC3-SHA", []string{"kECDHE", "ECDHE", "EECDH", "aRSA", "3DES", "SHA1", "SHA", "MEDIUM", "SSLv3", "TLSv1"}},
	{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "DES-CBC3-SHA", []string{"kRSA", "RSA", "aRSA", "3DES", "SHA1", "SHA", "MEDIUM", "SSLv3", "TLSv1"}},
	{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "ECDHE-ECDSA-RC4-SHA", []string{"kECDHE", "ECDHE", "EECDH", "aECDSA", "ECDSA", "RC4", "SHA1", "SHA", "LOW", "SSLv3", "TLSv1"}},
	{tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "ECDHE-RSA-RC4-SHA", []string{"kECDHE", "ECDHE", "EECDH", "aRSA", "RC4", "SHA1", "SHA", "LOW", "SSLv3", "TLSv1"}},
	{tls.TLS_RSA_WITH_RC4_128_SHA, "RC4-SHA", []string{"kRSA", "RSA", "aRSA", "RC4", "SHA1", "SHA", "LOW", "SSLv3", "TLSv1"}},
}

// knownEmpty are OpenSSL keywords that select only suites Go does not
// implement (or never offers): they are accepted and select nothing, so
// common strings such as "HIGH:!aNULL:!MD5" work as written.
var knownEmpty = map[string]bool{
	"aNULL": true, "eNULL": true, "NULL": true, "COMPLEMENTOFDEFAULT": true, "COMPLEMENTOFALL": true,
	"EXPORT": true, "EXP": true, "EXPORT40": true, "EXPORT56": true, "MD5": true,
	"DES": true, "IDEA": true, "SEED": true, "CAMELLIA": true, "CAMELLIA128": true, "CAMELLIA256": true,
	"ARIA": true, "ARIA128": true, "ARIA256": true, "PSK": true, "aPSK": true, "kPSK": true, "kECDHEPSK": true, "kDHEPSK": true, "kRSAPSK": true,
	"SRP": true, "kSRP": true, "aSRP": true, "DSS": true, "aDSS": true, "DH": true, "DHE": true, "EDH": true, "kDHE": true, "kEDH": true,
	"ADH": true, "AECDH": true, "kDHr": true, "kDHd": true, "kDH": true, "kECDHr": true, "kECDHe": true, "kECDH": true, "aDH": true, "aECDH": true,
	"AESCCM": true, "AESCCM8": true, "AES128CCM": true, "AES256CCM": true, "GOST": true, "aGOST": true, "kGOST": true,
	"GOST94": true, "GOST89MAC": true, "SUITEB128": true, "SUITEB128ONLY": true, "SUITEB192": true, "RC2": true, "SSLv2": true,
	"kRSA_PSK": true, "DSA": true,
}

// ParseCiphers maps an OpenSSL cipher list ("ECDHE+AESGCM:!aNULL",
// "HIGH:!MEDIUM:@STRENGTH", OWASP's strings) to Go cipher suite IDs,
// best effort: names, keywords, A+B intersections, and the !, - and +
// prefixes are read as OpenSSL reads them; keywords for ciphers Go lacks
// select nothing. A word OpenSSL does not know is an error, and so is a
// list that selects no suite Go has. TLS 1.3 suites are unaffected (Go
// always offers its three).
func ParseCiphers(list string) ([]uint16, error) {
	var order []int          // indexes into suites, in preference order
	banned := map[int]bool{} // removed with '!': never added back
	in := func(i int) int {
		for k, j := range order {
			if j == i {
				return k
			}
		}
		return -1
	}
	words := strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == ';' })
	for _, w := range words {
		op := byte(0)
		if w[0] == '!' || w[0] == '-' || w[0] == '+' {
			op, w = w[0], w[1:]
		}
		if strings.HasPrefix(w, "@") {
			continue // @STRENGTH, @SECLEVEL=n: orderings and levels, not selections
		}
		sel, err := selectSuites(w)
		if err != nil {
			return nil, err
		}
		for _, i := range sel {
			switch op {
			case '!':
				banned[i] = true
				if k := in(i); k >= 0 {
					order = append(order[:k], order[k+1:]...)
				}
			case '-':
				if k := in(i); k >= 0 {
					order = append(order[:k], order[k+1:]...)
				}
			case '+':
				if k := in(i); k >= 0 {
					order = append(append(order[:k], order[k+1:]...), i)
				}
			default:
				if !banned[i] && in(i) < 0 {
					order = append(order, i)
				}
			}
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%q selects no cipher suite that Go implements (for example: ECDHE+AESGCM:ECDHE+CHACHA20)", list)
	}
	ids := make([]uint16, len(order))
	for k, i := range order {
		ids[k] = suites[i].id
	}
	return ids, nil
}

// selectSuites returns the suites a word (a name, a keyword, or keywords
// joined with '+') selects.
func selectSuites(w string) ([]int, error) {
	switch w {
	case "ALL", "DEFAULT":
		return matching(func(s *suite) bool { return !has(s, "RC4") && !has(s, "3DES") }), nil
	}
	for i := range suites {
		if suites[i].openssl == w {
			return []int{i}, nil
		}
	}
	parts := strings.Split(w, "+")
	for _, p := range parts {
		if !knownTag(p) {
			return nil, fmt.Errorf("unknown cipher or keyword %q in the cipher list (OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256, or keywords such as HIGH, ECDHE, AESGCM, CHACHA20, !aNULL)", p)
		}
	}
	return matching(func(s *suite) bool {
		for _, p := range parts {
			if !has(s, p) {
				return false
			}
		}
		return true
	}), nil
}

func matching(keep func(*suite) bool) []int {
	var out []int
	for i := range suites {
		if keep(&suites[i]) {
			out = append(out, i)
		}
	}
	return out
}

func has(s *suite, tag string) bool {
	for _, t := range s.tags {
		if t == tag {
			return true
		}
	}
	return false
}

func knownTag(t string) bool {
	if _, ok := knownEmpty[t]; ok {
		return true
	}
	for i := range suites {
		if has(&suites[i], t) || suites[i].openssl == t {
			return true
		}
	}
	return false
}

// CipherName is a cipher suite as mod_ssl's SSL_CIPHER spells it: the
// OpenSSL name, or for TLS 1.3 the IANA name OpenSSL uses too.
func CipherName(id uint16) string {
	for i := range suites {
		if suites[i].id == id {
			return suites[i].openssl
		}
	}
	return tls.CipherSuiteName(id)
}
