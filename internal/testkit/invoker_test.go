package testkit_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHoldKeepsTheCallInItsInvoker: Hold returns with the call inside its invoker, and the call
// returns only once released, with its error.
func TestHoldKeepsTheCallInItsInvoker(t *testing.T) {
	var inside atomic.Int32
	failure := errors.New("after the invoker")
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		inside.Add(1)
		defer inside.Add(-1)
		if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
			return err
		}
		return failure
	}
	release := testkit.Hold(context.Background(), unary, testkit.MethodCompare)
	if n := inside.Load(); n != 1 {
		t.Fatalf("%d calls inside after Hold, want 1", n)
	}
	if err := release(); !errors.Is(err, failure) {
		t.Fatalf("release gave %v, want the call's error %v", err, failure)
	}
	if n := inside.Load(); n != 0 {
		t.Fatalf("%d calls inside after release, want 0", n)
	}
}

// TestHoldOfARefusedCall: a call that returns without reaching its invoker does not hang
// Hold, and release says so.
func TestHoldOfARefusedCall(t *testing.T) {
	refused := errors.New("no slot")
	unary := func(context.Context, string, any, any, *grpc.ClientConn, grpc.UnaryInvoker, ...grpc.CallOption) error {
		return refused
	}
	release := testkit.Hold(context.Background(), unary, testkit.MethodCompare)
	err := release()
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "returned before its invoker") {
		t.Fatalf("release gave %v, want that the call returned before its invoker, with %v", err, refused)
	}
}
