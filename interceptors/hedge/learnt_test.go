package hedge

import (
	"strconv"
	"testing"
)

// A stream of distinct method names (a generic proxy, names from input) through one policy
// learns a delay of its own for the first maxLearnt of them only: the others share one
// estimator, so that a policy's estimators (Window latencies each) stay bounded whatever names
// calls bring, while every name keeps its own idempotency.
func TestDistinctNamesShareOneEstimatorPastTheBound(t *testing.T) {
	p, err := New(Config{MaxAttempts: 2, Percentile: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	const names = maxLearnt + 500
	ests := map[*estimator]bool{}
	for i := range names {
		m := p.method("/test.v1.Proxy/M" + strconv.Itoa(i))
		if m.est == nil {
			t.Fatalf("name %d has no estimator", i)
		}
		if m.Name != "/test.v1.Proxy/M"+strconv.Itoa(i) {
			t.Fatalf("name %d: its method is %q", i, m.Name)
		}
		ests[m.est] = true
	}
	if len(ests) > maxLearnt+1 {
		t.Errorf("%d distinct names made %d estimators, want at most %d (maxLearnt and one shared)", names, len(ests), maxLearnt+1)
	}
	if first := p.method("/test.v1.Proxy/M0"); first.est == p.method("/test.v1.Proxy/M"+strconv.Itoa(names-1)).est {
		t.Error("a name within the bound shares the estimator of the names past it")
	}
}
