// Command mkdeb builds gowsgi's Debian package with nfpm
// (github.com/goreleaser/nfpm): the binary as /usr/bin/gowsgi and the
// systemd units of deploy/systemd in /usr/lib/systemd/system, their
// ExecStart pointed at /usr/bin/gowsgi.
//
//	mkdeb -version 0.1.0 -goarch amd64 -binary build/gowsgi -units deploy/systemd -out dist
//
// It prints the package's path. The units are a starting point, not
// enabled: `systemctl edit gowsgi.service` sets the app, user and directory.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

func main() {
	version := flag.String("version", "", "the release version (PEP 440, as the wheels')")
	goarch := flag.String("goarch", "", "the binary's GOARCH (linux)")
	binary := flag.String("binary", "", "the gowsgi binary built for linux/goarch")
	units := flag.String("units", "deploy/systemd", "directory holding gowsgi.service and gowsgi.socket")
	out := flag.String("out", "dist", "directory the package is written to")
	flag.Parse()
	path, err := build(*version, *goarch, *binary, *units, *out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkdeb: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// debArch is Debian's name for each GOARCH the wheels are built for.
var debArch = map[string]string{
	"amd64": "amd64", "arm64": "arm64", "386": "i386", "arm": "armhf", "ppc64le": "ppc64el", "s390x": "s390x",
}

// preRelease splits a PEP 440 pre-release (1.2.0rc1) so it becomes
// Debian's 1.2.0~rc1, which sorts before 1.2.0.
var preRelease = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)*)((?:a|b|rc)[0-9]+)$`)

const (
	installedBinary = "/usr/bin/gowsgi"
	sourceBinary    = "/usr/local/bin/gowsgi" // where deploy/systemd's units expect a hand-installed binary
	unitDir         = "/usr/lib/systemd/system"
)

// postinst and postrm make systemd see the units (or forget them) at once.
const reload = "#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then\n\tsystemctl daemon-reload >/dev/null 2>&1 || true\nfi\n"

func build(version, goarch, binary, units, out string) (string, error) {
	arch, ok := debArch[goarch]
	if !ok || version == "" || binary == "" {
		return "", fmt.Errorf("need -version, -binary and a -goarch of %v", keys(debArch))
	}
	tmp, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	contents := files.Contents{{Source: binary, Destination: installedBinary, FileInfo: &files.ContentFileInfo{Mode: 0o755}}}
	for _, name := range []string{"gowsgi.service", "gowsgi.socket"} {
		b, err := os.ReadFile(filepath.Join(units, name))
		if err != nil {
			return "", err
		}
		text := string(b)
		if name == "gowsgi.service" {
			if !strings.Contains(text, "ExecStart="+sourceBinary+" ") {
				return "", fmt.Errorf("%s: ExecStart does not run %s; update mkdeb with the unit", name, sourceBinary)
			}
			text = strings.ReplaceAll(text, sourceBinary, installedBinary)
		}
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return "", err
		}
		contents = append(contents, &files.Content{Source: p, Destination: unitDir + "/" + name, FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	script := filepath.Join(tmp, "reload.sh")
	if err := os.WriteFile(script, []byte(reload), 0o755); err != nil {
		return "", err
	}

	info := &nfpm.Info{
		Name:          "gowsgi",
		Arch:          arch,
		Platform:      "linux",
		Version:       version,
		VersionSchema: "none", // PEP 440 in, Debian out (below), not semver
		Section:       "httpd",
		Priority:      "optional",
		Maintainer:    "gowsgi maintainers <gowsgi@localhost>",
		Description: "production WSGI server: a static Go binary in front, Python workers behind\n" +
			"gowsgi serves Python WSGI applications with supervised Python worker\n" +
			"processes behind a Go front end (HTTP/1.1, TLS, HTTP/2, static files,\n" +
			"metrics). It runs the python3 it is given (--python, a virtualenv, or\n" +
			"python3 on PATH). The systemd units are installed but not enabled.",
		Overridables: nfpm.Overridables{
			Recommends: []string{"python3"},
			Contents:   contents,
			Scripts:    nfpm.Scripts{PostInstall: script, PostRemove: script},
		},
	}
	if m := preRelease.FindStringSubmatch(version); m != nil {
		info.Version, info.Prerelease = m[1], m[2]
	}
	info = nfpm.WithDefaults(info)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	stale, _ := filepath.Glob(filepath.Join(out, "gowsgi_*_"+arch+".deb"))
	for _, p := range stale {
		os.Remove(p)
	}
	path := filepath.Join(out, deb.Default.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	return path, f.Close()
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
