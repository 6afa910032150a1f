package interceptors_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// armedClock is a fake clock whose k-th reading of Now once armed with k panics, as a user's
// Clock with a bug does.
type armedClock struct {
	*clocktest.Fake
	left atomic.Int32
}

func (c *armedClock) Now() time.Time {
	if c.left.Load() > 0 && c.left.Add(-1) == 0 {
		panic("clock")
	}
	return c.Fake.Now()
}

var _ clock.Clock = (*armedClock)(nil)

// armedSink panics on AttemptFinished once armed.
type armedSink struct{ armed atomic.Bool }

func (s *armedSink) Observe(e observe.Event) {
	if e.Kind == observe.AttemptFinished && s.armed.CompareAndSwap(true, false) {
		panic("observer")
	}
}

// sweepStream is a client stream that answers nothing: RecvMsg calls onRecv, ends the stream
// and returns io.EOF.
type sweepStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	onRecv func()
}

func (s *sweepStream) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (s *sweepStream) Trailer() metadata.MD         { return nil }
func (s *sweepStream) CloseSend() error             { return nil }
func (s *sweepStream) Context() context.Context     { return s.ctx }
func (s *sweepStream) SendMsg(any) error            { return nil }
func (s *sweepStream) RecvMsg(any) error {
	if s.onRecv != nil {
		s.onRecv()
	}
	s.cancel()
	return io.EOF
}

// A call whose half-open breaker's probe panics, wherever the panic comes from (the invoker or
// streamer below the suite, the observer on the attempt's AttemptFinished, the fallback's
// Func, the suite's Clock once the answer came), passes the panic to its caller unchanged and
// leaves every policy as a call that ended would: no bulkhead slot held (the bulkhead admits
// one call at a time), no fake-clock timer pending, the breaker's probe given back, so that
// the next call reaches the service, and closes the breaker. Unary calls and both kinds of
// stream, the hedging section on and off (on: the suite's runner; off: its direct chain).
func TestPanicLeavesEveryPolicyForTheNextCall(t *testing.T) {
	descs := map[string]*grpc.StreamDesc{
		"unary":            nil,
		"server-streaming": {ServerStreams: true},
		"client-streaming": {ClientStreams: true},
	}
	for _, hedged := range []bool{false, true} {
		for kind, desc := range descs {
			for _, source := range []string{"invoker", "observer", "fallback", "clock"} {
				if source == "fallback" && desc != nil {
					continue // a stream's fallback answers a refusal at its open alone
				}
				t.Run(fmt.Sprintf("hedge=%v/%s/%s", hedged, kind, source), func(t *testing.T) {
					if source != "clock" {
						panicSweep(t, hedged, desc, source, 0)
						return
					}
					// The clock panics at each of its readings after the answer in turn, until
					// the call makes no more of them.
					for k := 1; panicSweep(t, hedged, desc, source, k); k++ {
						if k == 20 {
							t.Fatal("the call reads the clock more than 20 times after its answer")
						}
					}
				})
			}
		}
	}
}

