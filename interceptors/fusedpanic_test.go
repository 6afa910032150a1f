package interceptors_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// panickyFusingSink is a fusingSink whose ObserveSuccess, while armed, records the call and
// then panics, as a sink with a bug does.
type panickyFusingSink struct {
	fusingSink
	armed atomic.Bool
}

func (r *panickyFusingSink) ForMethod(string, string) observe.Sink { return r }

func (r *panickyFusingSink) ObserveSuccess(service, method string, d time.Duration, deadline string, delay time.Duration) {
	r.fusingSink.ObserveSuccess(service, method, d, deadline, delay)
	if r.armed.Load() {
		panic("sink: ObserveSuccess")
	}
}

// A fused call's ObserveSuccess carries the deadline step's DeadlineApplied: should it panic,
// the suite does not send that DeadlineApplied again as the panic goes on (as it does for a
// call whose invoker panics, which no ObserveSuccess reported). On the real clock, with grpc
// keeping the per-attempt timeout, the one setting where a fused call holds a DeadlineApplied.
func TestFusedSuccessThatPanicsSendsNoDeadlineAgain(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{})
	p := config.Profile{
		Deadline: &deadline.Config{Default: 2 * time.Second, Max: 10 * time.Second},
		Retry:    &retry.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, PerAttemptTimeout: time.Second},
	}
	cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	sink := &panickyFusingSink{}
	s := suiteOf(t, cfg, interceptors.WithObserver(sink))
	cc := srv.Dial(t, serviceConfigOption(t, s, ""))
	invoke := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return cc.Invoke(ctx, method, req, reply, opts...)
	}
	call := func() (panicked bool) {
		defer func() { panicked = recover() != nil }()
		if err := s.Unary()(context.Background(), testkit.MethodCompare, &kycv1.CompareRequest{}, new(kycv1.CompareResponse), cc, invoke); err != nil {
			t.Fatal(err)
		}
		return false
	}
	call() // gets grpc the service config, which keeps the per-attempt timeout
	skip := len(sink.lines())
	sink.armed.Store(true)
	if !call() {
		t.Fatal("ObserveSuccess did not panic")
	}
	got := sink.lines()[skip:]
	if len(got) == 0 || !strings.HasPrefix(got[0], "success ") || !strings.Contains(got[0], `"default"`) {
		t.Fatalf("the sink got %q, want a fused success with the default deadline first", got)
	}
	if got = got[1:]; len(got) > 0 {
		t.Errorf("after the fused success that panicked, the sink got %q, want nothing", got)
	}
}
