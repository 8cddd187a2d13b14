// Package deploy holds gowsgi's deployment files: systemd units, a
// Dockerfile and Kubernetes manifests. This test checks that they parse
// and that the numbers which must agree do.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gowsgi/gowsgi/internal/config"
)

// docs decodes every YAML document of a file.
func docs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, d)
	}
}

// dig follows keys (strings for maps, ints for lists) into v.
func dig(t *testing.T, v any, keys ...any) any {
	t.Helper()
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: not a map: %v", k, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at [%d]: not a list that long: %v", k, v)
			}
			v = l[k]
		}
	}
	return v
}

func TestKubernetesManifests(t *testing.T) {
	ds := docs(t, "kubernetes/deployment.yaml")
	if len(ds) != 2 || ds[0]["kind"] != "Deployment" || ds[1]["kind"] != "Service" {
		t.Fatalf("deployment.yaml: want a Deployment and a Service, got %d documents", len(ds))
	}
	spec := dig(t, ds[0], "spec", "template", "spec")
	c := dig(t, spec, "containers", 0)
	var args []string
	for _, a := range dig(t, c, "args").([]any) {
		args = append(args, a.(string))
	}
	// The container's command line is a valid gowsgi configuration.
	cfg, err := config.Parse(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("args %v: %v", args, err)
	}
	if cfg.MetricsBind != "0.0.0.0:9102" {
		t.Errorf("--metrics-bind = %q", cfg.MetricsBind)
	}
	ports := map[string]int{}
	for _, p := range dig(t, c, "ports").([]any) {
		ports[dig(t, p, "name").(string)] = dig(t, p, "containerPort").(int)
	}
	if ports["metrics"] != 9102 || ports["http"] != 8000 {
		t.Errorf("container ports %v", ports)
	}
	if p := dig(t, c, "readinessProbe", "httpGet"); dig(t, p, "path") != "/readyz" || dig(t, p, "port") != "metrics" {
		t.Errorf("readiness probe %v: want /readyz on the metrics port", p)
	}
	if p := dig(t, c, "livenessProbe", "httpGet"); dig(t, p, "path") != "/healthz" || dig(t, p, "port") != "metrics" {
		t.Errorf("liveness probe %v: want /healthz on the metrics port", p)
	}
	pre := dig(t, c, "lifecycle", "preStop", "exec", "command").([]any)
	sleep, err := time.ParseDuration(pre[len(pre)-1].(string) + "s")
	if err != nil || pre[0] != "sleep" {
		t.Fatalf("preStop %v: want a sleep", pre)
	}
	grace := time.Duration(dig(t, spec, "terminationGracePeriodSeconds").(int)) * time.Second
	if grace < sleep+cfg.GracefulTimeout {
		t.Errorf("terminationGracePeriodSeconds %s < preStop %s + --graceful-timeout %s: the kubelet would kill gowsgi mid-drain",
			grace, sleep, cfg.GracefulTimeout)
	}
	svcPorts := map[string]any{}
	for _, p := range dig(t, ds[1], "spec", "ports").([]any) {
		svcPorts[dig(t, p, "name").(string)] = dig(t, p, "targetPort")
	}
	if svcPorts["http"] != "http" {
		t.Errorf("Service ports %v", svcPorts)
	}

	hpa := docs(t, "kubernetes/hpa.yaml")
	if len(hpa) != 1 || hpa[0]["kind"] != "HorizontalPodAutoscaler" {
		t.Fatal("hpa.yaml: want one HorizontalPodAutoscaler")
	}
	if n := dig(t, hpa[0], "spec", "metrics", 0, "pods", "metric", "name"); n != "gowsgi_queue_depth" {
		t.Errorf("HPA metric %v, want gowsgi_queue_depth", n)
	}
	if n := dig(t, hpa[0], "spec", "scaleTargetRef", "name"); n != dig(t, ds[0], "metadata", "name") {
		t.Errorf("HPA targets %v", n)
	}
	adapter := docs(t, "kubernetes/prometheus-adapter.yaml")
	var rules map[string]any
	if err := yaml.Unmarshal([]byte(dig(t, adapter[0], "data", "config.yaml").(string)), &rules); err != nil {
		t.Fatalf("prometheus-adapter config.yaml: %v", err)
	}
	if q := dig(t, rules, "rules", 0, "seriesQuery").(string); !strings.HasPrefix(q, "gowsgi_queue_depth{") {
		t.Errorf("adapter rule for %q", q)
	}
}

