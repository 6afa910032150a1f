package interceptors_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A chain built on a method's first call (a configured service without methods named or a
// registered descriptor) is not rebuilt by a reload. When the reload changes its breaker and
// bulkhead, Levels must not go on reading the old ones, which no chain of the new
// configuration can use: the old breaker's "open" and the old bulkhead's 4 slots were shown
// until the service's next call built the new ones.
func TestLevelsAfterReloadOfALazyChain(t *testing.T) {
	const svc = "a.v1.Lazy"
	cfg := func(failures, slots int) *config.Config {
		return &config.Config{
			Profiles: map[string]config.Profile{"p": {
				Breaker:  &breaker.Config{ConsecutiveFailures: failures},
				Bulkhead: &bulkhead.Config{MaxConcurrent: slots},
			}},
			Services: map[string]config.Service{svc: {Profile: "p"}},
		}
	}
	s, err := interceptors.New(cfg(1, 4))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	levels := func() map[observe.LevelKind]observe.Level {
		out := map[observe.LevelKind]observe.Level{}
		for l := range s.Levels {
			if l.Service == svc {
				out[l.Kind] = l
			}
		}
		return out
	}
	if got := levels(); got[observe.LevelBreakerState].State != "open" || got[observe.LevelCapacity].Value != 4 {
		t.Fatalf("before the reload: %+v, want the breaker open and 4 slots", got)
	}

	if err := s.Reload(cfg(2, 8)); err != nil {
		t.Fatal(err)
	}
	for k, l := range levels() {
		t.Errorf("after a reload that changed them, Levels reads the old objects: %v %+v", k, l)
	}

	inv := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke); err != nil {
		t.Fatal(err)
	}
	if got := levels(); got[observe.LevelBreakerState].State != "closed" || got[observe.LevelCapacity].Value != 8 {
		t.Fatalf("after the next call: %+v, want a closed breaker and 8 slots", got)
	}

	// A reload that changes neither keeps them, the breaker's state included.
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	if err := s.Reload(cfg(2, 8)); err != nil {
		t.Fatal(err)
	}
	if got := levels(); got[observe.LevelBreakerState].State != "open" || got[observe.LevelCapacity].Value != 8 {
		t.Fatalf("after a reload that changed nothing: %+v, want the breaker still open and 8 slots", got)
	}
}
