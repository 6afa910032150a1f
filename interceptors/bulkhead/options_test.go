package bulkhead

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A CallOption is a grpc.CallOption: this line is the compile-level check.
var _ grpc.CallOption = CallOption{}

// TestOptionIsNotACallOption pins the other half of the option shape: a construction Option
// cannot be passed to a call (before, every Option was one, and all but WithMaxWait were
// silently ignored there).
func TestOptionIsNotACallOption(t *testing.T) {
	testkit.NotCallOptions(t, map[string]Option{
		"zero": {}, "WithClock": WithClock(nil), "WithObserver": WithObserver(nil), "WithClassifier": WithClassifier(nil),
	})
}

func TestCallMaxWait(t *testing.T) { testkit.MaxWaitOption(t, WithMaxWait, callMaxWait) }

func TestPackageInterceptors(t *testing.T) {
	bad := Config{MaxConcurrent: -1}
	_, want := New("svc", bad)
	if ic, err := UnaryClientInterceptor("svc", bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("UnaryClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	if ic, err := StreamClientInterceptor("svc", bad); ic != nil || err == nil || err.Error() != want.Error() {
		t.Errorf("StreamClientInterceptor(invalid) = %v, %v; want nil, %v", ic != nil, err, want)
	}
	if _, err := StreamClientInterceptor("svc", Config{MaxConcurrent: 1}); err != nil {
		t.Errorf("StreamClientInterceptor(valid): %v", err)
	}
	// Valid: the interceptor runs calls inside a bulkhead of its own, of one slot here: a call
	// made from inside another finds it full.
	ic, err := UnaryClientInterceptor("svc", Config{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	var inner error
	outer := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, _ ...grpc.CallOption) error {
		inner = ic(ctx, method, req, reply, cc, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			return nil
		})
		return nil
	}
	if err := ic(context.Background(), "/svc/M", nil, nil, nil, outer); err != nil {
		t.Fatal(err)
	}
	if status.Code(inner) != grpccodes.ResourceExhausted {
		t.Errorf("a second call while the only slot is held: %v, want ResourceExhausted", inner)
	}
}
