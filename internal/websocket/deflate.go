package websocket

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
	"github.com/klauspost/compress/flate"
)

// DeflateParams are the accepted permessage-deflate parameters (RFC 7692).
//
// The server always answers with server_no_context_takeover, which RFC 7692
// §7.1.1.1 lets a server do whatever the offer says: it compresses each
// message with a pooled compressor reset between messages, so an idle
// connection holds no compressor state (a deflate compressor costs hundreds
// of KiB; a thousand connections would each keep one alive). In the other
// direction the client keeps its context unless it offered
// client_no_context_takeover; the server then keeps the last 32 KiB of the
// client's messages, the largest window a client may use, as the dictionary
// for the next one.
type DeflateParams struct {
	// ServerMaxWindowBits is the client's server_max_window_bits (8..15),
	// the largest window the server's compressor may use; 0 when the client
	// set none (15, 32 KiB).
	ServerMaxWindowBits int
	// ClientNoContextTakeover: the client resets its compressor after each
	// message (it offered client_no_context_takeover), so the server does
	// not keep a dictionary.
	ClientNoContextTakeover bool
}

// negotiateDeflate picks the first permessage-deflate offer with valid
// parameters from the Sec-WebSocket-Extensions lines; an offer with an
// unknown, repeated or invalid parameter is declined, as RFC 7692 §5 asks,
// and the next one is tried. nil: no offer accepted.
func negotiateDeflate(lines []string) *DeflateParams {
	for _, line := range lines {
		opts, ok := httphead.ParseOptions([]byte(line), nil)
		if !ok {
			continue
		}
		for _, o := range opts {
			if string(o.Name) != wsflate.ExtensionName {
				continue
			}
			var p wsflate.Parameters
			if p.Parse(o) != nil {
				continue
			}
			dp := &DeflateParams{ClientNoContextTakeover: p.ClientNoContextTakeover}
			if p.ServerMaxWindowBits.Defined() {
				dp.ServerMaxWindowBits = int(p.ServerMaxWindowBits)
			}
			return dp
		}
	}
	return nil
}

// responseValue is the accepted offer, as Sec-WebSocket-Extensions.
func (p *DeflateParams) responseValue() string {
	s := wsflate.ExtensionName + "; server_no_context_takeover"
	if p.ClientNoContextTakeover {
		s += "; client_no_context_takeover"
	}
	if p.ServerMaxWindowBits != 0 {
		s += "; server_max_window_bits=" + strconv.Itoa(p.ServerMaxWindowBits)
	}
	return s
}

// deflateTail ends every compressed message: the 4 octets RFC 7692 §7.2.1
// has the sender remove, then an empty final stored block so that the
// decompressor ends the message with io.EOF.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// maxWindow is the largest LZ77 window (2^15), and so the dictionary a
// decompressor keeps across the client's messages.
const maxWindow = 32 << 10

// appendWriter appends what is written to it.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// writerPools hold compressors by window bits (8..15).
var writerPools [16]sync.Pool

// compress returns p compressed as one permessage-deflate message (without
// the trailing 00 00 ff ff), with a window of at most 2^bits (0: 2^15).
func compress(p []byte, bits int) ([]byte, error) {
	if bits == 0 || bits > 15 {
		bits = 15
	}
	dst := &appendWriter{b: make([]byte, 0, len(p)/2+64)}
	fw, _ := writerPools[bits].Get().(*flate.Writer)
	var err error
	switch {
	case fw != nil:
		fw.Reset(dst)
	case bits == 15:
		fw, err = flate.NewWriter(dst, flate.BestSpeed)
	default:
		fw, err = flate.NewWriterWindow(dst, 1<<bits)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		fw.Reset(io.Discard)
		writerPools[bits].Put(fw)
	}()
	if _, err := fw.Write(p); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	out := dst.b
	if !bytes.HasSuffix(out, deflateTail[:4]) {
		return nil, errors.New("websocket: deflate flush did not end with a sync marker")
	}
	return out[:len(out)-4], nil
}

var readerPool sync.Pool

// errTooBig reports a decompressed message over the size limit.
var errTooBig = errors.New("websocket: message too big")

// inflater decompresses the client's messages, keeping the dictionary when
// the client keeps its context.
type inflater struct {
	keep bool
	dict []byte
}

// inflate decompresses one message. compressed must have room to append
// deflateTail (it is the connection's own buffer). It stops as soon as the
// output passes limit (errTooBig): a deflate bomb costs limit bytes, no
// more.
func (f *inflater) inflate(compressed []byte, limit int64) ([]byte, error) {
	src := bytes.NewReader(append(compressed, deflateTail...))
	fr, _ := readerPool.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReaderDict(src, f.dict)
	} else if err := fr.(flate.Resetter).Reset(src, f.dict); err != nil {
		return nil, err
	}
	defer readerPool.Put(fr)
	out := make([]byte, 0, min(int64(4*len(compressed)+512), limit+1))
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if int64(len(out)) > limit {
			return nil, errTooBig
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if f.keep {
		f.remember(out)
	}
	return out, nil
}

// remember keeps the last maxWindow bytes of the output for the next
// message. The dictionary grows with what the client sent, up to
// maxWindow: a connection that exchanged a few small messages keeps a few
// small bytes, not a 32 KiB window (at 1,000 quiet WebSockets, 32 MiB).
func (f *inflater) remember(out []byte) {
	if len(out) >= maxWindow {
		f.dict = append(f.dict[:0], out[len(out)-maxWindow:]...)
		return
	}
	if drop := len(f.dict) + len(out) - maxWindow; drop > 0 {
		f.dict = f.dict[:copy(f.dict, f.dict[drop:])]
	}
	if need := len(f.dict) + len(out); need > cap(f.dict) {
		d := make([]byte, len(f.dict), min(maxWindow, max(need, 2*cap(f.dict))))
		copy(d, f.dict)
		f.dict = d
	}
	f.dict = append(f.dict, out...)
}
