package wire

import (
	"encoding/binary"
	"errors"
)

var errBadRevoked = errors.New("wire: bad revoked payload")

// DecodeRevoked decodes the payload of a Revoked frame: the marshal
// (version 2) encoding of (from, [id, ...]) with small non-negative ints.
func DecodeRevoked(p []byte) (from uint32, ids []uint32, err error) {
	d := decoder{p: p}
	if n, ok := d.seqHeader(mTuple); !ok || n != 2 {
		return 0, nil, errBadRevoked
	}
	v, ok := d.u32()
	if !ok {
		return 0, nil, errBadRevoked
	}
	n, ok := d.seqHeader(mList)
	if !ok {
		return 0, nil, errBadRevoked
	}
	for i := 0; i < n; i++ {
		id, ok := d.u32()
		if !ok {
			return 0, nil, errBadRevoked
		}
		ids = append(ids, id)
	}
	return v, ids, nil
}

// u32 consumes a marshal int that fits a request id.
func (d *decoder) u32() (uint32, bool) {
	if d.i+5 > len(d.p) || d.p[d.i]&^0x80 != mInt {
		return 0, false
	}
	v := int32(binary.LittleEndian.Uint32(d.p[d.i+1:]))
	d.i += 5
	if v < 0 {
		return 0, false
	}
	return uint32(v), true
}
