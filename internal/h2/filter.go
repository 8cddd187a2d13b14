package h2

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"net"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// filterConn sits between a client and Go's HTTP/2 server and corrects two
// places where that server departs from RFC 9113, as h2spec finds:
//
//   - A SETTINGS frame that repeats a setting (RFC 9113 §6.5.3: the values
//     are processed in order, the last one wins) makes it close the
//     connection. The filter passes the frame on with each setting once,
//     holding the value that wins (up to the first invalid value, which
//     keeps its own error).
//   - A request with a connection-specific header field (Connection,
//     Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade) or a TE
//     other than "trailers" is malformed (§8.2.2: a stream error of type
//     PROTOCOL_ERROR), but it answers 400. The filter decodes every header
//     block with its own HPACK decoder, kept in step with the server's,
//     and to a malformed one adds a literal field whose upper-case name
//     the server refuses with exactly that stream error. The field is
//     "without indexing", so both decoders' dynamic tables stay the same.
//
// Other frames pass untouched: the filter reads a frame's 9-byte header
// itself and lets the server read the payload straight into its own
// buffer, so it costs no copy and no read the server would not make.
//
// It never holds more than the server itself would: a header block is
// held only while it fits maxHold (the server's header list limit; a
// block larger in wire bytes is larger decoded, and refused by the server
// anyway), and only frames up to the server's frame size; anything else
// passes as it comes, and Go's own limits (MaxHeaderBytes, the CONTINUATION
// flood protection, the frame size) apply to it. An idle connection holds
// no read buffer (only the HPACK decoder's table). Should the filter lose track of the header state (a frame it
// cannot parse, a block too large), it stops looking at header blocks for
// the rest of the connection and passes everything as it comes.
type filterConn struct {
	net.Conn
	maxHold  int // bytes of one header block held back, at most
	maxFrame int // the server's largest frame payload

	out     []byte // bytes to hand to the server before reading more
	preface int    // client preface bytes still to pass
	pass    int    // payload bytes of the current frame still to pass
	hdr     [9]byte
	hn      int    // bytes of hdr read
	frame   []byte // a whole frame being read (header and payload), to look at
	fn      int    // bytes of frame read
	err     error  // a read error to report once out is drained

	dec     *hpack.Decoder
	held    []byte // the frames of a header block not yet complete
	bad     bool   // the held block has a connection-specific field
	holdOff bool   // out of step: header blocks pass as they are
}

// tlsFilterConn keeps the TLS state visible to the HTTP/2 server (cipher
// checks, Request.TLS).
type tlsFilterConn struct{ *filterConn }

func (c tlsFilterConn) ConnectionState() tls.ConnectionState {
	return c.Conn.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState()
}

// newFilterConn filters c for a server whose header list limit is
// maxHeaderList bytes and whose largest frame payload is maxFrame bytes.
func newFilterConn(c net.Conn, maxHeaderList, maxFrame int) net.Conn {
	if maxFrame <= 0 {
		maxFrame = 16 << 10
	}
	if maxHeaderList <= 0 {
		maxHeaderList = 64 << 10
	}
	// The block's frame headers, padding and priority are not part of the
	// header list: allow for them in a block of up to 16 frames.
	f := &filterConn{Conn: c, preface: len(http2.ClientPreface), maxHold: maxHeaderList + 16*(9+256+5), maxFrame: maxFrame}
	// The server's decoder starts with a 4096-byte table and advertises no
	// other size: the same start keeps both in step.
	f.dec = hpack.NewDecoder(4096, func(hf hpack.HeaderField) {
		switch hf.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			f.bad = true
		case "te":
			if hf.Value != "trailers" {
				f.bad = true
			}
		}
	})
	// Header fields past the limit are not kept: the filter only looks.
	f.dec.SetMaxStringLength(maxHeaderList)
	if _, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return tlsFilterConn{f}
	}
	return f
}

func (c *filterConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			err := c.err
			c.err = nil
			return 0, err
		}
		switch {
		case c.preface > 0:
			n, err := c.Conn.Read(p[:min(len(p), c.preface)])
			c.preface -= n
			return n, err
		case c.pass > 0:
			// In the middle of a frame that passes: no copy.
			n, err := c.Conn.Read(p[:min(len(p), c.pass)])
			c.pass -= n
			return n, err
		case c.frame != nil:
			n, err := c.Conn.Read(c.frame[c.fn:])
			c.fn += n
			if c.fn == len(c.frame) {
				c.look()
			} else if err != nil {
				c.broken(err)
			}
		default:
			n, err := c.Conn.Read(c.hdr[c.hn:])
			c.hn += n
			if c.hn == len(c.hdr) {
				c.hn = 0
				c.header()
			} else if err != nil {
				c.broken(err)
			}
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	if len(c.out) == 0 {
		c.out = nil
	}
	return n, nil
}

// broken handles a read error in the middle of a frame header or a frame
// being looked at. A timeout keeps the state: the next Read goes on. Any
// other error hands the server what came, which it judges itself.
func (c *filterConn) broken(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.err = err
		return
	}
	c.holdOff = true
	c.out = append(append(append(c.out, c.held...), c.frame[:c.fn]...), c.hdr[:c.hn]...)
	c.held, c.frame, c.fn, c.hn = nil, nil, 0, 0
	c.err = err
}

