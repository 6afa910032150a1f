package deadline_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// Regression: the unary interceptor released the context it set (and its timer) only when the
// invoker returned; an invoker that panicked (a later interceptor's bug, a codec's) left both
// until the deadline passed, while the stream interceptor released them on a streamer's panic.
func TestUnaryInvokerPanicReleasesTheDeadline(t *testing.T) {
	clk := clocktest.New(time.Time{}) // The deadline never passes by itself.
	p, err := deadline.New(deadline.Config{Default: time.Hour}, deadline.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	var dctx context.Context
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		dctx = ctx
		panic("boom")
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want the invoker's panic", v)
			}
		}()
		_ = p.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker)
	}()
	if _, ok := dctx.Deadline(); !ok {
		t.Fatal("the call got no deadline")
	}
	if dctx.Err() == nil || clk.Timers() != 0 {
		t.Fatalf("after the panic: context %v, %d timers; want it released, no timer", dctx.Err(), clk.Timers())
	}
}
