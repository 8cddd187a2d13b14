package config

import (
	"os"
	"strings"
	"testing"
)

// TestPeerTablesInREADME checks the README's uvicorn, granian and
// hypercorn tables are PeerTable's output, and its hypercorn keys table
// HypercornKeysTable's (GOWSGI_UPDATE_README=1 rewrites them).
func TestPeerTablesInREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, peer := range []string{"uvicorn", "granian", "hypercorn", "hypercorn keys"} {
		var table, begin, end string
		if peer == "hypercorn keys" {
			table, begin, end = HypercornKeysTable(), hypercornKeysBegin, hypercornKeysEnd
		} else {
			table = PeerTable(peer)
			begin, end = peerMarkers(peer)
		}
		if strings.Contains(readme, table) {
			continue
		}
		start, stop := strings.Index(readme, begin), strings.Index(readme, end)
		if start < 0 || stop < start {
			t.Fatalf("README lacks the %s table markers", peer)
		}
		if os.Getenv("GOWSGI_UPDATE_README") == "" {
			t.Errorf("README.md's %s table is not PeerTable's; regenerate it: GOWSGI_UPDATE_README=1 go test ./internal/config -run TestPeerTablesInREADME", peer)
			continue
		}
		readme = readme[:start] + table + readme[stop+len(end):]
	}
	if os.Getenv("GOWSGI_UPDATE_README") != "" {
		if err := os.WriteFile("../../README.md", []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
