package interceptors_test

import (
	"strconv"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/front"
)

// The suite finds a method's chain first in a front table slot chosen by the address of the
// method name (internal/front). Two methods whose names share a slot take it in turn: each
// call still gets its own method's chain, and no chain is built again.
func TestChainFrontSlotSharedByTwoMethods(t *testing.T) {
	const svc = "test.v1.Front"
	methods := map[string]config.Method{}
	names := make([]string, 0, 200)
	for i := range 200 {
		m := "M" + strconv.Itoa(i)
		methods[m] = config.Method{Overrides: config.Overrides{
			Retry: config.Set(retry.Config{MaxAttempts: 2 + i%3}, "max_attempts")}}
		names = append(names, "/"+svc+"/"+m)
	}
	cfg := &config.Config{Services: map[string]config.Service{svc: {Methods: methods}}}
	s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(new(breaker.Registry)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	a, b, ok := front.Colliding(names...)
	if !ok {
		t.Fatal("no two method names share a front slot")
	}
	chains := interceptors.ChainCount(s)
	for i := range 6 {
		for _, n := range []string{a, b} {
			if got := interceptors.ChainMethod(s, n); got != n {
				t.Fatalf("round %d: the call of %s got the chain of %s", i, n, got)
			}
		}
	}
	if got := interceptors.ChainCount(s); got != chains {
		t.Fatalf("%d chains after the calls, %d before", got, chains)
	}
}
