package server

import (
	"slices"
	"testing"
)

func TestStackRunsNewestFirst(t *testing.T) {
	var s stack
	var got []string
	for _, n := range []string{"logs", "pool", "listeners"} {
		s.push(func() { got = append(got, n) })
	}
	s.run()
	if want := []string{"listeners", "pool", "logs"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	s.run() // empty now: nothing runs twice
	if len(got) != 3 {
		t.Errorf("a cleanup ran twice: %v", got)
	}
}

// A cleanup that pushes another: the new one runs next, before older ones.
func TestStackPushWhileRunning(t *testing.T) {
	var s stack
	var got []string
	s.push(func() { got = append(got, "first pushed") })
	s.push(func() {
		got = append(got, "outer")
		s.push(func() { got = append(got, "inner") })
	})
	s.run()
	if want := []string{"outer", "inner", "first pushed"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
