// Package wheel writes Python binary wheels (PEP 427 / the binary
// distribution format) that carry gowsgi's static binary, the way ruff and
// uv ship theirs: the binary goes in NAME-VERSION.data/scripts/, which pip
// installs as the environment's bin/NAME itself (no Python wrapper in front
// of it), next to a small pure-Python package.
//
// Only what pip needs is written: the files, dist-info/METADATA, WHEEL and
// RECORD (sha256 of every file). The archive is reproducible: entries in a
// fixed order with a fixed timestamp.
package wheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// File is one file in the wheel.
type File struct {
	Path string // inside the wheel, slash-separated: "gowsgi/__init__.py"
	Data []byte
	Exec bool // installed executable (mode 0755)
}

// Wheel describes one wheel: a distribution, its version, where it installs
// and what it holds.
type Wheel struct {
	Name      string   // distribution name, normalized: "gowsgi"
	Version   string   // PEP 440: "0.1.0", "1.2.0rc1"
	Platforms []string // platform tags it installs on: "manylinux_2_17_x86_64", ...
	Metadata  []Field  // METADATA header fields after Metadata-Version, Name, Version
	Summary   string   // one line, Summary:
	Readme    string   // METADATA body (markdown)
	Files     []File   // package files, and Data("scripts", ...) entries
}

// Field is one METADATA header field; a key may repeat (Classifier).
type Field struct{ Key, Value string }

// pep440 is the public version form of PEP 440 (no local "+..." part, which
// indexes refuse).
var pep440 = regexp.MustCompile(`^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?$`)

// nameRE is a normalized distribution name as it appears in file names.
var nameRE = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)

// Check reports what makes w unfit to write.
func (w *Wheel) Check() error {
	if !nameRE.MatchString(w.Name) {
		return fmt.Errorf("wheel: name %q is not a normalized distribution name (lower case, digits, _)", w.Name)
	}
	if !pep440.MatchString(w.Version) {
		return fmt.Errorf("wheel: version %q is not a PEP 440 public version (like 1.2.3, 1.2.3rc1, 1.2.3.dev4)", w.Version)
	}
	if len(w.Platforms) == 0 {
		return fmt.Errorf("wheel: no platform tags")
	}
	seen := map[string]bool{}
	for _, f := range w.Files {
		if f.Path == "" || strings.HasPrefix(f.Path, "/") || strings.Contains(f.Path, "\\") || strings.Contains("/"+f.Path+"/", "/../") {
			return fmt.Errorf("wheel: bad file path %q", f.Path)
		}
		if strings.HasPrefix(f.Path, w.distInfo()+"/") {
			return fmt.Errorf("wheel: %s is written by the wheel package itself", f.Path)
		}
		if seen[f.Path] {
			return fmt.Errorf("wheel: %s twice", f.Path)
		}
		seen[f.Path] = true
	}
	return nil
}

// Data is the path of name in the wheel's .data/<scheme>/ directory:
// scheme "scripts" installs into the environment's bin/.
func (w *Wheel) Data(scheme, name string) string {
	return fmt.Sprintf("%s-%s.data/%s/%s", w.Name, w.Version, scheme, name)
}

func (w *Wheel) distInfo() string { return fmt.Sprintf("%s-%s.dist-info", w.Name, w.Version) }

// Tags are the wheel's tags: py3-none-PLATFORM for each platform (the
// package is pure Python 3; the binary does not link Python).
func (w *Wheel) Tags() []string {
	var tags []string
	for _, p := range w.Platforms {
		tags = append(tags, "py3-none-"+p)
	}
	return tags
}

// Filename is NAME-VERSION-py3-none-PLAT1.PLAT2.whl (a compressed tag set).
func (w *Wheel) Filename() string {
	return fmt.Sprintf("%s-%s-py3-none-%s.whl", w.Name, w.Version, strings.Join(w.Platforms, "."))
}

// epoch is every entry's timestamp (zip cannot say earlier than 1980), so
// one input gives byte-identical wheels.
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Write writes the wheel archive to out.
func (w *Wheel) Write(out io.Writer) error {
	if err := w.Check(); err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	var record bytes.Buffer
	rec := csv.NewWriter(&record)
	add := func(f File) error {
		h := &zip.FileHeader{Name: f.Path, Method: zip.Deflate, Modified: epoch}
		mode := uint32(0o100644)
		if f.Exec {
			mode = 0o100755
		}
		h.ExternalAttrs = mode << 16 // unix mode in the high half, as Info-ZIP
		h.CreatorVersion = 3<<8 | 20 // "made by" Unix, so readers honour the mode
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.Data); err != nil {
			return err
		}
		sum := sha256.Sum256(f.Data)
		return rec.Write([]string{f.Path, "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]), strconv.Itoa(len(f.Data))})
	}
	files := append([]File(nil), w.Files...)
	files = append(files,
		File{Path: w.distInfo() + "/METADATA", Data: w.metadata()},
		File{Path: w.distInfo() + "/WHEEL", Data: w.wheelFile()},
	)
	for _, f := range files {
		if err := add(f); err != nil {
			return err
		}
	}
	// RECORD lists itself without a hash, and goes last.
	rec.Write([]string{w.distInfo() + "/RECORD", "", ""})
	rec.Flush()
	if err := rec.Error(); err != nil {
		return err
	}
	h := &zip.FileHeader{Name: w.distInfo() + "/RECORD", Method: zip.Deflate, Modified: epoch, ExternalAttrs: 0o100644 << 16, CreatorVersion: 3<<8 | 20}
	fw, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := fw.Write(record.Bytes()); err != nil {
		return err
	}
	return zw.Close()
}

// metadata is dist-info/METADATA (core metadata 2.1: email-header form,
// the readme as the body).
func (w *Wheel) metadata() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", w.Name, w.Version)
	if w.Summary != "" {
		fmt.Fprintf(&b, "Summary: %s\n", oneLine(w.Summary))
	}
	for _, f := range w.Metadata {
		fmt.Fprintf(&b, "%s: %s\n", f.Key, oneLine(f.Value))
	}
	if w.Readme != "" {
		b.WriteString("Description-Content-Type: text/markdown\n\n")
		b.WriteString(w.Readme)
		if !strings.HasSuffix(w.Readme, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// wheelFile is dist-info/WHEEL. Root-Is-Purelib is false: the wheel is
// platform-specific, so pip installs it into platlib.
func (w *Wheel) wheelFile() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Wheel-Version: 1.0\nGenerator: gowsgi-mkwheel %s\nRoot-Is-Purelib: false\n", w.Version)
	for _, t := range w.Tags() {
		fmt.Fprintf(&b, "Tag: %s\n", t)
	}
	return b.Bytes()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
