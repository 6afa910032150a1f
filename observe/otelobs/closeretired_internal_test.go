package otelobs

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/breakerstates"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A suite's Close reports its breakers retired, as a reload reports those it replaces: the
// tracer drops the state it kept of the closed suite's breaker, and keeps the state of the
// breaker of a suite built after it under the same name.
func TestCloseForgetsTheClosedSuitesBreaker(t *testing.T) {
	const svc = "test.v1.Closed"
	clk := clocktest.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour}}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	tr := New()
	suite := func() *interceptors.Suite {
		s, err := interceptors.New(cfg, interceptors.WithObserver(tr), interceptors.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	stateAt := func() (breakerstates.Seen, bool) { return tr.breakers.Lookup(svc, "") }

	old := suite()
	_ = old.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	if seen, ok := stateAt(); !ok || seen.State != "open" {
		t.Fatalf("after the old suite's breaker opened: kept %+v (%v), want open", seen, ok)
	}
	clk.Advance(time.Second)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if seen, ok := stateAt(); ok {
		t.Fatalf("after the old suite's Close: kept %+v, want its breaker's state dropped", seen)
	}

	clk.Advance(time.Second)
	s := suite()
	t.Cleanup(func() { _ = s.Close() })
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	if seen, ok := stateAt(); !ok || seen.State != "open" || !seen.At.Equal(clk.Now()) {
		t.Fatalf("after the new suite's breaker opened: kept %+v (%v), want open at %v", seen, ok, clk.Now())
	}
}
