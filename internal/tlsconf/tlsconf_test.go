package tlsconf

import (
	"crypto/tls"
	"reflect"
	"strings"
	"testing"
)

func TestParseCiphers(t *testing.T) {
	for list, want := range map[string][]uint16{
		"ECDHE-RSA-AES128-GCM-SHA256": {tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		"ECDHE+AESGCM:!aNULL:!MD5": {tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		"ECDHE+CHACHA20:ECDHE+AES128+AESGCM": {tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		// '!' removes for good, '-' only until added again, '+' moves to the end.
		"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:-ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256": {
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		"!ECDHE-RSA-AES128-GCM-SHA256:ECDHE+aRSA+AESGCM": {tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
		"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:+ECDHE-RSA-AES128-GCM-SHA256:@STRENGTH": {
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	} {
		got, err := ParseCiphers(list)
		if err != nil {
			t.Errorf("%q: %v", list, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", list, names(got), names(want))
		}
	}
	// HIGH takes no RC4 or 3DES; DEFAULT neither.
	for _, l := range []string{"HIGH", "DEFAULT", "HIGH:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!SRP:!CAMELLIA"} {
		got, _ := ParseCiphers(l)
		for _, n := range names(got) {
			if strings.Contains(n, "RC4") || strings.Contains(n, "3DES") {
				t.Errorf("%q selects %s", l, n)
			}
		}
		if len(got) < 10 {
			t.Errorf("%q selects only %v", l, names(got))
		}
	}
	for list, msg := range map[string]string{
		"ECDHE+NOPE":    `unknown cipher or keyword "NOPE"`,
		"aNULL:eNULL":   "selects no cipher suite",
		"CAMELLIA256":   "selects no cipher suite",
		"TOTALLY:WRONG": `unknown cipher or keyword "TOTALLY"`,
	} {
		if _, err := ParseCiphers(list); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", list, err, msg)
		}
	}
}

func names(ids []uint16) []string {
	var out []string
	for _, id := range ids {
		out = append(out, tls.CipherSuiteName(id))
	}
	return out
}

func TestParseCertReqsAndSSLVersion(t *testing.T) {
	for v, want := range map[string]int{"0": 0, "1": 1, "2": 2, "none": 0, "CERT_OPTIONAL": 1, "required": 2} {
		if got, err := ParseCertReqs(v); err != nil || got != want {
			t.Errorf("cert_reqs %q: %d %v", v, got, err)
		}
	}
	if _, err := ParseCertReqs("3"); err == nil {
		t.Error("cert_reqs 3 accepted")
	}
	for v, want := range map[string]uint16{"TLS": tls.VersionTLS12, "2": tls.VersionTLS12, "TLS_SERVER": tls.VersionTLS12,
		"TLSv1": tls.VersionTLS10, "TLSv1_1": tls.VersionTLS11, "5": tls.VersionTLS12, "TLSv1_3": tls.VersionTLS13, "PROTOCOL_TLSv1_2": tls.VersionTLS12} {
		if got, err := ParseSSLVersion(v); err != nil || got != want {
			t.Errorf("ssl_version %q: %x %v", v, got, err)
		}
	}
	for _, v := range []string{"SSLv3", "TLS_CLIENT", "bogus"} {
		if _, err := ParseSSLVersion(v); err == nil {
			t.Errorf("ssl_version %q accepted", v)
		}
	}
}
