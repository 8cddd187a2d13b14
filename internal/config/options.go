package config

import (
	"encoding/json"

	"github.com/gowsgi/gowsgi/internal/pyshim"
	"github.com/gowsgi/gowsgi/internal/tlsconf"
	"github.com/gowsgi/gowsgi/internal/workers"
)

// WorkerOptions are the parts of workers.Options the configuration
// decides, in the shape workers.New takes. The caller adds what is found or
// made at run time: the interpreter (Python), the workers' environment
// (Env), the log, observer, hooks, output and reload callbacks, and in
// Process the hooks, the credential and SERVER_SOFTWARE.
func (c *Config) WorkerOptions() workers.Options {
	o := workers.Options{
		Target:            c.Target,
		Chdir:             c.Chdir,
		PythonPath:        c.PythonPath,
		Workers:           c.Workers,
		WorkersByApp:      c.given["workers"] == nil,
		Threads:           c.Threads,
		Preload:           c.Preload,
		Interface:         string(c.Interface),
		Lifespan:          string(c.Lifespan),
		Loop:              string(c.Loop),
		LimitConcurrency:  c.LimitConcurrency,
		BootTimeout:       c.BootTimeout,
		MaxQueue:          c.MaxQueue,
		QueueTimeout:      c.QueueTimeout,
		Timeout:           c.Timeout,
		GracefulTimeout:   c.GracefulTimeout,
		RequestTimeout:    c.RequestTimeout,
		PipelineDepth:     c.PipelineDepth,
		MaxRequests:       c.MaxRequests,
		MaxRequestsJitter: c.MaxRequestsJitter,
		MaxMemory:         c.MaxMemory,
		ResponseBuffer:    c.ResponseBuffer,
		ResponseSpool:     c.ResponseSpool,
		TempDir:           c.TmpUploadDir,
		LogConfig:         pyshim.LogConfig{File: c.LogConfig, JSONFile: c.LogConfigJSON},
		Process:           workers.Process{ProcName: c.ProcName, PasteGlobal: c.PasteGlobal},
	}
	if c.LogConfigDict != "" {
		o.LogConfig.Dict = json.RawMessage(c.LogConfigDict)
	}
	return o
}

// TLSOptions are the TLS settings in tlsconf's shape; nil without
// --certfile. A certificate without its --keyfile has its key in the
// certificate file, as gunicorn allows; ALPN offers --http-protocols in
// their order.
func (c *Config) TLSOptions() *tlsconf.Options {
	if len(c.CertFiles) == 0 {
		return nil
	}
	var protos []string
	for _, p := range c.HTTPProtocols {
		if p == HTTP2 {
			protos = append(protos, "h2") // x/net/http2.NextProtoTLS
		} else {
			protos = append(protos, "http/1.1")
		}
	}
	keys := c.KeyFiles
	if len(keys) == 0 {
		keys = c.CertFiles
	}
	return &tlsconf.Options{
		CertFiles: c.CertFiles, KeyFiles: keys, CACerts: c.CACerts, CertReqs: c.CertReqs,
		Ciphers: c.Ciphers, MinVersion: c.TLSMinVersion, NextProtos: protos,
	}
}
