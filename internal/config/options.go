package config

import (
	"encoding/json"

	"github.com/gowsgi/gowsgi/internal/pyshim"
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
		Threads:           c.Threads,
		Preload:           c.Preload,
		BootTimeout:       c.BootTimeout,
		MaxQueue:          c.MaxQueue,
		QueueTimeout:      c.QueueTimeout,
		Timeout:           c.Timeout,
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
