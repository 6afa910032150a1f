package throttle

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// rejectedPanicking panics on Rejected, as a sink with a bug does.
type rejectedPanicking struct{}

func (rejectedPanicking) Observe(e observe.Event) {
	if e.Kind == observe.Rejected {
		panic("observer boom")
	}
}

// A call or a stream the throttle rejects, whose Rejected reaches an observer that panics,
// still runs the caller's grpc.OnFinish callbacks, once, as the panic goes on: grpc never
// sees it. The panic used to skip them.
func TestRejectedObserverPanicRunsOnFinish(t *testing.T) {
	th, err := New("kyc.v1.OCRService", Config{}, WithRand(func() float64 { return 0 }), WithObserver(rejectedPanicking{}))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		th.Record(codes.Verdict{Class: codes.Transient})
	}
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		t.Fatal("the invoker was reached")
		return nil
	}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		t.Fatal("the streamer was reached")
		return nil, nil
	}
	for name, call := range map[string]func(grpc.CallOption){
		"unary": func(o grpc.CallOption) {
			_ = th.Unary()(context.Background(), "/kyc.v1.OCRService/Extract", nil, nil, nil, invoker, o)
		},
		"stream": func(o grpc.CallOption) {
			_, _ = th.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/kyc.v1.OCRService/Watch", streamer, o)
		},
	} {
		var f testkit.Finishes
		func() {
			defer func() {
				if v := recover(); v != "observer boom" {
					t.Errorf("%s: recovered %v, want the observer's panic", name, v)
				}
			}()
			call(f.Option())
		}()
		if errs := f.Errs(); len(errs) != 1 {
			t.Errorf("%s: OnFinish ran %d times (%v) after Rejected panicked, want once", name, len(errs), errs)
		}
	}
}
