package wheel

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"io"
	"strings"
	"testing"
)

func testWheel() *Wheel {
	w := &Wheel{Name: "gowsgi", Version: "1.2.0rc1", Platforms: []string{"manylinux_2_17_x86_64", "musllinux_1_1_x86_64"},
		Summary: "a\nserver", Readme: "# gowsgi\n"}
	w.Files = []File{
		{Path: "gowsgi/__init__.py", Data: []byte("x = 1\n")},
		{Path: w.Data("scripts", "gowsgi"), Data: []byte("\x7fELF..."), Exec: true},
	}
	return w
}

// TestWrite: the archive holds the files, METADATA, WHEEL and a RECORD whose
// hashes and sizes match, the binary executable, RECORD last.
func TestWrite(t *testing.T) {
	w := testWheel()
	if got, want := w.Filename(), "gowsgi-1.2.0rc1-py3-none-manylinux_2_17_x86_64.musllinux_1_1_x86_64.whl"; got != want {
		t.Errorf("Filename %q, want %q", got, want)
	}
	var buf bytes.Buffer
	if err := w.Write(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = b
		order = append(order, f.Name)
		exec := f.Mode()&0o111 != 0
		if exec != (f.Name == "gowsgi-1.2.0rc1.data/scripts/gowsgi") {
			t.Errorf("%s: mode %v", f.Name, f.Mode())
		}
	}
	if last := order[len(order)-1]; last != "gowsgi-1.2.0rc1.dist-info/RECORD" {
		t.Errorf("last entry %s, want RECORD", last)
	}
	rows, err := csv.NewReader(bytes.NewReader(files["gowsgi-1.2.0rc1.dist-info/RECORD"])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(order) {
		t.Errorf("RECORD has %d rows for %d files", len(rows), len(order))
	}
	for _, r := range rows {
		if r[0] == "gowsgi-1.2.0rc1.dist-info/RECORD" {
			if r[1] != "" || r[2] != "" {
				t.Errorf("RECORD's own row %v", r)
			}
			continue
		}
		sum := sha256.Sum256(files[r[0]])
		if want := "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]); r[1] != want {
			t.Errorf("%s: hash %s, want %s", r[0], r[1], want)
		}
	}
	meta := string(files["gowsgi-1.2.0rc1.dist-info/METADATA"])
	for _, want := range []string{"Metadata-Version: 2.1\n", "Name: gowsgi\n", "Version: 1.2.0rc1\n", "Summary: a server\n", "\n\n# gowsgi\n"} {
		if !strings.Contains(meta, want) {
			t.Errorf("METADATA lacks %q:\n%s", want, meta)
		}
	}
	wf := string(files["gowsgi-1.2.0rc1.dist-info/WHEEL"])
	for _, want := range []string{"Root-Is-Purelib: false\n", "Tag: py3-none-manylinux_2_17_x86_64\n", "Tag: py3-none-musllinux_1_1_x86_64\n"} {
		if !strings.Contains(wf, want) {
			t.Errorf("WHEEL lacks %q:\n%s", want, wf)
		}
	}
	// Reproducible.
	var again bytes.Buffer
	testWheel().Write(&again)
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two writes of one wheel differ")
	}
}

func TestCheck(t *testing.T) {
	for name, mod := range map[string]func(*Wheel){
		"local version": func(w *Wheel) { w.Version = "1.0+dirty" },
		"v prefix":      func(w *Wheel) { w.Version = "v1.0" },
		"name":          func(w *Wheel) { w.Name = "Go-WSGI" },
		"no platform":   func(w *Wheel) { w.Platforms = nil },
		"escape":        func(w *Wheel) { w.Files[0].Path = "../x.py" },
		"dist-info":     func(w *Wheel) { w.Files[0].Path = "gowsgi-1.2.0rc1.dist-info/RECORD" },
	} {
		w := testWheel()
		mod(w)
		if err := w.Write(io.Discard); err == nil {
			t.Errorf("%s: written", name)
		}
	}
}

func TestPlatformTags(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64":  "manylinux_2_17_x86_64 manylinux2014_x86_64 musllinux_1_1_x86_64",
		"linux/arm64":  "manylinux_2_17_aarch64 manylinux2014_aarch64 musllinux_1_1_aarch64",
		"darwin/arm64": "macosx_12_0_arm64",
		"darwin/amd64": "macosx_12_0_x86_64",
	} {
		os, arch, _ := strings.Cut(in, "/")
		got, err := PlatformTags(os, arch)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := PlatformTags("windows", "amd64"); err == nil {
		t.Error("windows: no error")
	}
}
