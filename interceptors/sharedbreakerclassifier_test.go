package interceptors_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	grpccodes "google.golang.org/grpc/codes"
)

// Two suites share a breaker registry and a service's breaker, with the same breaker settings
// but different classifiers. The breaker judged every outcome by the classifier of the suite
// that made it: the other suite's transient failures (to its own classifier) never opened it,
// and a classifier change of a suite that keeps the shared breaker (another holds it) did not
// take effect. Each suite's outcomes are judged by its own classifier.
func TestSharedBreakerJudgesEachSuiteByItsClassifier(t *testing.T) {
	cfg := func(business bool) *config.Config {
		c := shareReloadCfg(2)
		if business {
			p := c.Profiles["p"]
			p.Classifier = codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}}
			c.Profiles["p"] = p
		}
		return c
	}
	a, b, reg := sharingSuites(t, cfg(true), cfg(false))
	shared, _ := reg.Lookup(shareReloadSvc)

	// a's Unavailable is business to a: no failure.
	for range 2 {
		_ = shareReloadCall(a, unavailable())
	}
	if st := shared.Stats(); st.Failures != 0 || st.State != breaker.Closed {
		t.Fatalf("the shared breaker after a's 2 business Unavailable: %+v, want no failure, closed", st)
	}
	// b's Unavailable is transient to b: two in a row open the breaker, for a too.
	for range 2 {
		_ = shareReloadCall(b, unavailable())
	}
	if st := shared.Stats(); st.Failures != 2 || st.State != breaker.Open {
		t.Errorf("the shared breaker after b's 2 transient Unavailable: %+v, want 2 failures, open", st)
	}
	if err := shareReloadCall(a, nil); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("a's call after b's failures: %v, want breaker.ErrOpen", err)
	}

	// a's classifier changes to b's while b holds the breaker: a keeps it, and judges by its
	// new classifier.
	shared.Reset()
	if err := a.Reload(cfg(false)); err != nil {
		t.Fatal(err)
	}
	if held, _ := reg.Lookup(shareReloadSvc); held != shared {
		t.Fatalf("a's classifier change replaced the breaker b holds")
	}
	for range 2 {
		_ = shareReloadCall(a, unavailable())
	}
	if st := shared.Stats(); st.State != breaker.Open {
		t.Errorf("the shared breaker after a's 2 Unavailable, transient to its new classifier: %+v, want open", st)
	}
}
