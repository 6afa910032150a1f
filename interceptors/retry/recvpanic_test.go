package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recvPanicking is an attempt stream whose RecvMsg panics with "boom".
type recvPanicking struct{ *testkit.ScriptedStream }

func (recvPanicking) RecvMsg(any) error { panic("boom") }

// TestStreamRecvPanicReleases: when an attempt's RecvMsg panics, the panic goes on to the
// caller and the stream ends for good first, as when an attempt's open panics: the attempt's
// context and timeout and the budget's context and timer are released, instead of staying
// until the caller's context ends, and later calls return Internal.
func TestStreamRecvPanicReleases(t *testing.T) {
	clk := clocktest.New(time.Now())
	p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true, PerAttemptTimeout: 5 * time.Second, Budget: 10 * time.Second},
		retry.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	var opened context.Context
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opened = ctx
		return recvPanicking{testkit.NewScriptedStream(ctx, false)}, nil
	}
	cs, err := p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	if n := clk.Timers(); n != 2 {
		t.Fatalf("%d timers after the open, want 2 (the budget's, the attempt's timeout)", n)
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want the attempt's panic", v)
			}
		}()
		_ = cs.RecvMsg(new(kycv1.CheckResponse))
	}()
	if opened.Err() == nil {
		t.Error("the attempt's context is still live after its RecvMsg panicked")
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers still armed after the attempt's RecvMsg panicked, want 0", n)
	}
	if cs.Context().Err() == nil {
		t.Error("the stream's context is still live after its RecvMsg panicked")
	}
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Internal {
		t.Errorf("RecvMsg after the panic = %v, want Internal", err)
	}
}

// sendPanicking is an attempt stream whose SendMsg panics with "boom".
type sendPanicking struct{ *testkit.ScriptedStream }

func (sendPanicking) SendMsg(any) error { panic("boom") }

// TestStreamSendPanicReleases: when an attempt's SendMsg panics, the stream ends for good and
// releases what it holds before the panic goes on to the caller, as for a panic of its
// RecvMsg: nothing is left locked, the attempt's and the budget's contexts and timers are
// released, and RecvMsg then returns Internal.
func TestStreamSendPanicReleases(t *testing.T) {
	clk := clocktest.New(time.Now())
	p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true, PerAttemptTimeout: 5 * time.Second, Budget: 10 * time.Second},
		retry.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	var opened context.Context
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opened = ctx
		return sendPanicking{testkit.NewScriptedStream(ctx, false)}, nil
	}
	cs, err := p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want the attempt's panic", v)
			}
		}()
		_ = cs.SendMsg(&kycv1.CheckRequest{Index: 0})
	}()
	if opened.Err() == nil {
		t.Error("the attempt's context is still live after its SendMsg panicked")
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers still armed after the attempt's SendMsg panicked, want 0", n)
	}
	if cs.Context().Err() == nil {
		t.Error("the stream's context is still live after its SendMsg panicked")
	}
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Internal {
		t.Errorf("RecvMsg after the panic = %v, want Internal", err)
	}
}
