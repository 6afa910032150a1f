package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// valueClock is a clock.Clock passed by value whose type is not comparable (it holds a func):
// nothing in clock.Clock's contract asks for ==.
type valueClock struct {
	*clocktest.Fake
	label func() string
}

// TestClockOfAnUncomparableType: a policy whose clock is a value of a type that == cannot
// compare serves call after call. A call reuses the timer of a pooled call when it comes from
// the same clock, and the check compared the two clocks with ==, which panics on such a type:
// every call that got back a pooled call whose timer this clock had made panicked with
// "comparing uncomparable type", from the interceptor, with the call's lock held.
func TestClockOfAnUncomparableType(t *testing.T) {
	clk := valueClock{Fake: clocktest.New(time.Now()), label: func() string { return "test" }}
	p, err := hedge.New(hedge.Config{Delay: 10 * time.Millisecond}, hedge.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ic := p.Unary()
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	// Many calls in a row on one goroutine: the pool hands the call just released back (the
	// race detector makes it drop some of what it is given, so one reuse is not enough).
	for i := range 50 {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("call %d panicked: %v", i+1, v)
				}
			}()
			if err := ic(context.Background(), "/kyc.v1.FaceMatchService/Compare", &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker); err != nil {
				t.Fatalf("call %d: %v", i+1, err)
			}
		}()
	}
}
