package otelobs

import (
	"strconv"
	"testing"
)

// The tracer keeps the span names of the first maxNames methods and no more: a method past
// them gets its name made for the call, the right name all the same.
func TestSpanNamesBounded(t *testing.T) {
	tr := New()
	for i := range maxNames + 10 {
		m := "/s.v1.S/M" + strconv.Itoa(i)
		if got := tr.spanName(m); got != "bulwark "+m {
			t.Fatalf("span name of %s = %q, want %q", m, got, "bulwark "+m)
		}
	}
	if n := tr.nnames.Load(); n != maxNames {
		t.Errorf("the tracer keeps %d span names, want maxNames, %d", n, maxNames)
	}
}
