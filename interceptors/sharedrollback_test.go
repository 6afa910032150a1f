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

// A service whose chain is built on its first call (no descriptor, no methods named) keeps its
// rate limiter in the suite's cache across reloads, with the shared bucket it took. A reload
// that changes the shared bucket's rate replaces the bucket; one that rolls the rate back
// replaces it again. The lazy service, not called in between, then found its old limiter's
// fingerprint matching again and took it back, with the first bucket: it no longer shared the
// bucket of the eagerly built service, and the two together let twice the configured rate
// through.
func TestRolledBackSharedBucketIsSharedByLazyChains(t *testing.T) {
	const lazy = "test.v1.LazyShared"
	const lazyMethod = "/" + lazy + "/Do"
	eager := "/" + svcFaceMatch + "/Compare"
	cfg := func(rate float64) *config.Config {
		return &config.Config{
			Profiles: map[string]config.Profile{"p": {RateLimit: &ratelimit.Config{Rate: rate, Burst: 1, Shared: "b"}}},
			Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}, lazy: {Profile: "p"}},
		}
	}
	clk := clocktest.New(time.Unix(1700000000, 0))
	s, err := interceptors.New(cfg(1), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), lazyMethod, nil, nil, nil, ok.Invoke); err != nil {
		t.Fatalf("first call of the lazy service: %v", err)
	}
	clk.Advance(time.Second) // the bucket holds its one token again

	// The rate goes up and back; the lazy service is not called in between.
	if err := s.Reload(cfg(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(cfg(1)); err != nil {
		t.Fatal(err)
	}
	// The eager service takes the shared bucket's one token: the lazy service finds it empty.
	if err := s.Unary()(context.Background(), eager, nil, nil, nil, ok.Invoke); err != nil {
		t.Fatalf("eager service's call: %v", err)
	}
	if err := s.Unary()(context.Background(), lazyMethod, nil, nil, nil, ok.Invoke); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("lazy service's call after the eager one took the shared bucket's one token: %v, want ratelimit.ErrLimited", err)
	}
}
