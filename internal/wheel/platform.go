package wheel

import (
	"fmt"
	"sort"
)

// linuxArch is the machine name in Linux platform tags, per GOARCH.
var linuxArch = map[string]string{
	"amd64":   "x86_64",
	"arm64":   "aarch64",
	"386":     "i686",
	"arm":     "armv7l", // built with GOARM=7
	"ppc64le": "ppc64le",
	"s390x":   "s390x",
}

// macArch is the machine name in macOS platform tags, per GOARCH.
var macArch = map[string]string{"amd64": "x86_64", "arm64": "arm64"}

// macMinimum is the oldest macOS the binary runs on: Go 1.25 and later
// need macOS 12 Monterey.
const macMinimum = "12_0"

// PlatformTags returns the platform tags of a wheel holding a static
// (CGO_ENABLED=0) binary for goos/goarch. A static Linux binary needs no
// libc at all, so one wheel serves glibc systems (manylinux_2_17, which
// also reads manylinux2014 for pip before 20.3) and musl ones (musllinux,
// Alpine).
func PlatformTags(goos, goarch string) ([]string, error) {
	switch goos {
	case "linux":
		if m, ok := linuxArch[goarch]; ok {
			return []string{"manylinux_2_17_" + m, "manylinux2014_" + m, "musllinux_1_1_" + m}, nil
		}
	case "darwin":
		if m, ok := macArch[goarch]; ok {
			return []string{"macosx_" + macMinimum + "_" + m}, nil
		}
	}
	return nil, fmt.Errorf("wheel: no platform tag for %s/%s; known: %v", goos, goarch, Known())
}

// Known lists the GOOS/GOARCH pairs PlatformTags knows.
func Known() []string {
	var out []string
	for a := range linuxArch {
		out = append(out, "linux/"+a)
	}
	for a := range macArch {
		out = append(out, "darwin/"+a)
	}
	sort.Strings(out)
	return out
}
