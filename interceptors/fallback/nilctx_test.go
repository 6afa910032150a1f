package fallback_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// TestRecoverNilContext: Recover, the policy without gRPC, takes a nil context as one that
// was not canceled (see verdict). It served the reply while no context in the process carried
// a call sink, and panicked reading the call sink from the nil context once any code had
// called observe.WithCallSink (a tracer, say).
func TestRecoverNilContext(t *testing.T) {
	_ = observe.WithCallSink(context.Background(), &testkit.Recorder{})
	f, err := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded))
	if err != nil {
		t.Fatal(err)
	}
	r := &kycv1.CompareResponse{Similarity: 0.5}
	var ctx context.Context // a caller of the policy without gRPC, with no context at hand
	if err := f.Recover(ctx, testkit.MethodCompare, nil, r, testkit.Status(grpccodes.Unavailable, "")); err != nil || !proto.Equal(r, degraded) {
		t.Fatalf("Recover = %v, reply %v; want the fallback", err, r)
	}
}

// Regression: Recover with a nil context handed the nil context to a Func, which its
// documentation asks to honour its context: a Func that did (ctx.Err(), ctx.Done()) panicked
// the caller's Recover. The Func now gets a context that is never done, as a caller without a
// deadline gives it.
func TestRecoverNilContextGivesTheFuncALiveContext(t *testing.T) {
	var got context.Context
	f, err := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Func(func(ctx context.Context, _ string, _ any, _ error) proto.Message {
		got = ctx
		if ctx.Err() != nil { // as a Func that honours its context does
			return nil
		}
		return degraded
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := &kycv1.CompareResponse{Similarity: 0.5}
	var ctx context.Context // a caller of the policy without gRPC, with no context at hand
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Recover with a nil context panicked in the Func: %v", p)
			}
		}()
		err = f.Recover(ctx, testkit.MethodCompare, nil, r, testkit.Status(grpccodes.Unavailable, ""))
	}()
	if err != nil || !proto.Equal(r, degraded) {
		t.Fatalf("Recover = %v, reply %v; want the fallback", err, r)
	}
	if got == nil || got.Done() != nil {
		t.Errorf("the Func got the context %v, want one that is never done", got)
	}
}
