package pyshim

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeExec writes an executable file at path.
func fakeExec(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestFindPythonOrder: --python, then the venv the binary sits in, then
// $VIRTUAL_ENV, then python3 on PATH.
func TestFindPythonOrder(t *testing.T) {
	root := t.TempDir()
	venv := filepath.Join(root, "venv")
	fakeExec(t, filepath.Join(venv, "bin", "python"))
	os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644)
	active := filepath.Join(root, "active")
	fakeExec(t, filepath.Join(active, "bin", "python"))
	plain := filepath.Join(root, "plain") // a bin/ with python but no pyvenv.cfg
	fakeExec(t, filepath.Join(plain, "bin", "python"))
	onPath := filepath.Join(root, "path")
	fakeExec(t, filepath.Join(onPath, "python3"))
	explicit := filepath.Join(root, "explicit", "python3.12")
	fakeExec(t, explicit)
	t.Setenv("PATH", onPath)

	env := func(venv string) func(string) string {
		return func(k string) string {
			if k == "VIRTUAL_ENV" {
				return venv
			}
			return ""
		}
	}
	for _, c := range []struct {
		name, flag, exe, virtualEnv, want string
	}{
		{"flag first", explicit, filepath.Join(venv, "bin", "gowsgi"), active, explicit},
		{"flag on PATH", "python3", filepath.Join(venv, "bin", "gowsgi"), active, filepath.Join(onPath, "python3")},
		{"the binary's venv before VIRTUAL_ENV", "", filepath.Join(venv, "bin", "gowsgi"), active, filepath.Join(venv, "bin", "python")},
		{"not a venv: VIRTUAL_ENV", "", filepath.Join(plain, "bin", "gowsgi"), active, filepath.Join(active, "bin", "python")},
		{"unknown binary: VIRTUAL_ENV", "", "", active, filepath.Join(active, "bin", "python")},
		{"then PATH", "", filepath.Join(plain, "bin", "gowsgi"), "", filepath.Join(onPath, "python3")},
	} {
		got, err := findPython(c.flag, c.exe, env(c.virtualEnv))
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}

	// A venv with only python3 (some tools make no python link).
	os.Remove(filepath.Join(venv, "bin", "python"))
	fakeExec(t, filepath.Join(venv, "bin", "python3"))
	if got, _ := findPython("", filepath.Join(venv, "bin", "gowsgi"), env("")); got != filepath.Join(venv, "bin", "python3") {
		t.Errorf("venv with python3 only: got %q", got)
	}

	if _, err := findPython("no-such-python", "", env("")); err == nil {
		t.Error("a --python that does not exist must fail")
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := findPython("", "", env("")); err == nil {
		t.Error("no python3 anywhere must fail")
	}
}
