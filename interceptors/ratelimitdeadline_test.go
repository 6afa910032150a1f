package interceptors_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// slowStore is a fleet-wide limiter whose store answers after the caller's deadline: as
// redislimit does then, Take returns the caller's context's error.
type slowStore struct{ clk *clocktest.Fake }

func (s slowStore) Take(ctx context.Context, _ time.Duration) (ratelimit.Decision, error) {
	s.clk.Advance(2 * time.Second) // the round trip outlives the call's deadline
	<-ctx.Done()
	return ratelimit.Decision{}, ctx.Err()
}

// A call whose deadline passes while the rate limiter below the breaker waits for a token (a
// slow fleet-wide store) never reached the service: the breaker must not count it as the
// service's failure, else a slow Redis opens the circuit of a healthy service.
func TestDeadlineInRateLimiterDoesNotTripBreaker(t *testing.T) {
	const svc = "kyc.v1.OCRService"
	clk := clocktest.New(time.Unix(1e9, 0))
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Breaker:   &breaker.Config{ConsecutiveFailures: 2, RecoveryTimeout: time.Hour},
			RateLimit: &ratelimit.Config{Rate: 5, Redis: &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}},
		}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Extract": {}}}},
	}
	factory := func(string, ratelimit.Config, ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
		return slowStore{clk}, nil, nil
	}
	s, err := interceptors.New(cfg, interceptors.WithClock(clk), interceptors.WithRemoteLimiter(factory))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inv := &testkit.CountingInvoker{}
	method := "/" + svc + "/Extract"
	for i := range 3 {
		ctx, cancel := clock.WithDeadline(context.Background(), clk, clk.Now().Add(time.Second))
		err := s.Unary()(ctx, method, nil, nil, nil, inv.Invoke)
		cancel()
		if err == nil {
			t.Fatalf("unary call %d: no error, want the deadline's", i+1)
		}
		desc := &grpc.StreamDesc{ServerStreams: true}
		ctx, cancel = clock.WithDeadline(context.Background(), clk, clk.Now().Add(time.Second))
		_, err = s.Stream()(ctx, desc, nil, method, func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			t.Fatal("the stream reached the service")
			return nil, nil
		})
		cancel()
		if err == nil {
			t.Fatalf("stream %d: no error, want the deadline's", i+1)
		}
	}
	if n := inv.Count(method); n != 0 {
		t.Fatalf("the service was called %d times", n)
	}
	b, ok := s.Breakers().Lookup(svc)
	if !ok {
		t.Fatal("no breaker")
	}
	if st := b.Stats(); st.State != breaker.Closed || st.Failures != 0 {
		t.Fatalf("breaker %+v after calls that never reached the service, want closed with no failure", st)
	}
}
