package breaker

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// A call of a name too long to keep (grpcmethod.MaxKeptName) finds the breaker of such names
// that the registry holds already without allocating: with ScopeMethod, the name of its
// service's breaker of long names ("/<service>/*") was made on every call.
func TestLongNameFindsItsSharedBreakerWithoutAllocating(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scope  Scope
		method string
	}{
		{"method", ScopeMethod, "/s.v1.S/" + testkit.LongName("M", 1, 64<<10)},
		{"method of a long service", ScopeMethod, "/" + testkit.LongName("svc", 1, 64<<10) + "/M"},
		{"service", ScopeService, "/" + testkit.LongName("svc", 1, 64<<10) + "/M"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reg Registry
			clk := clocktest.New(time.Unix(1700000000, 0))
			ic, err := UnaryClientInterceptor(Config{Scope: tc.scope, ConsecutiveFailures: 2, RecoveryTimeout: time.Hour}, WithRegistry(&reg), WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			succeed := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
			ctx := context.Background()
			if err := ic(ctx, tc.method, nil, nil, nil, succeed); err != nil { // makes the shared breaker
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(100, func() {
				if err := ic(ctx, tc.method, nil, nil, nil, succeed); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("a call of a long name through the registry's breaker of long names: %v allocs, want 0", allocs)
			}
		})
	}
}
