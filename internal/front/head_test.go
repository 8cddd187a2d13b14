package front

import (
	"strings"
	"testing"
)

// TestIsHopByHop: every name of hopByHop, in any case, and nothing else
// (the length switch in isHopByHop must follow the list).
func TestIsHopByHop(t *testing.T) {
	for _, h := range hopByHop {
		for _, name := range []string{h, strings.ToLower(h), strings.ToUpper(h)} {
			if !isHopByHop(name) {
				t.Errorf("isHopByHop(%q) = false", name)
			}
		}
	}
	for _, name := range []string{"", "T", "Content-Length", "Connections", "Upgrade-Insecure-Requests", "X-Trailer", "Set-Cookie"} {
		if isHopByHop(name) {
			t.Errorf("isHopByHop(%q) = true", name)
		}
	}
}
