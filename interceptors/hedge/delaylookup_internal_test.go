package hedge

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// Policy.Delay answers for a name no call has used yet without learning it: asking about many
// names (Explain, a caller listing methods, names from input) keeps nothing, and takes none of
// the estimators of their own the first maxLearnt names get. It used to make the name's state,
// an estimator of Window samples included, on every new name asked about.
func TestDelayOfAnUnknownNameKeepsNothing(t *testing.T) {
	p, err := New(Config{Percentile: 0.95, Delay: 40 * time.Millisecond, MinDelay: 50 * time.Millisecond, Idempotent: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if got, want := p.Delay("/asked.S/M"+strconv.Itoa(i)), 50*time.Millisecond; got != want {
			t.Fatalf("Delay of a name not yet called = %v, want %v (Delay within [MinDelay, MaxDelay])", got, want)
		}
	}
	if got := p.Delay(strings.Repeat("x", 2000)); got != 50*time.Millisecond {
		t.Errorf("Delay of a name too long to keep = %v, want 50ms", got)
	}
	if n := p.methods.Len(); n != 0 {
		t.Errorf("the policy keeps %d names after Delay was asked about 100, want 0", n)
	}
	if n := p.learnt.Load(); n != 0 {
		t.Errorf("%d estimators made by Delay, want 0", n)
	}
	// Past the first maxLearnt names, a new name would share the others' estimator.
	p.learnt.Store(maxLearnt)
	others := newEstimator(p.Config())
	others.delay.Store(int64(80 * time.Millisecond))
	p.others.Store(others)
	if got := p.Delay("/past.the.Learnt/M"); got != 80*time.Millisecond {
		t.Errorf("Delay of a new name past the first %d = %v, want the shared 80ms", maxLearnt, got)
	}
	// A name a call used answers with what it learnt.
	p.method(compare).est.delay.Store(int64(70 * time.Millisecond))
	if got := p.Delay(compare); got != 70*time.Millisecond {
		t.Errorf("Delay of a called name = %v, want its learnt 70ms", got)
	}
}
