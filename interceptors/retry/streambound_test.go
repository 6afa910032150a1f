package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// failingStream is an attempt stream whose receive fails with a code that is never retried.
type failingStream struct{ grpc.ClientStream }

func (failingStream) RecvMsg(any) error        { return status.Error(grpccodes.InvalidArgument, "bad frame") }
func (failingStream) Trailer() metadata.MD     { return nil }
func (failingStream) Context() context.Context { return context.Background() }

// TestStreamBoundLikeUnary: a stream's per-attempt timeout and budget are decided as a unary
// call's (attempt.BoundOf): a timer (or a budget context) only when it would end before the
// caller's deadline. Before the shared engine, the stream armed a per-attempt timer whatever
// the caller's deadline.
func TestStreamBoundLikeUnary(t *testing.T) {
	tests := []struct {
		name       string
		caller     time.Duration // the caller's deadline from now; 0: none
		cfg        retry.Config
		wantTimers int
	}{
		{name: "per-attempt timeout, no caller deadline", cfg: retry.Config{PerAttemptTimeout: 5 * time.Second}, wantTimers: 1},
		{name: "per-attempt timeout after the caller's deadline", caller: time.Second, cfg: retry.Config{PerAttemptTimeout: 5 * time.Second}, wantTimers: 0},
		{name: "per-attempt timeout before the caller's deadline", caller: time.Minute, cfg: retry.Config{PerAttemptTimeout: 5 * time.Second}, wantTimers: 1},
		{name: "budget, no caller deadline", cfg: retry.Config{Budget: 10 * time.Second}, wantTimers: 1},
		{name: "budget after the caller's deadline", caller: time.Second, cfg: retry.Config{Budget: 10 * time.Second}, wantTimers: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			p, err := retry.New(tt.cfg, retry.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tt.caller > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, clk.Now().Add(tt.caller))
				defer cancel()
			}
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return failingStream{}, nil
			}
			cs, err := p.Stream()(ctx, &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
			if err != nil {
				t.Fatal(err)
			}
			if got := clk.Timers(); got != tt.wantTimers {
				t.Errorf("timers after open = %d, want %d", got, tt.wantTimers)
			}
			if err := cs.RecvMsg(nil); status.Code(err) != grpccodes.InvalidArgument {
				t.Fatalf("RecvMsg = %v", err)
			}
			if got := clk.Timers(); got != 0 {
				t.Errorf("timers after the stream ended = %d, want 0", got)
			}
		})
	}
}
