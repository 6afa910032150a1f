package interceptors_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// requestNumber numbers a request over its call from the grpc-previous-rpc-attempts it
// carries (1 for the first).
func requestNumber(ctx context.Context) int {
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get(hedge.PreviousAttemptsKey)
	if len(v) == 0 {
		return 1
	}
	n, _ := strconv.Atoi(v[len(v)-1])
	return n + 1
}

// hedgedEnv is a suite on clk whose face match and liveness profile is a retry of
// retryAttempts (none: no retry section) with a 10ms backoff around a hedge of 2 attempts
// 20ms apart, and nothing else. Calls get a caller deadline well inside the budget, so that
// no deadline of the suite's is a timer of clk.
func hedgedEnv(t *testing.T, clk *clocktest.Fake, retryAttempts int, srv *testkit.Server) *env {
	t.Helper()
	p := config.Profile{Hedge: &hedge.Config{Delay: hedgeDelay, MaxAttempts: 2}}
	if retryAttempts > 0 {
		p.Retry = &retry.Config{MaxAttempts: retryAttempts, InitialBackoff: 10 * time.Millisecond, Jitter: retry.JitterNone}
	}
	cfg := &config.Config{
		Budget:   time.Hour,
		Profiles: map[string]config.Profile{"hedged": p},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "hedged"}, svcLiveness: {Profile: "hedged"}},
	}
	return newEnv(t, cfg, srv, interceptors.WithClock(clk))
}

const hedgeDelay = 20 * time.Millisecond

// TestCallFinishedCountsHedgedRequests: a retry of 2 attempts around a hedge of 2, every
// request failing, sends 4 requests. CallFinished's Attempt (attempts made), like
// AttemptFinished's numbers and the retry loop's counts, is the requests sent: 4, not the
// loop's 2 rounds. Each round's first request waits for its hedge; the hedge fails with a
// RetryInfo of 10ms, so the round returns its failure: RetryScheduled names request 2.
func TestCallFinishedCountsHedgedRequests(t *testing.T) {
	clk := clocktest.New(time.Now())
	arrivals := make(chan int, 8)
	var (
		mu     sync.Mutex
		hedged = map[int]chan struct{}{}
	)
	hedgeOf := func(k int) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := hedged[k]; !ok {
			hedged[k] = make(chan struct{})
		}
		return hedged[k]
	}
	srv := &testkit.Server{CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		k := requestNumber(ctx)
		arrivals <- k
		if k%2 == 1 {
			select {
			case <-hedgeOf(k + 1):
			case <-ctx.Done():
			}
			return nil, status.Error(grpccodes.Unavailable, "down")
		}
		close(hedgeOf(k))
		st, _ := status.New(grpccodes.Unavailable, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(10 * time.Millisecond)})
		return nil, st.Err()
	}}
	scheduled := make(chan struct{}, 4)
	e := hedgedEnv(t, clk, 2, srv)
	ctx, cancel := context.WithTimeout(observe.WithCallSink(context.Background(), observe.SinkFunc(func(ev observe.Event) {
		if ev.Kind == observe.RetryScheduled {
			scheduled <- struct{}{}
		}
	})), time.Minute)
	defer cancel()
	var info retry.Info
	done := make(chan error, 1)
	go func() {
		_, err := e.face.Compare(ctx, &kycv1.CompareRequest{}, retry.Report(&info))
		done <- err
	}()
	for round := range 2 {
		if k := <-arrivals; k != 2*round+1 {
			t.Fatalf("request %d first in round %d, want %d", k, round+1, 2*round+1)
		}
		clk.Advance(hedgeDelay) // the hedging timer was armed before the round's first request went
		if k := <-arrivals; k != 2*round+2 {
			t.Fatalf("hedge %d in round %d, want %d", k, round+1, 2*round+2)
		}
		if round == 0 {
			<-scheduled
			clk.BlockUntil(1)
			clk.Advance(10 * time.Millisecond)
		}
	}
	if err := <-done; status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	if ev := e.rec.Events(observe.CallFinished); len(ev) != 1 || ev[0].Attempt != 4 {
		t.Errorf("CallFinished = %+v, want one, attempt 4 (the requests sent)", ev)
	}
	if ev := e.rec.Events(observe.RetriesExhausted); len(ev) != 1 || ev[0].Attempt != 4 {
		t.Errorf("RetriesExhausted = %+v, want one, attempt 4", ev)
	}
	if ev := e.rec.Events(observe.RetryScheduled); len(ev) != 1 || ev[0].Attempt != 2 {
		t.Errorf("RetryScheduled = %+v, want one, attempt 2 (the request whose failure round 1 returned)", ev)
	}
	if info.Attempts != 4 {
		t.Errorf("retry.Info.Attempts = %d, want 4", info.Attempts)
	}
	if got := len(e.rec.Events(observe.AttemptFinished)); got != 4 {
		t.Errorf("%d AttemptFinished, want 4", got)
	}
}

// TestCallFinishedCountsHedgedStream: a client stream whose first attempt stalls and whose
// hedge answers sent 2 requests; its CallFinished says 2 attempts, and 2 AttemptFinished
// report them, with a retry section around the hedge and without one, and with call options
// of the caller's beyond those the suite holds beside its Round without a slice (see
// hedgedStream).
func TestCallFinishedCountsHedgedStream(t *testing.T) {
	for _, tt := range []struct{ attempts, opts int }{{0, 0}, {0, 6}, {2, 0}} {
		attempts := tt.attempts
		t.Run("retry_attempts_"+strconv.Itoa(attempts)+"_options_"+strconv.Itoa(tt.opts), func(t *testing.T) {
			clk := clocktest.New(time.Now())
			arrivals := make(chan int, 4)
			srv := &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
				k := requestNumber(st.Context())
				arrivals <- k
				if k == 1 {
					<-st.Context().Done() // stalls until the hedge wins
					return st.Context().Err()
				}
				return testkit.DrainCheck(st, 0.9)
			}}
			e := hedgedEnv(t, clk, attempts, srv)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var opts []grpc.CallOption
			for range tt.opts {
				opts = append(opts, grpc.MaxCallRecvMsgSize(1<<20))
			}
			st, err := e.live.Check(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send(&kycv1.CheckRequest{Image: []byte{1}}); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := st.CloseAndRecv()
				done <- err
			}()
			<-arrivals
			clk.BlockUntil(1) // the hedging timer, armed as the reply phase begins
			clk.Advance(hedgeDelay)
			if k := <-arrivals; k != 2 {
				t.Fatalf("request %d, want the hedge, 2", k)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if ev := e.rec.Events(observe.CallFinished); len(ev) != 1 || ev[0].Attempt != 2 {
				t.Fatalf("CallFinished = %+v, want one, attempt 2 (the requests sent)", ev)
			}
			if ev := e.rec.Events(observe.AttemptFinished); len(ev) != 2 {
				t.Fatalf("%d AttemptFinished, want 2 (one a request): %+v", len(ev), ev)
			}
		})
	}
}
