package logging

import (
	"context"
	"io"
	"log/slog"
)

// NewLogger returns gowsgi's error log: slog's text handler (format "text"
// or "") or its JSON handler ("json"), at level. When count is set it is
// called for every record at warning level or above (statsd's
// gunicorn.log.warning and gunicorn.log.error).
func NewLogger(w io.Writer, level slog.Level, format string, count func(slog.Level)) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	if count != nil {
		h = countingHandler{h, count}
	}
	return slog.New(h)
}

// countingHandler counts warnings and errors before handing records on.
type countingHandler struct {
	slog.Handler
	count func(slog.Level)
}

func (c countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		c.count(r.Level)
	}
	return c.Handler.Handle(ctx, r)
}

func (c countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countingHandler{c.Handler.WithAttrs(as), c.count}
}

func (c countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{c.Handler.WithGroup(name), c.count}
}
