package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestLateReaderOfAStatusOnlyAttemptKeepsItsContext: a server stream whose server ended it at
// once with its status alone (no header: a trailers-only response, here a business error),
// whose caller reads only after the per-attempt timeout has passed, is not ended by the timer:
// the server answered in time, and the status waits for RecvMsg, which returns it, reported
// once, not retried. The timer used to end the attempt as timed out, its context reading
// DeadlineExceeded to the policies below the loop, whose breaker then counted a failure for
// each business answer read late (a slow reader of a fault-free service opened its breaker).
func TestLateReaderOfAStatusOnlyAttemptKeepsItsContext(t *testing.T) {
	cc := startLister(t, func(_ any, st grpc.ServerStream) error {
		if err := st.RecvMsg(new(kycv1.CheckRequest)); err != nil {
			return err
		}
		return status.Error(grpccodes.InvalidArgument, "no face in the frame")
	})
	cfg := retry.Config{
		MaxAttempts: 1, Jitter: retry.JitterNone, Idempotent: true, InitialBackoff: time.Millisecond,
		PerAttemptTimeout: 100 * time.Millisecond,
	}
	s, clk := newFiredSetup(t, cfg) // one attempt: its driver has no sleep to drive
	p := s.p
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	attempts := make(chan context.Context, 4)
	streams := make(chan grpc.ClientStream, 4)
	st, err := p.Stream()(ctx, listDesc, cc, listMethod,
		func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			attempts <- ctx
			gst, err := cc.NewStream(ctx, desc, method, opts...)
			if err == nil {
				streams <- gst
			}
			return gst, err
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendMsg(&kycv1.CheckRequest{Index: 7}); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	actx := <-attempts
	// gRPC's stream of the attempt ends once the header watcher's Header found the server's
	// status alone; the watcher has returned when its goroutine is gone.
	<-(<-streams).Context().Done()
	testkit.Eventually(t, "the attempt's header watched", func() bool {
		return goroutinesIn("retry.(*attemptTimeout).watchHeader") == 0
	})
	clk.Advance(100 * time.Millisecond)
	select {
	case <-clk.fired:
	case <-time.After(10 * time.Second):
		t.Fatal("the per-attempt timeout did not fire")
	}
	if err := actx.Err(); err != nil {
		t.Errorf("after the per-attempt timeout, the answered attempt's context reads %v, want it live", err)
	}
	err = st.RecvMsg(new(kycv1.CheckResponse))
	if status.Code(err) != grpccodes.InvalidArgument {
		t.Errorf("RecvMsg: %v, want the server's InvalidArgument", err)
	}
	if e := s.rec.Events(observe.AttemptFinished); len(e) != 1 || e[0].Code != grpccodes.InvalidArgument {
		t.Errorf("AttemptFinished: %v, want one, InvalidArgument", e)
	}
	if n := len(attempts); n != 0 {
		t.Errorf("%d more attempts opened, want none", n)
	}
}