// unit parses a systemd unit file into section → key → values.
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]string{}
	var section string
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not KEY=VALUE in a section: %q", path, i+1, line)
			}
			out[section][k] = append(out[section][k], strings.Join(strings.Fields(v), " "))
		}
	}
	return out
}

func TestSystemdUnits(t *testing.T) {
	sock := unit(t, "systemd/gowsgi.socket")
	if len(sock["Socket"]["ListenStream"]) != 1 {
		t.Errorf("gowsgi.socket: want one ListenStream, got %v", sock["Socket"]["ListenStream"])
	}
	svc := unit(t, "systemd/gowsgi.service")
	s := svc["Service"]
	if s["Type"][0] != "notify" || s["NotifyAccess"][0] != "main" {
		t.Errorf("gowsgi.service: Type=%v NotifyAccess=%v, want notify and main", s["Type"], s["NotifyAccess"])
	}
	if !strings.Contains(svc["Unit"]["Requires"][0], "gowsgi.socket") {
		t.Error("gowsgi.service does not require gowsgi.socket")
	}
	exec := strings.Fields(s["ExecStart"][0])
	cfg, err := config.Parse(exec[1:], func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("ExecStart %v: %v", exec, err)
	}
	if len(cfg.Binds) != 1 || cfg.Binds[0].Network != "fd" || cfg.Binds[0].Addr != "3" {
		t.Errorf("ExecStart binds %v: want the socket systemd passes, fd://3", cfg.Binds)
	}
	stop, err := time.ParseDuration(s["TimeoutStopSec"][0] + "s")
	if err != nil || stop <= cfg.GracefulTimeout {
		t.Errorf("TimeoutStopSec %v not above --graceful-timeout %s", s["TimeoutStopSec"], cfg.GracefulTimeout)
	}
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var from []string
	stages := map[string]bool{}
	var copyFrom []string
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			from = append(from, f[1])
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				stages[f[3]] = true
			}
		case "COPY":
			if v, ok := strings.CutPrefix(f[1], "--from="); ok {
				copyFrom = append(copyFrom, v)
			}
		case "ARG", "WORKDIR", "RUN", "USER", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK", "CMD", "ENV":
		default:
			t.Errorf("Dockerfile: unknown instruction %q", f[0])
		}
	}
	if len(from) != 2 || !strings.HasPrefix(from[0], "golang:") || !strings.HasPrefix(from[1], "python:") {
		t.Errorf("stages %v: want golang then python", from)
	}
	for _, c := range copyFrom {
		// A stage, or a build context the header comment tells to pass.
		if !stages[c] && !bytes.Contains(b, []byte("--build-context "+c+"=")) {
			t.Errorf("COPY --from=%s: neither a stage nor a documented --build-context", c)
		}
	}
	// The build stage makes the wheel with the project's script, which
	// builds the binary static; the final stage installs it with pip.
	if !bytes.Contains(b, []byte("bash scripts/build-wheels.sh --no-deb --platform")) {
		t.Error("the build stage does not build the wheel with scripts/build-wheels.sh")
	}
	script, err := os.ReadFile("../scripts/build-wheels.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`CGO_ENABLED=0\s+go build`).Match(bytes.ReplaceAll(script, []byte("\\\n"), []byte(" "))) {
		t.Error("scripts/build-wheels.sh does not build the binary static (CGO_ENABLED=0)")
	}
	if !bytes.Contains(b, []byte("pip install --no-cache-dir /wheels/gowsgi-*.whl")) {
		t.Error("the final stage does not pip install the wheel")
	}
}

// TestPythonSlimDockerfile: adding gowsgi to a python:3.x-slim image is one
// pip install line, and the image runs gowsgi.
func TestPythonSlimDockerfile(t *testing.T) {
	b, err := os.ReadFile("docker/python-slim.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var from, pip []string
	var cmd string
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			from = append(from, f[1])
		case "RUN":
			if strings.Contains(line, "pip install") {
				pip = append(pip, line)
			}
		case "CMD":
			cmd = line
		}
	}
	if len(from) != 1 || !strings.HasPrefix(from[0], "python:3.") || !strings.HasSuffix(from[0], "-slim") {
		t.Errorf("FROM %v: want one python:3.x-slim", from)
	}
	if len(pip) != 1 || !strings.Contains(pip[0], " gowsgi") {
		t.Errorf("pip install lines %q: want one, installing gowsgi", pip)
	}
	if !strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(cmd, "CMD")), `["gowsgi",`) {
		t.Errorf("CMD %q does not run gowsgi", cmd)
	}
}
