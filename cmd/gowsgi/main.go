// Command gowsgi serves a Python WSGI (PEP 3333) application.
//
//	gowsgi cloudacademy/playground.py --bind :5000
//	gowsgi myproject.wsgi:application -w 4 --threads 8
//	gowsgi check myproject.wsgi:application
//
// main reads the command line; internal/server builds and runs the server.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/gowsgi/gowsgi/internal/check"
	"github.com/gowsgi/gowsgi/internal/config"
	"github.com/gowsgi/gowsgi/internal/pyshim"
	"github.com/gowsgi/gowsgi/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "check" {
		return check.Main(args[1:], os.Stdout, os.Stderr)
	}
	cfg, err := config.Parse(args, os.Getenv, os.Stdout)
	switch {
	case errors.Is(err, config.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(os.Stderr, "gowsgi: %v\n", err)
		return 2
	case cfg.ShowVersion:
		fmt.Println("gowsgi", version, pyshim.About(cfg.Python)) // the interpreter the workers would run
		return 0
	case cfg.PrintConfig:
		cfg.PrintSettings(os.Stdout, cfg.JSON) // warnings included
		return 0
	}
	return server.Run(cfg, args, version)
}
