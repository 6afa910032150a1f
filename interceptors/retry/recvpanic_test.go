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
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// recvPanicking is an attempt stream whose RecvMsg panics with "boom".
type recvPanicking struct{ *testkit.ScriptedStream }

func (recvPanicking) RecvMsg(any) error { panic("boom") }

// sendPanicking is an attempt stream whose SendMsg panics with "boom".
type sendPanicking struct{ *testkit.ScriptedStream }

func (sendPanicking) SendMsg(any) error { panic("boom") }

// headerPanicking is an attempt stream whose Header panics with "boom".
type headerPanicking struct{ *testkit.ScriptedStream }

func (headerPanicking) Header() (metadata.MD, error) { panic("boom") }

// trailerPanicking is an attempt stream whose Trailer panics with "boom".
type trailerPanicking struct{ *testkit.ScriptedStream }

func (trailerPanicking) Trailer() metadata.MD { panic("boom") }

// closeSendPanicking is an attempt stream whose CloseSend panics with "boom".
type closeSendPanicking struct{ *testkit.ScriptedStream }

func (closeSendPanicking) CloseSend() error { panic("boom") }

// failedTrailerPanicking is an attempt stream that fails with Unavailable, a status the
// policy retries, and whose Trailer, which the retry loop reads for the server's pushback,
// panics with "boom".
type failedTrailerPanicking struct{ *testkit.ScriptedStream }

func (failedTrailerPanicking) RecvMsg(any) error {
	return status.Error(grpccodes.Unavailable, "down")
}

func (failedTrailerPanicking) Trailer() metadata.MD { panic("boom") }

// TestStreamAttemptPanicReleases: when an attempt's RecvMsg, SendMsg, Header, Trailer or
// CloseSend panics (the Trailer also as the retry loop reads it after a failure), the panic
// goes on to the caller and the stream ends for good first, as when an attempt's open panics:
// nothing is left locked, the attempt's context and timeout and the budget's context and
// timer are released, instead of staying until the caller's context ends, and later calls
// return Internal without calling the attempt again.
func TestStreamAttemptPanicReleases(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*testkit.ScriptedStream) grpc.ClientStream
		call func(grpc.ClientStream)
	}{
		{"RecvMsg", func(s *testkit.ScriptedStream) grpc.ClientStream { return recvPanicking{s} },
			func(cs grpc.ClientStream) { _ = cs.RecvMsg(new(kycv1.CheckResponse)) }},
		{"SendMsg", func(s *testkit.ScriptedStream) grpc.ClientStream { return sendPanicking{s} },
			func(cs grpc.ClientStream) { _ = cs.SendMsg(&kycv1.CheckRequest{Index: 0}) }},
		{"Header", func(s *testkit.ScriptedStream) grpc.ClientStream { return headerPanicking{s} },
			func(cs grpc.ClientStream) { _, _ = cs.Header() }},
		{"Trailer", func(s *testkit.ScriptedStream) grpc.ClientStream { return trailerPanicking{s} },
			func(cs grpc.ClientStream) { _ = cs.Trailer() }},
		{"CloseSend", func(s *testkit.ScriptedStream) grpc.ClientStream { return closeSendPanicking{s} },
			func(cs grpc.ClientStream) { _ = cs.CloseSend() }},
		{"RecvMsgTrailer", func(s *testkit.ScriptedStream) grpc.ClientStream { return failedTrailerPanicking{s} },
			func(cs grpc.ClientStream) { _ = cs.RecvMsg(new(kycv1.CheckResponse)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true, PerAttemptTimeout: 5 * time.Second, Budget: 10 * time.Second},
				retry.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			var opened context.Context
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				opened = ctx
				return tc.wrap(testkit.NewScriptedStream(ctx, false)), nil
			}
			cs, err := p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			if n := clk.Timers(); n != 2 {
				t.Fatalf("%d timers after the open, want 2 (the budget's, the attempt's timeout)", n)
			}
			retry.PanicsAndEnds(t, clk, cs, opened, "its "+tc.name, "boom", tc.call)
			retry.CallsNoMore(t, "RecvMsg", func() {
				if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Internal {
					t.Errorf("RecvMsg after the panic = %v, want Internal", err)
				}
			})
			retry.CallsNoMore(t, "Header", func() {
				if md, err := cs.Header(); md != nil || status.Code(err) != grpccodes.Internal {
					t.Errorf("Header after the panic = %v, %v, want nil, Internal", md, err)
				}
			})
			retry.CallsNoMore(t, "Trailer", func() {
				if md := cs.Trailer(); md != nil {
					t.Errorf("Trailer after the panic = %v, want nil", md)
				}
			})
			retry.CallsNoMore(t, "CloseSend", func() {
				if err := cs.CloseSend(); err != nil {
					t.Errorf("CloseSend after the panic = %v, want nil", err)
				}
			})
		})
	}
}
