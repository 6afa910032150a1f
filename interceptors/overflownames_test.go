package interceptors_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// overflowProfiles are the default profiles the overflow tests run under: a retry loop over a
// breaker and a bulkhead of the service, with a deadline, and a hedging policy without a retry
// loop, whose hedge is sent a millisecond into a call.
func overflowProfiles() map[string]config.Profile {
	gates := func(p config.Profile) config.Profile {
		p.Breaker = &breaker.Config{ConsecutiveFailures: 100, RecoveryTimeout: time.Hour}
		p.Bulkhead = &bulkhead.Config{MaxConcurrent: 8}
		p.Deadline = &deadline.Config{Default: time.Minute}
		return p
	}
	return map[string]config.Profile{
		"retried": gates(config.Profile{Retry: idempotent(quickRetry(3))}),
		"hedged":  gates(config.Profile{Hedge: &hedge.Config{MaxAttempts: 2, Delay: time.Millisecond, Idempotent: true}}),
	}
}

// hedgedInvoker fails a call's first attempt once its second has started, and answers the
// second: a hedged call sends its hedge, which wins; an unhedged one retries.
type hedgedInvoker struct {
	mu    sync.Mutex
	calls map[string]int
	next  map[string]chan struct{}
	hedge bool
}

func (h *hedgedInvoker) invoke(ctx context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	h.mu.Lock()
	if h.calls == nil {
		h.calls, h.next = map[string]int{}, map[string]chan struct{}{}
	}
	h.calls[method]++
	n := h.calls[method]
	if n == 1 {
		h.next[method] = make(chan struct{})
	}
	second := h.next[method]
	h.mu.Unlock()
	if n > 1 {
		close(second)
		return nil
	}
	if h.hedge {
		select {
		case <-second:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return unavailable()
}

// unlistedService is the i-th service of the overflow tests, outside the configuration.
func unlistedService(i int) string { return "x" + strconv.Itoa(i) + ".v1.Svc" }

// Past the suite's bound on unlisted services, every event of a call served by the suite's
// overflow chain names the service "*" and, where it names a method, "/*/*": its attempts,
// retries, hedges, deadline and the refusal of the overflow chain's breaker as well as its
// CallFinished, for unary calls and streams, hedged or not. Before, CallFinished named "*"
// while the rest named the call's own service and method, so that a ratio per service
// compared no like with like, and the attempts' labels grew with the names callers sent. A
// call within the bound names its own.
func TestOverflowCallEventsNameTheOverflowKey(t *testing.T) {
	const bound, services = 2, 5
	for name, p := range overflowProfiles() {
		t.Run(name, func(t *testing.T) {
			kinds := map[observe.Kind]bool{}
			rec := &testkit.Recorder{}
			reg := &breaker.Registry{}
			s, err := interceptors.New(&config.Config{
				Profiles: map[string]config.Profile{config.DefaultProfile: p, "p": p},
				Services: map[string]config.Service{svcUnlisted: {Profile: "p"}},
			}, interceptors.WithObserver(rec), interceptors.WithBreakerRegistry(reg), interceptors.WithUnlistedLimit(bound))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			inv := &hedgedInvoker{hedge: p.Hedge != nil}
			unary, stream := s.Unary(), s.Stream()
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				return &replyStream{ctx: ctx}, nil
			}
			desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
			// check makes the calls of do and checks the names of every event they sent.
			check := func(what string, wantService, wantMethod string, do func()) {
				t.Helper()
				rec.Reset()
				do()
				events := rec.Events()
				if len(events) == 0 {
					t.Fatalf("%s: no events", what)
				}
				for _, e := range events {
					kinds[e.Kind] = true
					if e.Service != wantService || e.Method != "" && e.Method != wantMethod {
						t.Errorf("%s: %v event of %s names service %q, method %q; want %q, %q", what, e.Kind, e.Policy, e.Service, e.Method, wantService, wantMethod)
					}
				}
			}
			for i := range services {
				svc := unlistedService(i)
				method := "/" + svc + "/Do"
				wantService, wantMethod := svc, method
				if i >= bound {
					wantService, wantMethod = "*", "/*/*"
				}
				check(method, wantService, wantMethod, func() {
					if err := unary(context.Background(), method, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, inv.invoke); err != nil {
						t.Fatalf("%s: %v", method, err)
					}
				})
				if i < bound {
					wantMethod += "Stream"
				}
				check(method+" (stream)", wantService, wantMethod, func() {
					cs, err := stream(context.Background(), desc, nil, method+"Stream", streamer)
					if err != nil {
						t.Fatalf("%s stream: %v", method, err)
					}
					for cs.RecvMsg(nil) != io.EOF {
					}
				})
			}
			// What the calls are to have sent, so that the names of each were checked.
			want := []observe.Kind{observe.DeadlineApplied, observe.AttemptFinished, observe.CallFinished, observe.RetryScheduled}
			if p.Hedge != nil {
				want = []observe.Kind{observe.DeadlineApplied, observe.AttemptFinished, observe.CallFinished, observe.HedgeSent, observe.HedgeWon}
			}
			for _, k := range want {
				if !kinds[k] {
					t.Errorf("the calls sent no %v event", k)
				}
			}
			b, ok := reg.Lookup("*")
			if !ok {
				t.Fatal("no breaker of the service \"*\" in the registry")
			}
			b.ForceOpen()
			method := "/" + unlistedService(services) + "/Do"
			check(method+" (refused)", "*", "/*/*", func() {
				if err := unary(context.Background(), method, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, inv.invoke); !errors.Is(err, breaker.ErrOpen) {
					t.Fatalf("%s with the overflow breaker forced open: %v, want breaker.ErrOpen", method, err)
				}
			})
			if got := rec.Count(observe.Rejected); got == 0 {
				t.Error("the refused call sent no Rejected event")
			}
		})
	}
}

// A call sink (observe.WithCallSink) sees one call and labels nothing: on the suite's overflow
// chain it is told the names the call brought, in every event of the call, CallFinished too
// (which named the service "*" where the attempts named the call's), while the suite's sink
// is told "*" and "/*/*".
func TestOverflowCallSinkNamesTheCall(t *testing.T) {
	p := overflowProfiles()["retried"]
	rec := &testkit.Recorder{}
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{config.DefaultProfile: p},
	}, interceptors.WithObserver(rec), interceptors.WithUnlistedLimit(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	call := &testkit.Recorder{}
	method := "/" + unlistedService(0) + "/Do"
	inv := &hedgedInvoker{}
	if err := s.Unary()(observe.WithCallSink(context.Background(), call), method, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, inv.invoke); err != nil {
		t.Fatal(err)
	}
	if got := call.Count(observe.CallFinished); got != 1 {
		t.Fatalf("call sink: %d CallFinished, want 1", got)
	}
	for _, e := range call.Events() {
		if e.Service != unlistedService(0) || e.Method != method {
			t.Errorf("call sink: %v event names service %q, method %q; want %q, %q", e.Kind, e.Service, e.Method, unlistedService(0), method)
		}
	}
	for _, e := range rec.Events() {
		if e.Service != "*" || e.Method != "" && e.Method != "/*/*" {
			t.Errorf("suite's sink: %v event names service %q, method %q; want \"*\", \"/*/*\"", e.Kind, e.Service, e.Method)
		}
	}
}

// idempotent returns r that retries every method.
func idempotent(r *retry.Config) *retry.Config {
	r.Idempotent = true
	return r
}
