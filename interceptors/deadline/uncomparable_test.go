package deadline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

var errSend = errors.New("send: message too large")

// uncomparableCtx is a caller's context whose type cannot be compared with ==.
type uncomparableCtx struct {
	context.Context
	_ []int
}

// Regression: the stream interceptor told "nothing changed" by comparing the context the
// policy returned with the caller's (==), which panics when the caller's context is a value of
// a type that cannot be compared; a stream the policy left alone then panicked as it opened.
func TestStreamUncomparableContext(t *testing.T) {
	clk := clocktest.New(time.Time{})
	for _, tt := range []struct {
		name string
		cfg  deadline.Config
		in   time.Duration // the caller's deadline; 0: none
		set  bool
	}{
		{name: "nothing configured", cfg: deadline.Config{}},
		{name: "a deadline within the cap is kept", cfg: deadline.Config{Max: time.Hour}, in: time.Minute},
		{name: "a default is set", cfg: deadline.Config{Default: time.Minute}, set: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := deadline.New(tt.cfg, deadline.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			base := context.Background()
			if tt.in > 0 {
				var cancel context.CancelFunc
				base, cancel = clock.WithTimeout(base, clk, tt.in)
				defer cancel()
			}
			caller := uncomparableCtx{Context: base}
			var got context.Context
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				got = ctx
				return &deadlineStream{ctx: ctx, end: func() {}, send: errSend}, nil
			}
			cs, err := p.Stream()(caller, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
			if err != nil || cs == nil {
				t.Fatalf("Stream = %v, %v", cs, err)
			}
			if _, isCaller := got.(uncomparableCtx); isCaller == tt.set {
				t.Fatalf("the stream was opened with %T; want the caller's context: %v", got, !tt.set)
			}
			if tt.set {
				_ = cs.SendMsg(nil) // The stream ends: the context set is released.
				if got.Err() == nil {
					t.Fatal("the deadline's context is live after the stream ended")
				}
			}
		})
	}
}
