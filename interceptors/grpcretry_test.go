package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// Regression: the policies that watch a stream for its end (the suite's CallFinished, the
// breaker, the bulkhead, the deadline, the adaptive throttle) read the stream's Context as it
// opened, which commits a gRPC stream to its first attempt and so turned off gRPC's own
// retries of it (a service config's retry policy; transparent retries of a stream refused
// unprocessed). Under a suite without a retry policy of its own, a stream whose first attempt
// fails with a retryable status is retried by gRPC and succeeds: one OK CallFinished, one
// breaker success.
func TestStreamKeepsGRPCRetries(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CheckF: func(call int, st kycv1.LivenessService_CheckServer) error {
		if call == 1 {
			return unavailable()
		}
		return testkit.DrainCheck(st, 0.9)
	}})
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Breaker:          &breaker.Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Hour},
			Bulkhead:         &bulkhead.Config{MaxConcurrent: 1},
			Deadline:         &deadline.Config{Default: time.Minute, Max: time.Hour},
			AdaptiveThrottle: &throttle.Config{},
		}},
		Services: map[string]config.Service{svcLiveness: {Profile: "p"}},
	}
	rec, reg := &testkit.Recorder{}, &breaker.Registry{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithBreakerRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	const serviceConfig = `{"methodConfig": [{
		"name": [{"service": "kyc.v1.LivenessService"}],
		"retryPolicy": {"maxAttempts": 2, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
			"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}
	}]}`
	cc := srv.Dial(t, append(s.DialOptions(), grpc.WithDefaultServiceConfig(serviceConfig))...)
	e := &env{srv: srv, rec: rec, reg: reg, suite: s, live: kycv1.NewLivenessServiceClient(cc)}
	if _, err := e.check(context.Background(), 2); err != nil {
		t.Fatalf("Check = %v, want gRPC's retry to succeed", err)
	}
	if n := srv.Calls(testkit.MethodCheck); n != 2 {
		t.Fatalf("the server saw %d attempts, want 2", n)
	}
	if evs := rec.Events(observe.CallFinished); len(evs) != 1 || evs[0].Code != grpccodes.OK {
		t.Fatalf("CallFinished events %+v, want one OK", evs)
	}
	b, _ := reg.Lookup(svcLiveness)
	if st := b.Stats(); st.Calls != 1 || st.Successes != 1 {
		t.Fatalf("breaker stats = %+v, want one success", st)
	}
}
