package kyc_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// unaryConn is a grpc.ClientConnInterface that runs each unary call through a client
// interceptor to invoke, with no network: a suite's chain over a fake service.
type unaryConn struct {
	intercept grpc.UnaryClientInterceptor
	invoke    grpc.UnaryInvoker
}

func (c unaryConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.intercept(ctx, method, args, reply, nil, c.invoke, opts...)
}

func (unaryConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(grpccodes.Unimplemented, "no streams")
}

// TestRetriesCountTheRetriesMade: a service's retries in the summary are the retries the
// client made, not those it scheduled. In a batch of two verifications whose face-match calls
// each fail once, the first's retry is sent (the fake clock moved past its backoff) and
// answered; the batch is interrupted during the second's backoff, so its retry is never made.
// The summary counted the scheduled one as a retry: 2 retries for 3 attempts, 2 of them first
// attempts.
func TestRetriesCountTheRetriesMade(t *testing.T) {
	cfg, _, err := config.Parse("retries.yaml", []byte(`
profiles:
  once:
    retry: {max_attempts: 2, initial_backoff: 1s, max_backoff: 1s, jitter: none}
services:
  kyc.v1.FaceMatchService: {profile: once}
`))
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Time{})
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	counters := kyc.NewCounters()
	type scheduled struct {
		timers int // the fake clock's timers as the retry was scheduled, before its sleep
		delay  time.Duration
	}
	retries := make(chan scheduled, 2)
	sink := observe.Multi(counters, observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.RetryScheduled {
			retries <- scheduled{clk.Timers(), e.Delay}
		}
	}))
	suite, err := interceptors.New(cfg, interceptors.WithClock(clk), interceptors.WithObserver(sink),
		interceptors.WithRand(func() float64 { return 0 }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = suite.Close() }()
	var sent atomic.Int32 // face-match requests that reached the fake service
	fm := unaryConn{intercept: suite.Unary(), invoke: func(ctx context.Context, _ string, _, reply any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if sent.Add(1)%2 == 1 { // each verification's first attempt
			return status.Error(grpccodes.Unavailable, "replica restarting")
		}
		reply.(*kycv1.CompareResponse).Verdict = kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH
		return nil
	}}
	v := &kyc.Verifier{Liveness: instant{}, FaceMatch: kycv1.NewFaceMatchServiceClient(fm), OCR: instant{}}

	driven := make(chan struct{})
	go func() {
		defer close(driven)
		first := <-retries // the first verification's retry: let its backoff pass
		clk.BlockUntil(first.timers + 1)
		clk.Advance(first.delay)
		<-retries // the second's: interrupt the batch during its backoff
		interrupt()
	}()
	res := kyc.Batch{N: 2, Concurrency: 1}.RunResult(ctx, v)
	<-driven
	if !res.Interrupted || res.Arrivals[0] != kyc.ArrivalDone || res.Arrivals[1] != kyc.ArrivalCancelled {
		t.Fatalf("interrupted %v, arrivals %v: want the first done (1), the second cancelled (2)", res.Interrupted, res.Arrivals)
	}
	fmStats := kyc.SummarizeResult(res, counters).Services[kyc.KeyFaceMatch]
	if fmStats.Calls != 2 || fmStats.Attempts != 3 || fmStats.Retries != 1 || sent.Load() != 3 {
		t.Errorf("face match: %d calls, %d attempts, %d retries, %d requests sent; want 2 calls, 3 attempts, 1 retry (the one sent), 3 sent",
			fmStats.Calls, fmStats.Attempts, fmStats.Retries, sent.Load())
	}
}
