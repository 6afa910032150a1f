package otelobs_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const checkSpanName = "bulwark " + testkit.MethodCheck

// A stream refused at open by an open breaker is a rejected call: its span must carry the
// bulwark.rejected event and attributes, as a rejected unary call's does.
func TestRejectedStreamMarksTheCall(t *testing.T) {
	srv := &testkit.Server{CheckF: func(int, kycv1.LivenessService_CheckServer) error {
		return status.Error(grpccodes.Unavailable, "down")
	}}
	e := newEnv(t, config.Profile{Retry: quickRetry(1), Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour}}, srv)
	ctx, parent := e.tp.Tracer("test").Start(context.Background(), "verification")
	st, err := e.live.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CloseAndRecv(); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("first stream: %v", err)
	}
	_, err = e.live.Check(ctx)
	parent.End()
	var rej *codes.Rejection
	if !errors.As(err, &rej) || rej.Policy != "breaker" {
		t.Fatalf("second stream: %v, want the breaker's rejection", err)
	}
	var calls int
	for _, s := range e.exp.GetSpans() {
		if s.Name != checkSpanName {
			continue
		}
		calls++
		if calls != 2 {
			continue
		}
		wantAttr(t, "rejected stream", s.Attributes, otelobs.KeyClass, "rejected")
		wantAttr(t, "rejected stream", s.Attributes, otelobs.KeyRejectedBy, "breaker")
		wantAttr(t, "rejected stream", s.Attributes, otelobs.KeyReason, breaker.ReasonCircuitOpen)
		if n := len(events(s, otelobs.EventRejected)); n != 1 {
			t.Errorf("%d rejected events on the rejected stream's span, want 1", n)
		}
	}
	if calls != 2 {
		t.Fatalf("%d call spans of Check, want 2", calls)
	}
}

// A call whose attempt panics still ends: the panic goes on to the caller, and the call's span
// must end (with an error status), not stay open forever.
func TestPanickingCallEndsItsSpan(t *testing.T) {
	boom := grpc.WithChainUnaryInterceptor(func(context.Context, string, any, any, *grpc.ClientConn, grpc.UnaryInvoker, ...grpc.CallOption) error {
		panic("codec exploded")
	})
	e := newEnv(t, config.Profile{Retry: quickRetry(2)}, &testkit.Server{}, boom)
	ctx, parent := e.tp.Tracer("test").Start(context.Background(), "verification")
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		_, _ = e.face.Compare(ctx, &kycv1.CompareRequest{})
	}()
	parent.End()
	spans := e.exp.GetSpans()
	for _, s := range spans {
		if s.Name == callSpanName {
			return
		}
	}
	t.Fatalf("spans %v: the call span never ended", names(spans))
}

// A stream whose caller cancels it while reading it (RecvMsg is blocked, then returns
// Canceled) has been read to its end: its call span must end, every time.
func TestCanceledStreamEndsItsSpan(t *testing.T) {
	const streams = 10
	entered := make(chan struct{}, streams)
	srv := &testkit.Server{CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
		entered <- struct{}{}
		<-st.Context().Done()
		return st.Context().Err()
	}}
	e := newEnv(t, config.Profile{Retry: quickRetry(1)}, srv)
	for range streams {
		cctx, cancel := context.WithCancel(context.Background())
		st, err := e.live.Check(cctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&kycv1.CheckRequest{}); err != nil {
			t.Fatal(err)
		}
		<-entered
		go func() { time.Sleep(5 * time.Millisecond); cancel() }()
		if err := st.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Canceled {
			t.Fatalf("RecvMsg: %v, want Canceled", err)
		}
	}
	// The canceled RecvMsg reported the end, CallFinished and the span with it, before it returned.
	ended := 0
	for _, s := range e.exp.GetSpans() {
		if s.Name == checkSpanName {
			ended++
		}
	}
	if ended != streams {
		t.Fatalf("%d of %d canceled streams' call spans ended, want all", ended, streams)
	}
}

// Retry around hedge: the call span's winner is numbered over the call, and its attempts,
// retries and hedges are each recorded once, in order.
func TestHedgeWinnerUnderRetry(t *testing.T) {
	srv := &testkit.Server{CompareF: func(ctx context.Context, n int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		switch n {
		case 1:
			time.Sleep(40 * time.Millisecond)
			return nil, status.Error(grpccodes.Unavailable, "slow then down")
		case 2:
			return nil, status.Error(grpccodes.Unavailable, "down")
		case 3:
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return &kycv1.CompareResponse{Similarity: 0.9}, nil
	}}
	e := newEnv(t, config.Profile{Retry: quickRetry(3), Hedge: &hedge.Config{MaxAttempts: 2, Delay: 10 * time.Millisecond}}, srv)
	spans, err := e.compare(t)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	call := find(t, spans, callSpanName)
	wantAttr(t, "call", call.Attributes, otelobs.KeyHedgeWinner, int64(4))
	wantAttr(t, "call", call.Attributes, otelobs.KeyClass, "success")
	var nums []int64
	for _, ev := range events(call, otelobs.EventAttempt) {
		v, _ := attr(ev.Attributes, otelobs.KeyAttempt)
		nums = append(nums, v.AsInt64())
	}
	slices.Sort(nums)
	if !slices.Equal(nums, []int64{1, 2, 3, 4}) {
		t.Errorf("attempt events %v, want 1..4 once each", nums)
	}
	var hedges []int64
	for _, ev := range events(call, otelobs.EventHedge) {
		v, _ := attr(ev.Attributes, otelobs.KeyAttempt)
		hedges = append(hedges, v.AsInt64())
	}
	if !slices.Equal(hedges, []int64{2, 4}) {
		t.Errorf("hedge events %v, want [2 4]", hedges)
	}
	if n := len(events(call, otelobs.EventRetry)); n != 1 {
		t.Errorf("%d retry events, want 1", n)
	}
	t.Logf("call attrs: %v", call.Attributes)
}
