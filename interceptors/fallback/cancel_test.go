package fallback_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// TestCallerCancelDuringRetryIsNotReplaced: a caller who cancels while the retry policy inside
// the fallback sleeps gets the retry's last error back (Unavailable, not Canceled: retry
// returns the error it has). The call ended because the caller canceled, which the fallback
// must not answer by default; it used to see only Unavailable, serve the degraded reply and
// emit FallbackServed.
func TestCallerCancelDuringRetryIsNotReplaced(t *testing.T) {
	clk := clocktest.New(time.Time{})
	rp, err := retry.New(retry.Config{MaxAttempts: 3, InitialBackoff: time.Second, Jitter: retry.JitterNone, Idempotent: true}, retry.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	rec := &testkit.Recorder{}
	f, err := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded), fallback.WithObserver(rec), fallback.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	failing := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	inner := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return rp.Unary()(ctx, method, req, reply, cc, failing, opts...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	reply := &kycv1.CompareResponse{}
	go func() {
		done <- f.Unary()(ctx, testkit.MethodCompare, &kycv1.CompareRequest{}, reply, nil, inner)
	}()
	clk.BlockUntil(1) // the retry's backoff sleep
	cancel()
	err = <-done
	if err == nil {
		t.Fatalf("a canceled call got the fallback %v (Served %d, events %v); want its error", reply, f.Served(), rec.Events(observe.FallbackServed))
	}
	if errors.Is(err, fallback.ErrReplyType) {
		t.Fatalf("err = %v", err)
	}
	if f.Served() != 0 || rec.Count(observe.FallbackServed) != 0 {
		t.Errorf("Served %d, events %d; want none", f.Served(), rec.Count(observe.FallbackServed))
	}
}

// TestCallerCancelIsClassCanceled: whatever error reaches the fallback of a call whose caller
// canceled, the call is judged as canceled: a stream that could not be opened then fails at
// once with its error, and a fallback that chose the canceled class answers with code Canceled.
func TestCallerCancelIsClassCanceled(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	f, err := fallback.New(testkit.MethodCheck, fallback.Config{}, fallback.Func(func(context.Context, string, any, error) proto.Message {
		return &kycv1.CheckResponse{}
	}))
	if err != nil {
		t.Fatal(err)
	}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return nil, unavailable
	}
	cs, err := f.Stream()(canceled, &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	if cs != nil || status.Code(err) != grpccodes.Unavailable {
		t.Errorf("Stream = %v, %v; want the Unavailable error of a canceled call", cs, err)
	}
	if err := f.Recover(canceled, testkit.MethodCheck, nil, &kycv1.CheckResponse{}, unavailable); err != unavailable {
		t.Errorf("Recover = %v, want the original error", err)
	}
	if f.Served() != 0 {
		t.Errorf("Served = %d, want 0", f.Served())
	}

	rec := &testkit.Recorder{}
	chose, err := fallback.New(testkit.MethodCompare, fallback.Config{OnClasses: []codes.Class{codes.Canceled}}, fallback.Message(degraded), fallback.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	if err := chose.Recover(canceled, testkit.MethodCompare, nil, &kycv1.CompareResponse{}, unavailable); err != nil {
		t.Fatalf("Recover = %v, want the fallback: the canceled class is chosen", err)
	}
	if evs := rec.Events(observe.FallbackServed); len(evs) != 1 || evs[0].Code != grpccodes.Canceled || evs[0].Class != codes.Canceled {
		t.Errorf("events = %v, want one FallbackServed with code Canceled, class canceled", evs)
	}
}
