package config

import (
	"strings"
	"testing"
	"time"
)

// TestWorkerOptions: the workers' options come out of the configuration in
// workers' shape, every field the settings decide filled in.
func TestWorkerOptions(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, strings.Fields("app:wsgi -w 3 --threads 4 --preload --boot-timeout 7 --max-queue 9 --queue-timeout 2s -t 11 "+
		"--pipeline-depth 5 --max-requests 100 --max-requests-jitter 10 --max-memory 64 --response-buffer 2M --response-spool 0 "+
		"--pythonpath a,b --tmp-upload-dir "+dir+" --chdir "+dir+" --log-config log.ini -n web --paste-global K=V"), nil)
	o := c.WorkerOptions()
	if o.Target != "app:wsgi" || o.Workers != 3 || o.Threads != 4 || !o.Preload || o.BootTimeout != 7*time.Second ||
		o.MaxQueue != 9 || o.QueueTimeout != 2*time.Second || o.Timeout != 11*time.Second || o.PipelineDepth != 5 ||
		o.MaxRequests != 100 || o.MaxRequestsJitter != 10 || o.MaxMemory != 64<<20 || o.ResponseBuffer != 2<<20 ||
		o.ResponseSpool != 0 || strings.Join(o.PythonPath, " ") != "a b" || o.TempDir != dir || o.Chdir != dir {
		t.Errorf("options: %+v", o)
	}
	a := mustParse(t, strings.Fields("app:asgi --interface asgi --lifespan on --loop asyncio --limit-concurrency 7"), nil).WorkerOptions()
	if a.Interface != "asgi" || a.Lifespan != "on" || a.Loop != "asyncio" || a.LimitConcurrency != 7 {
		t.Errorf("ASGI options: interface %q lifespan %q loop %q limit %d", a.Interface, a.Lifespan, a.Loop, a.LimitConcurrency)
	}
	if o.LogConfig.File != "log.ini" || o.LogConfig.Dict != nil || o.Process.ProcName != "web" || strings.Join(o.Process.PasteGlobal, " ") != "K=V" {
		t.Errorf("log config %+v, process %+v", o.LogConfig, o.Process)
	}
}

// TestEnums: enumerated settings come out typed, any case accepted; other
// values are errors; --print-config shows them as plain strings.
func TestEnums(t *testing.T) {
	c := mustParse(t, strings.Fields("a --log-format JSON --request-id pass --http2-cleartext Both"), nil)
	if c.LogFormat != LogJSON || c.RequestID != RequestIDPass || c.HTTP2Cleartext != CleartextBoth {
		t.Errorf("log format %q, request id %q, h2c %q", c.LogFormat, c.RequestID, c.HTTP2Cleartext)
	}
	d := mustParse(t, []string{"a"}, nil)
	if d.LogFormat != LogText || d.RequestID != RequestIDGenerate || d.HTTP2Cleartext != CleartextOff {
		t.Errorf("defaults: log format %q, request id %q, h2c %q", d.LogFormat, d.RequestID, d.HTTP2Cleartext)
	}
	for _, s := range c.Settings() {
		if s.Name == "log-format" || s.Name == "request-id" || s.Name == "http2-cleartext" {
			if _, ok := s.Value.(string); !ok {
				t.Errorf("%s shows as %T, want a string", s.Name, s.Value)
			}
		}
	}
	for _, args := range [][]string{{"a", "--log-format", "xml"}, {"a", "--request-id", "make"}, {"a", "--http2-cleartext", "yes"}} {
		if _, err := parse(t, args, nil); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// TestTLSOptions: TLS settings in tlsconf's shape, ALPN in the protocols'
// order, a missing key taken from the certificate file.
func TestTLSOptions(t *testing.T) {
	if o := mustParse(t, []string{"a"}, nil).TLSOptions(); o != nil {
		t.Errorf("without --certfile: %+v", o)
	}
	o := mustParse(t, strings.Fields("a --certfile c.pem --cert-reqs 2 --http-protocols h1,h2 --ssl-version TLSv1_3"), nil).TLSOptions()
	if o == nil || strings.Join(o.KeyFiles, ",") != "c.pem" || o.CertReqs != 2 || strings.Join(o.NextProtos, ",") != "http/1.1,h2" || o.MinVersion != 0x0304 {
		t.Errorf("options %+v", o)
	}
}
