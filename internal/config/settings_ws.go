package config

import "time"

// WSConfig is the WebSocket settings, with uvicorn's names and defaults.
type WSConfig struct {
	// MaxSize bounds one WebSocket message in bytes, compressed and
	// decompressed; a larger one closes the connection with 1009.
	MaxSize int64
	// PingInterval is how often the server pings an open WebSocket; 0
	// turns keep-alive pings off. PingTimeout is how long it waits for
	// the pong before it closes the connection with 1011.
	PingInterval, PingTimeout time.Duration
	// PerMessageDeflate accepts the client's permessage-deflate offer.
	PerMessageDeflate bool
}

// wsSettings adds the WebSocket settings. They keep uvicorn's names and
// defaults (--ws-max-size 16 MiB, pings every 20 s answered within 20 s,
// permessage-deflate on), so a uvicorn command line means the same here.
func wsSettings(row rowFunc) {
	f := func(spellings ...string) []string { return spellings }
	a, sh := sizeField(func(c *Config) *int64 { return &c.WS.MaxSize })
	row("ws-max-size", f("--ws-max-size"), "", Native, tString, "16777216",
		"largest WebSocket message in bytes (a larger one is closed with 1009)", "", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.WS.PingInterval })
	row("ws-ping-interval", f("--ws-ping-interval"), "", Native, tString, "20",
		"seconds between the server's pings on an open WebSocket; 0 = no pings", "", a, sh)
	a, sh = durField(func(c *Config) *time.Duration { return &c.WS.PingTimeout })
	row("ws-ping-timeout", f("--ws-ping-timeout"), "", Native, tString, "20",
		"seconds a WebSocket client has to answer a ping before it is closed with 1011", "", a, sh)
	b, bsh := boolField(func(c *Config) *bool { return &c.WS.PerMessageDeflate })
	row("ws-per-message-deflate", f("--ws-per-message-deflate"), "", Native, tBool, "true",
		"accept the WebSocket permessage-deflate extension (RFC 7692) when the client offers it", "", b, bsh)
}
