package breaker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var pubStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// published returns the one BreakerPublished rec holds of instance, failing the test when it
// holds none or more than one.
func published(t *testing.T, rec *testkit.Recorder, instance uint32) observe.Event {
	t.Helper()
	var got []observe.Event
	for _, e := range rec.Events(observe.BreakerPublished) {
		if e.Instance == instance {
			got = append(got, e)
		}
	}
	if len(got) != 1 {
		t.Fatalf("BreakerPublished events of instance %d: %+v, want exactly one", instance, got)
	}
	return got[0]
}

// A breaker New makes with an observer sends its BreakerPublished (its Instance, names, state
// and the time of its clock) before New returns, so before any call's event, and once: a
// second Publish sends nothing. Before, it sent none, and an observer that keeps states from
// events learnt of it only at its first change.
func TestNewPublishesTheBreakerOnce(t *testing.T) {
	for _, tt := range []struct{ name, wantService, wantMethod string }{
		{name: svc, wantService: svc},
		{name: "/kyc.v1.OCRService/Extract", wantService: "kyc.v1.OCRService", wantMethod: "/kyc.v1.OCRService/Extract"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(pubStart)
			rec := new(testkit.Recorder)
			b, err := New(tt.name, Config{ConsecutiveFailures: 1}, WithClock(clk), WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			evs := rec.Events()
			want := observe.Event{Kind: observe.BreakerPublished, Instance: b.Instance(), Time: pubStart,
				Service: tt.wantService, Method: tt.wantMethod, Policy: observe.PolicyBreaker, To: "closed"}
			if len(evs) != 1 || evs[0] != want {
				t.Fatalf("events after New: %+v, want %+v alone", evs, want)
			}
			clk.Advance(time.Second)
			b.Publish()
			_ = b.Execute(func() error { return errFail }) // trips
			evs = rec.Events()
			if len(evs) != 2 || evs[1].Kind != observe.BreakerStateChanged {
				t.Fatalf("events after a second Publish and a trip: %+v, want the publication, then the change alone", evs)
			}
		})
	}
}

// The registry interceptors' breakers, made at a name's first call, send their
// BreakerPublished before the call is admitted (the invoker finds it recorded), once per
// breaker, however many calls and methods share it; under ScopeMethod, one per method.
func TestRegistryInterceptorsPublishTheirBreakers(t *testing.T) {
	down := status.Error(grpccodes.Unavailable, "down")
	for _, scope := range []Scope{ScopeService, ScopeMethod} {
		t.Run(string(scope), func(t *testing.T) {
			rec := new(testkit.Recorder)
			reg := NewRegistry()
			opts := []Option{WithRegistry(reg), WithClock(clocktest.New(pubStart)), WithObserver(rec)}
			cfg := Config{ConsecutiveFailures: 2, Scope: scope}
			unary, err := UnaryClientInterceptor(cfg, opts...)
			if err != nil {
				t.Fatal(err)
			}
			stream, err := StreamClientInterceptor(cfg, opts...)
			if err != nil {
				t.Fatal(err)
			}
			// name is the breaker a method's calls go through.
			name := func(method string) string {
				if scope == ScopeMethod {
					return method
				}
				return "test.v1.Pub"
			}
			// seen checks, from inside a call, that its breaker was published already.
			seen := func(method string) {
				t.Helper()
				b, ok := reg.Lookup(name(method))
				if !ok {
					t.Fatalf("%s: the registry holds no breaker %q during its call", method, name(method))
				}
				e := published(t, rec, b.Instance())
				wantMethod := ""
				if scope == ScopeMethod {
					wantMethod = method
				}
				if e.Service != "test.v1.Pub" || e.Method != wantMethod || e.To != "closed" || e.Policy != observe.PolicyBreaker ||
					e.From != "" || !e.Time.Equal(pubStart) {
					t.Errorf("%s: BreakerPublished %+v, want service test.v1.Pub, method %q, closed, at %v", method, e, wantMethod, pubStart)
				}
				if evs := rec.Events(); evs[0].Kind != observe.BreakerPublished {
					t.Errorf("%s: first event %+v, want the breaker's publication", method, evs[0])
				}
			}
			invoker := func(_ context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
				seen(method)
				return down
			}
			streamer := func(_ context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				seen(method)
				return nil, down
			}
			for _, m := range []string{"/test.v1.Pub/A", "/test.v1.Pub/A", "/test.v1.Pub/B"} {
				if err := unary(context.Background(), m, nil, nil, nil, invoker); !errors.Is(err, down) && !errors.Is(err, ErrOpen) {
					t.Fatalf("%s: %v", m, err)
				}
			}
			if _, err := stream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, "/test.v1.Pub/C", streamer); err == nil {
				t.Fatal("stream: no error, want its streamer's")
			}
			wantBreakers := 1
			if scope == ScopeMethod {
				wantBreakers = 3
			}
			if got := rec.Count(observe.BreakerPublished); got != wantBreakers {
				t.Errorf("%d BreakerPublished events, want %d (one per breaker): %+v", got, wantBreakers, rec.Events(observe.BreakerPublished))
			}
			if rec.Count(observe.BreakerStateChanged) == 0 {
				t.Error("no state change: the calls were to trip a breaker")
			}
		})
	}
}

