package server

import "testing"

func TestFrontProcs(t *testing.T) {
	for _, c := range []struct{ cpus, workers, want int }{
		{1, 1, 1}, {1, 4, 1},
		{2, 1, 1}, {2, 2, 1}, {2, 8, 1},
		{4, 1, 3}, {4, 2, 2}, {4, 4, 2},
		{16, 1, 15}, {16, 4, 12}, {16, 16, 8}, {16, 64, 8},
	} {
		if got := frontProcs(c.cpus, c.workers); got != c.want {
			t.Errorf("frontProcs(%d CPUs, %d workers) = %d, want %d", c.cpus, c.workers, got, c.want)
		}
	}
}