// panicSweep runs one row of TestPanicLeavesEveryPolicyForTheNextCall: its probe panics from
// source (for the clock, at its k-th reading after the answer). It reports whether the probe
// panicked; a probe that must panic and did not fails the test.
func panicSweep(t *testing.T, hedged bool, desc *grpc.StreamDesc, source string, k int) bool {
	t.Helper()
	const (
		method  = "/bulwark.test.Lister/List"
		service = "bulwark.test.Lister"
	)
	p := config.Profile{
		Retry: &retry.Config{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
			Jitter: retry.JitterNone, Idempotent: true, Throttle: retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.1}},
		Breaker:          &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Second, HalfOpenMaxCalls: 1, SuccessThreshold: 1},
		AdaptiveThrottle: &throttle.Config{MinRequests: 50},
		Bulkhead:         &bulkhead.Config{MaxConcurrent: 1},
		RateLimit:        &ratelimit.Config{Rate: 1000, Burst: 100},
		Fallback:         &fallback.Config{},
	}
	if hedged {
		p.Hedge = &hedge.Config{MaxAttempts: 2, Delay: time.Hour, Idempotent: true}
	}
	cfg := &config.Config{Budget: 8 * time.Hour, Profiles: map[string]config.Profile{"p": p},
		Services: map[string]config.Service{service: {Profile: "p"}}}
	clk := &armedClock{Fake: clocktest.New(time.Now())}
	sink := &armedSink{}
	var fallbackArmed atomic.Bool
	reg := &breaker.Registry{}
	s, err := interceptors.New(cfg, interceptors.WithObserver(sink), interceptors.WithClock(clk),
		interceptors.WithRand(func() float64 { return 0.5 }), interceptors.WithBreakerRegistry(reg),
		interceptors.WithFallback(method, fallback.Func(func(context.Context, string, any, error) proto.Message {
			if fallbackArmed.CompareAndSwap(true, false) {
				panic("fallback")
			}
			return &kycv1.CheckResponse{}
		})))
	if err != nil {
		t.Fatal(err)
	}
	hung := false
	defer func() {
		if !hung { // a suite whose breaker stays locked would hang its Close too
			_ = s.Close()
		}
	}()

	// call makes one call that answers err (nil: OK), running arm as the answer
	// comes; it reports whether the call reached the service, what panicked, and
	// what it returned.
	call := func(answer error, arm func()) (reached bool, panicked any, got error) {
		defer func() { panicked = recover() }()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if desc == nil {
			got = s.Unary()(ctx, method, &kycv1.CheckRequest{}, new(kycv1.CheckResponse), nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
					reached = true
					if arm != nil {
						arm()
					}
					return answer
				})
			return
		}
		cs, err := s.Stream()(ctx, desc, nil, method,
			func(sctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				reached = true
				if answer != nil {
					return nil, answer
				}
				sctx, scancel := context.WithCancel(sctx)
				return &sweepStream{ctx: sctx, cancel: scancel, onRecv: arm}, nil
			})
		if err != nil {
			return reached, nil, err
		}
		_ = cs.SendMsg(&kycv1.CheckRequest{})
		_ = cs.CloseSend()
		if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != io.EOF { //nolint:errorlint // io.EOF itself
			got = err
		}
		return
	}

	// A server fault (not retried) opens the breaker; once its recovery timeout
	// passed, it lets one probe by: the call that panics.
	_, _, _ = call(status.Error(grpccodes.Internal, "boom"), nil)
	b, _ := reg.Lookup(service)
	if st := b.State(); st != breaker.Open {
		t.Fatalf("breaker %v after a server fault, want open", st)
	}
	clk.Advance(time.Minute)
	var answer error
	var arm func()
	switch source {
	case "invoker":
		arm = func() { panic("invoker") }
	case "observer":
		sink.armed.Store(true)
	case "fallback":
		answer = status.Error(grpccodes.Internal, "boom")
		fallbackArmed.Store(true)
	case "clock":
		arm = func() { clk.left.Store(int32(k)) }
	}
	reached, panicked, _ := call(answer, arm)
	if source == "clock" && reached && panicked == nil {
		clk.left.Store(0)
		return false // the call read the clock fewer than k times after its answer
	}
	if !reached || panicked != source {
		t.Fatalf("the probe reached the service: %v, and panicked %v, want true and %q (k %d)", reached, panicked, source, k)
	}
	sink.armed.Store(false)
	fallbackArmed.Store(false)
	clk.left.Store(0)

	// Checked off the test's goroutine: a lock the panic left held hangs them.
	checked := make(chan []string, 1)
	go func() {
		var problems []string
		for l := range s.Levels {
			if l.Kind == observe.LevelInFlight && l.Value != 0 {
				problems = append(problems, fmt.Sprintf("the bulkhead holds %v slots", l.Value))
			}
		}
		if n := clk.Timers(); n != 0 {
			problems = append(problems, fmt.Sprintf("%d fake-clock timers pending", n))
		}
		// A probe that failed reopened the breaker: its recovery timeout passes again.
		clk.Advance(time.Hour)
		if reached, panicked, err := call(nil, nil); !reached || err != nil || panicked != nil {
			problems = append(problems, fmt.Sprintf("the next call reached the service: %v, returned %v, panicked %v; want true, nil, nil (breaker %v)",
				reached, err, panicked, b.State()))
		}
		if st := b.State(); st != breaker.Closed {
			problems = append(problems, fmt.Sprintf("breaker %v after the next call succeeded, want closed", st))
		}
		checked <- problems
	}()
	var problems []string
	select {
	case problems = <-checked:
	case <-time.After(10 * time.Second): // a failure guard only: the checks take no time
		hung = true
		t.Fatalf("the suite hangs after the clock's reading %d panicked: a lock the panic left held", k)
	}
	if len(problems) > 0 {
		t.Fatalf("the clock's reading %d panicked:\n%s", k, strings.Join(problems, "\n"))
	}
	return true
}
