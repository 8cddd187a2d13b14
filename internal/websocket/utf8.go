package websocket

import "unicode/utf8"

// utf8Check validates UTF-8 incrementally, across the fragments of a text
// message, and fails at the first octet that cannot continue a valid
// sequence (RFC 6455 §8.1 lets an endpoint fail fast; Autobahn's case 6.4
// checks it): a fragment that ends inside a code point is fine until the
// next one shows otherwise.
type utf8Check struct {
	need   uint8 // continuation octets still expected
	lo, hi byte  // the range of the next continuation octet
}

// feed checks p, the next octets of the message.
func (u *utf8Check) feed(p []byte) bool {
	i := 0
	for ; i < len(p) && u.need > 0; i++ {
		if !u.step(p[i]) {
			return false
		}
	}
	p = p[i:]
	// The bulk goes through utf8.Valid, up to the start of a code point
	// that the fragment cuts; the step machine takes that last one.
	cut := len(p)
	for j := len(p) - 1; j >= 0 && j >= len(p)-3; j-- {
		if b := p[j]; b&0xC0 != 0x80 {
			if b >= 0xC0 && j+seqLen(b) > len(p) {
				cut = j
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for _, b := range p[cut:] {
		if !u.step(b) {
			return false
		}
	}
	return true
}

// complete reports whether the octets so far end on a code point boundary.
func (u *utf8Check) complete() bool { return u.need == 0 }

func seqLen(b byte) int {
	switch {
	case b >= 0xF0:
		return 4
	case b >= 0xE0:
		return 3
	default:
		return 2
	}
}

// step takes one octet (Unicode's table 3-7 of well-formed sequences).
func (u *utf8Check) step(b byte) bool {
	if u.need > 0 {
		if b < u.lo || b > u.hi {
			return false
		}
		u.need--
		u.lo, u.hi = 0x80, 0xBF
		return true
	}
	u.lo, u.hi = 0x80, 0xBF
	switch {
	case b < 0x80:
	case b >= 0xC2 && b <= 0xDF:
		u.need = 1
	case b == 0xE0:
		u.need, u.lo = 2, 0xA0
	case b >= 0xE1 && b <= 0xEC, b == 0xEE, b == 0xEF:
		u.need = 2
	case b == 0xED:
		u.need, u.hi = 2, 0x9F
	case b == 0xF0:
		u.need, u.lo = 3, 0x90
	case b >= 0xF1 && b <= 0xF3:
		u.need = 3
	case b == 0xF4:
		u.need, u.hi = 3, 0x8F
	default:
		return false
	}
	return true
}
