package config_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// TestServiceConfigRetriesEveryNamedMethod: gRPC retries (and gRFC A6 hedges) every method a
// methodConfig names, whatever its descriptor says of idempotency; bulwark retries and hedges
// only methods declared NO_SIDE_EFFECTS or IDEMPOTENT unless the policy is idempotent. The
// converted policies were not, so a client that moved over (grpc.WithDisableRetry and the
// suite) stopped retrying every method without an idempotency_level: most of them.
func TestServiceConfigRetriesEveryNamedMethod(t *testing.T) {
	cfg, _, err := config.ParseServiceConfig("a6.json", []byte(a6Retry))
	if err != nil {
		t.Fatal(err)
	}
	const method = "/grpc.testing.EchoService/Echo" // no descriptor linked: not declared safe
	p := cfg.Resolve(method)
	cl, err := p.NewClassifier()
	if err != nil {
		t.Fatal(err)
	}
	pol, err := retry.New(*p.Retry, retry.WithClassifier(cl), retry.WithRand(func() float64 { return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		calls++
		if calls < 3 {
			return status.Error(grpccodes.Unavailable, "down")
		}
		return nil
	}
	err = pol.Unary()(context.Background(), method, nil, nil, nil, invoker)
	if err != nil || calls != 3 {
		t.Fatalf("call = %v after %d attempts, want success at the 3rd, as gRPC's retryPolicy (maxAttempts 4, UNAVAILABLE) retries", err, calls)
	}

	cfg, _, err = config.ParseServiceConfig("a6.json", []byte(a6Hedging))
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Resolve(method).Hedge; h == nil || !h.Idempotent {
		t.Fatalf("hedge %+v, want idempotent: gRFC A6 hedges every method its hedgingPolicy names", h)
	}
}
