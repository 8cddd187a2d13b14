package http1

import "time"

// MinRate holds a request body to a minimum rate over a sliding window, as
// a deadline: the time by which more bytes are due. It starts Window after
// the first read; each byte received moves it on by 1/rate, but never
// further than Window past the time it arrived. A client is thus allowed
// at most Window of credit: one that sends a megabyte at once and then a
// byte every few seconds is behind again about Window later, instead of
// living off the megabyte for as long as it would have paid for at rate
// (the average since the start). Both engines' body readers use it: the
// HTTP/1.x engine and the front's HTTP/2 stream reader.
type MinRate struct {
	nsPerByte float64
	window    time.Duration
	due       time.Time
}

// NewMinRate returns a MinRate of bytesPerSec over window; bytesPerSec <= 0
// gives one that never binds.
func NewMinRate(bytesPerSec int64, window time.Duration) MinRate {
	if bytesPerSec <= 0 {
		return MinRate{}
	}
	return MinRate{nsPerByte: 1e9 / float64(bytesPerSec), window: window}
}

// On reports whether the rate binds at all.
func (m *MinRate) On() bool { return m.nsPerByte > 0 }

// Due returns the deadline for the next bytes, starting the clock at now
// on the first call.
func (m *MinRate) Due(now time.Time) time.Time {
	if m.due.IsZero() {
		m.due = now.Add(m.window)
	}
	return m.due
}

// Received credits n bytes that arrived at now.
func (m *MinRate) Received(n int, now time.Time) {
	if m.nsPerByte == 0 || n <= 0 {
		return
	}
	if m.due.IsZero() {
		m.due = now.Add(m.window)
	}
	a := float64(n) * m.nsPerByte
	if limit := now.Add(m.window); a >= float64(limit.Sub(m.due)) {
		m.due = limit // at most window of credit
		return
	}
	m.due = m.due.Add(time.Duration(a))
}
