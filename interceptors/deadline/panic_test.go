package deadline_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// panicSink panics on every event, as a sink with a bug does.
type panicSink struct{}

func (panicSink) Observe(observe.Event) { panic("sink") }

// TestAppliedPanicRunsOnFinish: the policy sends DeadlineApplied before the call reaches grpc,
// which would have run its grpc.OnFinish; should the observer panic on it, the interceptor
// runs OnFinish once, with calloption.ErrPanicked, and the panic goes on.
func TestAppliedPanicRunsOnFinish(t *testing.T) {
	p, err := deadline.New(deadline.Config{Default: time.Second}, deadline.WithObserver(panicSink{}), deadline.WithClock(clocktest.New(time.Now())))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func(opts ...grpc.CallOption) (reached bool)
	}{
		{"unary", func(opts ...grpc.CallOption) (reached bool) {
			_ = p.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
					reached = true
					return nil
				}, opts...)
			return reached
		}},
		{"stream", func(opts ...grpc.CallOption) (reached bool) {
			_, _ = p.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck,
				func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
					reached = true
					return nil, context.Canceled
				}, opts...)
			return reached
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f testkit.Finishes
			reached, panicked := false, any(nil)
			func() {
				defer func() { panicked = recover() }()
				reached = tc.call(f.Option())
			}()
			if panicked == nil || reached {
				t.Fatalf("panicked %v, reached the invoker %v; want the sink's panic, before the invoker", panicked, reached)
			}
			if errs := f.Errs(); len(errs) != 1 || errs[0] != calloption.ErrPanicked {
				t.Fatalf("OnFinish ran %d times with %v, want once with calloption.ErrPanicked", len(errs), errs)
			}
		})
	}
}
