package interceptors_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// TestStreamAttemptTimeoutUnreadCallFinished: through the suite, a client stream's first
// attempt times out while the caller is between two sends; the stream goes on and its second
// attempt answers. The call is reported once, as a success of two attempts: the first
// attempt's end, with nobody reading, is not the stream's (it used to be taken for it: the
// call's context was released, and the caller got the first attempt's DeadlineExceeded,
// unretried).
func TestStreamAttemptTimeoutUnreadCallFinished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Now())
		s, rec := attemptTimeoutSuite(t, clk, 5*time.Second)
		var opens atomic.Int32
		streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			return testkit.NewScriptedStream(ctx, opens.Add(1) == 1), nil
		}
		cs, err := s.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(5 * time.Second) // attempt 1's timeout, with nobody reading
		synctest.Wait()
		if err := testkit.CloseAndRecvInBubble(cs, clk, &kycv1.CheckRequest{Index: 1}, new(kycv1.CheckResponse)); err != nil {
			t.Fatalf("CloseAndRecv = %v", err)
		}
		calls := rec.Events(observe.CallFinished)
		if len(calls) != 1 || calls[0].Code != grpccodes.OK || calls[0].Attempt != 2 {
			t.Fatalf("CallFinished %+v, want one: OK after 2 attempts", calls)
		}
	})
}

// attemptTimeoutSuite returns a suite on clk whose liveness service retries 3 times, each
// attempt with timeout d, and the recorder of its events; the suite is closed when t ends.
func attemptTimeoutSuite(t *testing.T, clk *clocktest.Fake, d time.Duration) (*interceptors.Suite, *testkit.Recorder) {
	t.Helper()
	r := quickRetry(3)
	r.PerAttemptTimeout = d
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"p": {Retry: r}},
		Services: map[string]config.Service{svcLiveness: {Profile: "p"}},
	}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(rec), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, rec
}
