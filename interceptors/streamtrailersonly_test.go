package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestTrailersOnlyHeaderThenCancel pins what the package documentation says of a stream the
// server fails at once (trailers-only, Unavailable) whose caller reads Header, which returns
// nil, nil as gRPC's does, and then cancels its context without a RecvMsg, through a chain
// without a retry section: the suite never sees the server's status (only RecvMsg returns
// it), so the stream is an abandoned one: its one attempt is reported Canceled, and no
// CallFinished is sent.
func TestTrailersOnlyHeaderThenCancel(t *testing.T) {
	cfg := &config.Config{
		Budget:   5 * time.Second,
		Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Hour}}},
		Services: map[string]config.Service{svcLiveness: {Profile: "p"}},
	}
	e := newEnv(t, cfg, &testkit.Server{CheckF: func(int, kycv1.LivenessService_CheckServer) error {
		return status.Error(grpccodes.Unavailable, "refused at once")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := e.live.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md, err := st.Header(); md != nil || err != nil {
		t.Fatalf("Header = %v, %v; want nil, nil (a trailers-only response)", md, err)
	}
	cancel()
	testkit.Eventually(t, "no AttemptFinished", func() bool { return len(e.rec.Events(observe.AttemptFinished)) > 0 })
	if ev := e.rec.Events(observe.AttemptFinished); len(ev) != 1 || ev[0].Code != grpccodes.Canceled {
		t.Fatalf("AttemptFinished %+v, want one: Canceled (the caller's, not the server's status)", ev)
	}
	if ev := e.rec.Events(observe.CallFinished); len(ev) != 0 {
		t.Fatalf("CallFinished %+v, want none (an abandoned stream)", ev)
	}
}
