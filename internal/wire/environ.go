package wire

import "encoding/binary"

// Environ accumulates the encoded CGI part of a request's WSGI environ, in
// the buffer that becomes the request frame, so the front can build an
// environ without knowing the frame layout and without a copy.
type Environ struct {
	b     []byte
	start int
	tuple bool // an ASGI scope's values (ResetScope), not a dict
}

// Reset starts a new environ in buf's storage.
func (e *Environ) Reset(buf []byte) {
	e.b, e.start = BeginRequest(buf[:0], 0)
	e.tuple = false
}

// Add appends environ[key] = value; see AppendEnvStr.
func (e *Environ) Add(key, value string) { e.b = AppendEnvStr(e.b, key, value) }

// AddKey appends a key whose value AddValue appends next.
func (e *Environ) AddKey(key []byte) {
	e.b = appendEnvKeyBytes(e.b, key)
}

// AddValue appends the value of the key added last.
func (e *Environ) AddValue(value string) { e.b = appendLatin1(e.b, value) }

// Buffer returns the storage, for recycling once the request is done.
func (e *Environ) Buffer() []byte { return e.b }

// Frame finishes the request frame (see FinishRequest) and returns it; its
// id is filled in when it is sent.
func (e *Environ) Frame(bodyLen int, bodyInFD bool) []byte {
	if e.tuple {
		e.b = finishRequest(e.b, e.start, bodyLen, bodyInFD)
	} else {
		e.b = FinishRequest(e.b, e.start, bodyLen, bodyInFD)
	}
	return e.b
}

// StreamFrame finishes an ASGI request frame whose body streams in B
// frames after it (body True; see the package doc) and returns it.
func (e *Environ) StreamFrame() []byte {
	if !e.tuple {
		e.b = append(e.b, mNull) // a dict environ's end
	}
	e.b = append(e.b, mTrue)
	binary.LittleEndian.PutUint32(e.b[e.start:], uint32(len(e.b)-e.start-HeaderSize))
	return e.b
}

func appendEnvKeyBytes(dst, key []byte) []byte {
	if len(key) < 256 {
		dst = append(dst, mShortASCIIi, byte(len(key)))
		return append(dst, key...)
	}
	return AppendEnvKey(dst, string(key))
}
