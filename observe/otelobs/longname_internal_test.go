package otelobs

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// A method name longer than 1024 bytes (a proxy forwards the :path it is sent, which may be
// megabytes) gets its call span's name made for the call, as a name past maxNames does: the
// tracer keeps neither, however few names came before.
func TestLongNamesAreNotKept(t *testing.T) {
	tr := New()
	tr.spanName("/s.v1.S/Short")
	before := testkit.Heap()
	for i := range 100 {
		name := "/s.v1.S/" + testkit.LongName("M", i, 64<<10)
		// Not written whole either: a span of every call would carry the megabytes.
		if got := tr.spanName(name); got != "bulwark "+observe.Clip(name) {
			t.Fatalf("span name of long name %d: %.40q… (%d bytes), want the name clipped (observe.Clip)", i, got, len(got))
		}
	}
	grown := int64(testkit.Heap()) - int64(before)
	if n := tr.nnames.Load(); n != 1 {
		t.Errorf("the tracer keeps %d span names, want 1 (the short name's)", n)
	}
	if grown > 2<<20 {
		t.Errorf("100 long names kept %d bytes, want none", grown)
	}
}
