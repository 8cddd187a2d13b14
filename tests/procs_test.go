package tests

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// The front gives itself the CPUs its workers leave (at least half, at
// least one) unless GOMAXPROCS says otherwise; the listening line says what
// it took.
func TestFrontProcs(t *testing.T) {
	t.Parallel()
	cpus := runtime.NumCPU()
	if os.Getenv("GOMAXPROCS") == "" {
		cpus = runtime.GOMAXPROCS(0) // a container's CPU limit too, as the server sees it
	}
	for _, c := range []struct {
		env     string
		workers int
		want    int
	}{
		{"GOMAXPROCS=", 1, min(cpus, max(cpus-1, cpus/2, 1))},
		{"GOMAXPROCS=", 2, min(cpus, max(cpus-2, cpus/2, 1))},
		{"GOMAXPROCS=3", 1, 3},
	} {
		s := StartServerEnv(t, []string{c.env}, probe, "-w", fmt.Sprint(c.workers))
		line := ""
		for _, l := range strings.Split(s.Stderr.String(), "\n") {
			if strings.Contains(l, "listening") {
				line = l
			}
		}
		if want := fmt.Sprintf("front_procs=%d", c.want); !strings.Contains(line, want) {
			t.Errorf("%s -w %d on %d CPUs: want %s in %q", c.env, c.workers, cpus, want, line)
		}
		s.Stop()
	}
}
