package hedge

import (
	"strconv"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
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

// A name too long to be kept (grpcmethod.MaxKeptName; a proxy forwards a :path of megabytes)
// is not kept by the policy and learns no delay of its own, however many calls bring such
// names: they share the estimator of the names past maxLearnt, and take none of the first
// maxLearnt from the names of the API.
func TestLongNamesAreNotKeptNorLearnt(t *testing.T) {
	p, err := New(Config{MaxAttempts: 2, Percentile: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxLearnt + 100 {
		name := testkit.LongName("/test.v1.Proxy/M", i, grpcmethod.MaxKeptName+1)
		if m := p.method(name); m.est == nil || m.Name != name {
			t.Fatalf("long name %d: estimator %p, name of %d bytes", i, m.est, len(m.Name))
		}
	}
	if n := p.methods.Len(); n != 0 {
		t.Errorf("the policy keeps %d long names, want none", n)
	}
	if n := p.learnt.Load(); n != 0 {
		t.Errorf("long names took %d of the estimators of their own, want none", n)
	}
	if m := p.method("/test.v1.Proxy/Short"); m.est == p.others.Load() {
		t.Error("a name of the API shares the estimator of the names past the bound after long names")
	}
}
