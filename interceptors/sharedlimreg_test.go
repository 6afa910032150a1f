package interceptors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
)

// Suites that share a limiter registry (one per connection, loading one configuration) are
// each a user of their own: a suite that reloads a shared bucket's new rate before another
// does makes no conflict for the other, whose chains built on a first call take the bucket
// of its own configuration in force (the one its other chains hold) until it reloads too;
// then the two share one bucket again. Neither suite's reload of settings unchanged for it
// replaces the other's bucket.
func TestSuitesSharingALimiterRegistryReloadApart(t *testing.T) {
	cfg := func(rate float64) *config.Config {
		return &config.Config{Profiles: map[string]config.Profile{
			config.DefaultProfile: {RateLimit: &ratelimit.Config{Rate: rate, Shared: "x"}},
		}}
	}
	clk := clocktest.New(time.Unix(1700000000, 0)) // no refill while the test runs
	reg := ratelimit.NewRegistry(ratelimit.WithClock(clk))
	newSuite := func() *interceptors.Suite {
		s, err := interceptors.New(cfg(10), interceptors.WithLimiterRegistry(reg), interceptors.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := newSuite(), newSuite()
	ok := &testkit.CountingInvoker{}
	call := func(s *interceptors.Suite, method string) error {
		return s.Unary()(context.Background(), method, nil, nil, nil, ok.Invoke)
	}
	take := func(who string, s *interceptors.Suite, method string, n int) {
		t.Helper()
		for i := range n {
			if err := call(s, method); err != nil {
				t.Fatalf("%s: call %d of %s: %v, want a token", who, i+1, method, err)
			}
		}
	}
	calls := func(who string, s *interceptors.Suite, method string, n int) {
		t.Helper()
		take(who, s, method, n)
		if err := call(s, method); !errors.Is(err, ratelimit.ErrLimited) {
			t.Fatalf("%s: call %d of %s: %v, want the bucket empty", who, n+1, method, err)
		}
	}
	if err := call(b, "/test.v1.B/One"); err != nil { // b's bucket of 10: 9 left
		t.Fatal(err)
	}
	if err := a.Reload(cfg(20)); err != nil {
		t.Fatal(err)
	}
	take("a at rate 20", a, "/test.v1.A/One", 5)                          // a's bucket of 20: 15 left
	take("b at rate 10 after a's reload at 20", b, "/test.v1.BTwo/Do", 8) // b's: 1 left
	// b reloads its configuration unchanged: it keeps its bucket, and takes none from a.
	if err := b.Reload(cfg(10)); err != nil {
		t.Fatal(err)
	}
	take("a at rate 20 after b's reload at 10", a, "/test.v1.ATwo/Do", 5) // a's: 10 left
	calls("b still at rate 10", b, "/test.v1.BFour/Do", 1)
	if err := b.Reload(cfg(20)); err != nil {
		t.Fatal(err)
	}
	calls("b reloaded to rate 20, sharing a's bucket", b, "/test.v1.BThree/Do", 10)
	if err := call(a, "/test.v1.A/One"); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("a after b took the rest of the shared bucket: %v, want it empty", err)
	}
}
