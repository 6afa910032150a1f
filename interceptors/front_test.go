package interceptors_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/front"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
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

// A name admitted while its service's methods had a part each, and past the bound once they
// share one chain, is kept by name with the suite's overflow chain, built for "/*/*". The
// front table must not hand that chain to a call of "/*/*" (the service "*", admitted, with a
// chain of its own) whose name's address shares the name's slot.
func TestFrontNeverServesAChainBuiltForAnotherName(t *testing.T) {
	star := strings.Clone("/*/*")
	var admitted string
	for i := range 10 * front.Slots {
		if n := "/test.v1.Front" + strconv.Itoa(i) + "/M"; func() bool { _, _, ok := front.Colliding(star, n); return ok }() {
			admitted = n
			break
		}
	}
	if admitted == "" {
		t.Fatal("no name shares a front slot with /*/*")
	}
	s := newClocked(t, scoped(breaker.ScopeService, "", ""), interceptors.WithUnlistedLimit(2))
	ok := &testkit.CountingInvoker{}
	call := func(m string) { _ = s.Unary()(context.Background(), m, nil, nil, nil, ok.Invoke) }
	call("/*/Foo") // admits the service *
	if err := s.Reload(scoped(breaker.ScopeMethod, "", "")); err != nil {
		t.Fatal(err)
	}
	call(admitted) // admits the name; the bound is reached
	if err := s.Reload(scoped(breaker.ScopeService, "", "")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		call(admitted) // the name's service is not admitted: the suite's overflow chain, kept by name
	}
	if got := interceptors.ChainMethod(s, admitted); got != "/*/*" {
		t.Fatalf("%s is served by the chain of %q, want the suite's overflow chain", admitted, got)
	}
	if interceptors.ChainOf(s, star) == interceptors.ChainOf(s, admitted) {
		t.Errorf("%s, a name of the admitted service *, is served by the suite's overflow chain, which the front table holds for %s", star, admitted)
	}
}
