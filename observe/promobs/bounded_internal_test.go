package promobs

import (
	"fmt"
	"testing"
)

// A name learnt before the bound keeps its own value while the bound is being reached: between
// the maker of the bound's last name (which brings the count to the bound) and the Flush that
// follows it on that goroutine, the name, still among the map's recent keys, was answered
// "other" by the count check on another goroutine. A chain's sink that learnt its method's
// series then (ForMethod) counted the method under OtherMethod for good.
func TestBoundedLabelKnownNameWhileTheBoundIsReached(t *testing.T) {
	var b boundedLabel
	// Learn names until one stays among the map's recent keys, as the bound's last name does
	// until its Flush; the bound is then the count of names learnt.
	last := ""
	for i := 0; last == "" && i < 1000; i++ {
		n := fmt.Sprintf("/s/m%d", i)
		b.value(n, MaxMethods, OtherMethod)
		if _, ok := b.values.Load(n); !ok {
			last = n
		}
	}
	if last == "" {
		t.Fatal("every name learnt went straight to the read-only map: the test sets up nothing")
	}
	bound := b.count.Load()
	if got := b.value(last, bound, OtherMethod); got != last {
		t.Fatalf("value(%q), the bound's last name, before its Flush = %q; want its own", last, got)
	}
	if got := b.value("/s/new", bound, OtherMethod); got != OtherMethod {
		t.Fatalf("value of a name past the bound = %q; want %q", got, OtherMethod)
	}
}