// A breaker Get made that Get replaces (asked for with other settings) or Delete forgets sends
// its Retired, with its Instance, at its clock's now (or its last change, when later), the
// replaced one's before its replacement's BreakerPublished; a breaker a suite's build made
// (take) is its suite's to retire.
func TestRegistryRetiresTheBreakersItForgets(t *testing.T) {
	clk := clocktest.New(pubStart)
	rec := new(testkit.Recorder)
	reg := NewRegistry(WithClock(clk))
	first, err := reg.Get(svc, Config{ConsecutiveFailures: 1}, WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	published(t, rec, first.Instance())
	clk.Advance(time.Second)
	_ = first.Execute(func() error { return errFail }) // a change at pubStart+1s
	clk.Advance(time.Second)
	rec.Reset()
	second, err := reg.Get(svc, Config{ConsecutiveFailures: 2}, WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	evs := rec.Events()
	wantRetired := observe.Event{Kind: observe.Retired, Instance: first.Instance(), Time: pubStart.Add(2 * time.Second),
		Service: svc, Policy: observe.PolicyBreaker}
	if len(evs) != 2 || evs[0] != wantRetired || evs[1].Kind != observe.BreakerPublished || evs[1].Instance != second.Instance() {
		t.Fatalf("events of the replacing Get: %+v, want %+v, then the new breaker's BreakerPublished", evs, wantRetired)
	}

	rec.Reset()
	reg.Delete(svc)
	wantRetired.Instance = second.Instance()
	if evs := rec.Events(); len(evs) != 1 || evs[0] != wantRetired {
		t.Fatalf("events of Delete: %+v, want %+v alone", evs, wantRetired)
	}

	// A breaker a suite's build took and put, which the suite holds, is not the registry's to
	// retire (nor to publish): the suite retires it once it no longer calls through it.
	rec.Reset()
	u := reg.User()
	b, made, err := reg.take("other", Config{}, false, u, []Option{WithObserver(rec)})
	if err != nil || !made {
		t.Fatalf("take: %v, %v", made, err)
	}
	reg.put("other", b, u)
	reg.hold("other", b, u) // as the suite's commit does
	reg.Delete("other")
	if evs := rec.Events(); len(evs) != 0 {
		t.Fatalf("events of a suite's breaker's take, put and Delete: %+v, want none", evs)
	}
	// One no suite holds any more (its suites let it go while the registry held it, and so
	// did not retire it) is the registry's to retire.
	b, _, err = reg.take("other", Config{}, false, u, []Option{WithObserver(rec)})
	if err != nil {
		t.Fatal(err)
	}
	reg.put("other", b, u)
	reg.hold("other", b, u)
	u.Release("other")
	reg.Delete("other")
	wantRetired.Instance, wantRetired.Service = b.Instance(), "other"
	if evs := rec.Events(); len(evs) != 1 || evs[0] != wantRetired {
		t.Fatalf("events of Delete of a breaker no suite holds: %+v, want %+v alone", evs, wantRetired)
	}
}