// header decides what to do with the frame whose header is in c.hdr: read
// it whole to look at it, or let it pass.
func (c *filterConn) header() {
	if c.holdOff {
		c.dec = nil // never used again: its buffers go
	}
	length := int(c.hdr[0])<<16 | int(c.hdr[1])<<8 | int(c.hdr[2])
	typ, flags := http2.FrameType(c.hdr[3]), http2.Flags(c.hdr[4])
	stream := binary.BigEndian.Uint32(c.hdr[5:9]) & 0x7fffffff
	look := false
	switch {
	case typ == http2.FrameSettings && flags&http2.FlagSettingsAck == 0 && stream == 0 && length%6 == 0 && length <= 6*100:
		look = true
	case (typ == http2.FrameHeaders || typ == http2.FrameContinuation) && !c.holdOff && length <= c.maxFrame:
		if typ == http2.FrameContinuation && len(c.held) == 0 {
			c.holdOff = true // not after a HEADERS we saw: the server will object
			break
		}
		if len(c.held)+9+length > c.maxHold {
			// Larger than the server accepts: it passes, and the
			// server's own limits deal with it.
			c.holdOff = true
			break
		}
		look = true
	}
	if look {
		c.frame = make([]byte, 9+length)
		copy(c.frame, c.hdr[:])
		c.fn = 9
		if length == 0 {
			c.look()
		}
		return
	}
	if len(c.held) > 0 {
		// Another frame inside a header block (a connection error the
		// server reports), or a block too large to hold.
		c.holdOff = true
		c.out = append(c.out, c.held...)
		c.held = nil
	}
	c.out = append(c.out, c.hdr[:]...)
	c.pass = length
}

// look handles the whole frame in c.frame.
func (c *filterConn) look() {
	frame := c.frame
	c.frame, c.fn = nil, 0
	if http2.FrameType(frame[3]) == http2.FrameSettings {
		c.out = append(c.out, dedupSettings(frame)...)
		return
	}
	frag, ok := fragment(frame)
	if ok {
		_, err := c.dec.Write(frag)
		ok = err == nil
	}
	if !ok {
		c.holdOff = true
		c.out = append(append(c.out, c.held...), frame...)
		c.held = nil
		return
	}
	c.held = append(c.held, frame...)
	if http2.Flags(frame[4])&http2.FlagHeadersEndHeaders != 0 {
		if c.dec.Close() != nil {
			c.holdOff = true
		} else if c.bad {
			c.held = markMalformed(c.held)
		}
		c.bad = false
		c.out = append(c.out, c.held...)
		c.held = nil
	}
}

// fragment returns the header block fragment of a HEADERS or CONTINUATION
// frame, without padding and priority.
func fragment(frame []byte) ([]byte, bool) {
	start, end := 9, len(frame)
	if http2.FrameType(frame[3]) == http2.FrameHeaders {
		flags := http2.Flags(frame[4])
		if flags&http2.FlagHeadersPadded != 0 {
			if end <= start {
				return nil, false
			}
			end -= int(frame[start])
			start++
		}
		if flags&http2.FlagHeadersPriority != 0 {
			start += 5
		}
	}
	if start > end {
		return nil, false
	}
	return frame[start:end], true
}

// malformedField is a literal header field without indexing, new name
// (RFC 7541 §6.2.2), whose name "Malformed" has upper case, which HTTP/2
// forbids: the server answers the stream with PROTOCOL_ERROR.
var malformedField = []byte{0x00, 9, 'M', 'a', 'l', 'f', 'o', 'r', 'm', 'e', 'd', 0x00}

// markMalformed inserts malformedField into the HEADERS frame at the start
// of block, after any dynamic table size updates (which must come first).
func markMalformed(block []byte) []byte {
	length := int(block[0])<<16 | int(block[1])<<8 | int(block[2])
	frame := block[:9+length]
	frag, ok := fragment(frame)
	if !ok {
		return block
	}
	at := 9 // the fragment's start: after the pad length and priority
	if http2.Flags(frame[4])&http2.FlagHeadersPadded != 0 {
		at++
	}
	if http2.Flags(frame[4])&http2.FlagHeadersPriority != 0 {
		at += 5
	}
	i := 0
	for i < len(frag) && frag[i]&0xe0 == 0x20 { // 001xxxxx: size update
		if frag[i]&0x1f != 0x1f {
			i++
			continue
		}
		i++
		for i < len(frag) && frag[i]&0x80 != 0 {
			i++
		}
		i++
	}
	at += min(i, len(frag))
	length += len(malformedField)
	out := make([]byte, 0, len(block)+len(malformedField))
	out = append(out, byte(length>>16), byte(length>>8), byte(length))
	out = append(out, block[3:at]...)
	out = append(out, malformedField...)
	return append(out, block[at:]...)
}

// dedupSettings rewrites a SETTINGS frame so that each setting appears
// once, with the value that wins when they are applied in order; settings
// after the first invalid one are dropped, as the server stops there.
func dedupSettings(frame []byte) []byte {
	n := (len(frame) - 9) / 6
	seen := map[uint16]bool{}
	dup := false
	for i := 0; i < n; i++ {
		id := binary.BigEndian.Uint16(frame[9+6*i:])
		dup = dup || seen[id]
		seen[id] = true
	}
	if !dup {
		return frame
	}
	var list []http2.Setting
	for i := 0; i < n; i++ {
		s := http2.Setting{ID: http2.SettingID(binary.BigEndian.Uint16(frame[9+6*i:])), Val: binary.BigEndian.Uint32(frame[11+6*i:])}
		replaced := false
		for k := range list {
			if list[k].ID == s.ID {
				list[k].Val, replaced = s.Val, true
			}
		}
		if !replaced {
			list = append(list, s)
		}
		if s.Valid() != nil {
			break
		}
	}
	out := make([]byte, 9, 9+6*len(list))
	copy(out, frame[:9])
	l := 6 * len(list)
	out[0], out[1], out[2] = byte(l>>16), byte(l>>8), byte(l)
	for _, s := range list {
		out = binary.BigEndian.AppendUint16(out, uint16(s.ID))
		out = binary.BigEndian.AppendUint32(out, s.Val)
	}
	return out
}
