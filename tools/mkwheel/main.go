// Command mkwheel packs a gowsgi binary built for one platform, and the
// gowsgi Python package, into a platform wheel (see internal/wheel):
//
//	mkwheel -version 0.1.0 -goos linux -goarch amd64 -binary build/gowsgi -out dist
//
// It prints the wheel's path. scripts/build-wheels.sh runs it once per
// platform.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gowsgi/gowsgi/internal/wheel"
)

func main() {
	version := flag.String("version", "", "the release version (PEP 440)")
	goos := flag.String("goos", "", "the binary's GOOS")
	goarch := flag.String("goarch", "", "the binary's GOARCH")
	binary := flag.String("binary", "", "the gowsgi binary built for goos/goarch")
	pkg := flag.String("package", "python/gowsgi", "the gowsgi Python package's directory")
	readme := flag.String("readme", "python/README.md", "the project description (markdown) for METADATA")
	out := flag.String("out", "dist", "directory the wheel is written to")
	flag.Parse()
	path, err := build(*version, *goos, *goarch, *binary, *pkg, *readme, *out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkwheel: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

func build(version, goos, goarch, binary, pkg, readme, out string) (string, error) {
	if version == "" || binary == "" {
		return "", fmt.Errorf("-version and -binary are required")
	}
	plats, err := wheel.PlatformTags(goos, goarch)
	if err != nil {
		return "", err
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return "", err
	}
	desc, err := os.ReadFile(readme)
	if err != nil {
		return "", err
	}
	w := &wheel.Wheel{
		Name:      "gowsgi",
		Version:   version,
		Platforms: plats,
		Summary:   "A production WSGI server: one static Go binary in front, supervised Python workers behind it",
		Readme:    string(desc),
		Metadata: []wheel.Field{
			{Key: "Requires-Python", Value: ">=3.8"},
			{Key: "Keywords", Value: "wsgi,server,http,gunicorn,waitress"},
			{Key: "Classifier", Value: "Development Status :: 4 - Beta"},
			{Key: "Classifier", Value: "Environment :: Web Environment"},
			{Key: "Classifier", Value: "Intended Audience :: Developers"},
			{Key: "Classifier", Value: "Operating System :: POSIX :: Linux"},
			{Key: "Classifier", Value: "Operating System :: MacOS"},
			{Key: "Classifier", Value: "Programming Language :: Go"},
			{Key: "Classifier", Value: "Programming Language :: Python :: 3"},
			{Key: "Classifier", Value: "Topic :: Internet :: WWW/HTTP :: WSGI :: Server"},
		},
	}
	files, err := packageFiles(pkg)
	if err != nil {
		return "", err
	}
	files = append(files,
		wheel.File{Path: "gowsgi/_version.py", Data: []byte(fmt.Sprintf("# Written by tools/mkwheel.\n__version__ = %q\n", version))},
		// The binary itself is the environment's bin/gowsgi.
		wheel.File{Path: w.Data("scripts", "gowsgi"), Data: bin, Exec: true},
	)
	w.Files = files
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	// A wheel of another version for the same platforms would make
	// `pip install dist/gowsgi-*-manylinux*x86_64.whl` ambiguous.
	stale, _ := filepath.Glob(filepath.Join(out, "gowsgi-*-py3-none-"+strings.Join(plats, ".")+".whl"))
	for _, p := range stale {
		os.Remove(p)
	}
	path := filepath.Join(out, w.Filename())
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	if err := w.Write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// packageFiles reads the Python package's .py files (not _version.py,
// which mkwheel writes, nor caches) as gowsgi/... wheel files.
func packageFiles(dir string) ([]wheel.File, error) {
	var files []wheel.File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".py") || d.Name() == "_version.py" {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, wheel.File{Path: "gowsgi/" + filepath.ToSlash(rel), Data: b})
		return nil
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no .py files in %s", dir)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, err
}
