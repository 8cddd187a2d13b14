package server

import (
	"os"
	"runtime"
)

// frontProcs is how many threads may run the Go front at once (GOMAXPROCS),
// given the CPUs this process may use and the number of worker processes.
//
// Each worker runs Python on about one CPU (the GIL). A front allowed every
// CPU competes with its own workers for them, and on few cores its extra
// threads mostly sleep and wake around each request: on 2 cores with one
// worker, one front thread served more requests, with less CPU each, than
// two (bench/RESULTS.md, "GOMAXPROCS"). So the front gets the CPUs the
// workers leave, but never fewer than half of them, nor fewer than one.
func frontProcs(cpus, workers int) int {
	return min(cpus, max(cpus-workers, cpus/2, 1))
}

// setFrontProcs applies frontProcs unless GOMAXPROCS is set in the
// environment, and returns the value in force. runtime.GOMAXPROCS(0) is
// where the CPUs come from: it honours the CPU affinity mask and a
// container's CPU limit.
func setFrontProcs(workers int) int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := frontProcs(runtime.GOMAXPROCS(0), workers)
	runtime.GOMAXPROCS(n)
	return n
}
