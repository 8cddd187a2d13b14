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

// wsMaxQueueWhy is the notice for uvicorn's --ws-max-queue (a number of
// messages), which gowsgi bounds in bytes instead.
const wsMaxQueueWhy = "gowsgi bounds a WebSocket's unread messages itself (16 messages or 1 MiB in the worker), then stops reading the client (TCP holds it)"

// wsSettings are the WebSocket settings. They keep uvicorn's names and
// defaults (--ws-max-size 16 MiB, pings every 20 s answered within 20 s,
// permessage-deflate on), so a uvicorn command line means the same here;
// asgiSettings gives them uvicorn's spellings for the migration table.
var wsSettings = []*setting{
	{
		name: "ws-max-size", flags: []string{"--ws-max-size"}, kind: Native, typ: tString, def: "16777216", meta: "size",
		usage:    "largest WebSocket message in bytes (a larger one is closed with 1009)",
		accessor: sizeField(func(c *Config) *int64 { return &c.WS.MaxSize }),
	},
	{
		name: "ws-ping-interval", flags: []string{"--ws-ping-interval"}, kind: Native, typ: tString, def: "20", meta: "duration",
		usage:    "seconds between the server's pings on an open WebSocket; 0 = no pings",
		accessor: durField(func(c *Config) *time.Duration { return &c.WS.PingInterval }),
	},
	{
		name: "ws-ping-timeout", flags: []string{"--ws-ping-timeout"}, kind: Native, typ: tString, def: "20", meta: "duration",
		usage:    "seconds a WebSocket client has to answer a ping before it is closed with 1011",
		accessor: durField(func(c *Config) *time.Duration { return &c.WS.PingTimeout }),
	},
	{
		// A value, as uvicorn's click option takes one: --ws-per-message-deflate false.
		name: "ws-per-message-deflate", flags: []string{"--ws-per-message-deflate"}, kind: Native, typ: tString, def: "true", meta: "bool",
		usage:    "accept the WebSocket permessage-deflate extension (RFC 7692) when the client offers it",
		accessor: boolField(func(c *Config) *bool { return &c.WS.PerMessageDeflate }),
	},
}
