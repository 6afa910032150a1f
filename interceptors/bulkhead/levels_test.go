package bulkhead_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// inFlightAndCapacity reads b's levels and checks their shape: in flight and capacity, then
// for an adaptive bulkhead its floor and ceiling.
func inFlightAndCapacity(t *testing.T, b *bulkhead.Bulkhead) (inFlight, capacity float64) {
	t.Helper()
	var got []observe.Level
	b.Levels(func(l observe.Level) bool { got = append(got, l); return true })
	want := 2
	if b.Config().Adaptive.Algorithm != bulkhead.AlgorithmNone {
		want = 4
	}
	if len(got) != want || got[0].Kind != observe.LevelInFlight || got[1].Kind != observe.LevelCapacity {
		t.Fatalf("levels = %+v, want in-flight then capacity (%d levels)", got, want)
	}
	for _, l := range got {
		if l.Policy != observe.PolicyBulkhead || l.Service != svc || l.Method != "" || l.State != "" {
			t.Fatalf("level %+v: want policy bulkhead, service %s", l, svc)
		}
	}
	return got[0].Value, got[1].Value
}

func TestLevelsDuringAHeldCall(t *testing.T) {
	for _, tt := range []struct {
		name         string
		cfg          bulkhead.Config
		wantCapacity float64
	}{
		{name: "fixed", cfg: bulkhead.Config{MaxConcurrent: 3}, wantCapacity: 3},
		{name: "adaptive", cfg: bulkhead.Config{MaxConcurrent: 8, Adaptive: bulkhead.Adaptive{Algorithm: "aimd", InitialLimit: 5}}, wantCapacity: 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bulkhead.New(svc, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			entered, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
			held := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				close(entered)
				<-release
				return nil
			}
			go func() {
				done <- b.Unary()(context.Background(), "/kyc.v1.FaceMatchService/Match", nil, nil, nil, held)
			}()
			within.Recv(t, entered, "the call did not reach the invoker")
			if n, c := inFlightAndCapacity(t, b); n != 1 || c != tt.wantCapacity {
				t.Errorf("during the call: in flight %v, capacity %v; want 1, %v", n, c, tt.wantCapacity)
			}
			close(release)
			if err := within.Recv(t, done, "the call did not return once released"); err != nil {
				t.Fatal(err)
			}
			if n, _ := inFlightAndCapacity(t, b); n != 0 {
				t.Errorf("after the call: in flight %v, want 0", n)
			}
		})
	}
}

func TestLevelsStopAndDoNotAllocate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  bulkhead.Config
	}{
		{name: "fixed", cfg: bulkhead.Config{MaxConcurrent: 2}},
		{name: "adaptive", cfg: bulkhead.Config{MaxConcurrent: 8, Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient, MinLimit: 2}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bulkhead.New(svc, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var all int
			b.Levels(func(observe.Level) bool { all++; return true })
			for stop := 1; stop <= all; stop++ { // yield returns false at its stop-th call
				calls := 0
				b.Levels(func(observe.Level) bool { calls++; return calls < stop })
				if calls != stop {
					t.Fatalf("yield called %d times, returning false at call %d, want %d", calls, stop, stop)
				}
			}
			var sum float64
			add := func(l observe.Level) bool { sum += l.Value; return true }
			if a := testing.AllocsPerRun(100, func() { b.Levels(add) }); a != 0 {
				t.Fatalf("%v allocations per Levels, want 0", a)
			}
			if sum == 0 {
				t.Fatal("capacity was never read")
			}
		})
	}
}

// An adaptive bulkhead reads, after its in-flight calls and its current limit, the bounds the
// limit moves between: its floor (min_limit) and its ceiling (max_concurrent), as Normalize
// fills them in, wherever the limit sits, so that an alert can tell a limit held at its floor.
// A fixed bulkhead reads neither: its capacity is its max_concurrent.
func TestAdaptiveLevelsReadTheLimitsBounds(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name                string
		cfg                 bulkhead.Config
		wantFloor, wantCeil float64
		wantLimitAfterDrops float64
		noBounds            bool
		wantCapacityAtStart float64
	}{
		{
			name:      "aimd",
			cfg:       bulkhead.Config{MaxConcurrent: 20, Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, MinLimit: 3, InitialLimit: 10}},
			wantFloor: 3, wantCeil: 20, wantCapacityAtStart: 10, wantLimitAfterDrops: 3,
		},
		{
			name:      "gradient, defaults",
			cfg:       bulkhead.Config{Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient}},
			wantFloor: bulkhead.DefaultMinLimit, wantCeil: bulkhead.DefaultMaxConcurrent,
			wantCapacityAtStart: max(bulkhead.DefaultMinLimit, bulkhead.DefaultMaxConcurrent/4), wantLimitAfterDrops: bulkhead.DefaultMinLimit,
		},
		{
			name:     "fixed",
			cfg:      bulkhead.Config{MaxConcurrent: 6, Adaptive: bulkhead.Adaptive{MinLimit: 2}},
			noBounds: true, wantCapacityAtStart: 6, wantLimitAfterDrops: 6,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			b, err := bulkhead.New(svc, tt.cfg, bulkhead.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			read := func() map[observe.LevelKind]float64 {
				t.Helper()
				got := map[observe.LevelKind]float64{}
				var kinds []observe.LevelKind
				b.Levels(func(l observe.Level) bool {
					if l.Policy != observe.PolicyBulkhead || l.Service != svc || l.Method != "" {
						t.Errorf("level %+v: want policy bulkhead, service %s, no method", l, svc)
					}
					got[l.Kind] = l.Value
					kinds = append(kinds, l.Kind)
					return true
				})
				want := []observe.LevelKind{observe.LevelInFlight, observe.LevelCapacity, observe.LevelCapacityFloor, observe.LevelCapacityCeiling}
				if tt.noBounds {
					want = want[:2]
				}
				if !slices.Equal(kinds, want) {
					t.Fatalf("level kinds %v, want %v", kinds, want)
				}
				return got
			}
			check := func(when string, capacity float64) {
				t.Helper()
				got := read()
				if got[observe.LevelCapacity] != capacity {
					t.Errorf("%s: capacity %v, want %v", when, got[observe.LevelCapacity], capacity)
				}
				if tt.noBounds {
					return
				}
				if got[observe.LevelCapacityFloor] != tt.wantFloor || got[observe.LevelCapacityCeiling] != tt.wantCeil {
					t.Errorf("%s: floor %v, ceiling %v; want %v, %v", when, got[observe.LevelCapacityFloor], got[observe.LevelCapacityCeiling], tt.wantFloor, tt.wantCeil)
				}
			}
			check("at start", tt.wantCapacityAtStart)
			// Shed answers (ResourceExhausted: a drop) take an adaptive limit down to its floor,
			// and no further; the bounds stay where they are.
			for range 20 {
				if err := b.Acquire(ctx); err != nil {
					t.Fatal(err)
				}
				clk.Advance(time.Millisecond) // each call began after the last change: a sample
				b.ReleaseWith(time.Millisecond, status.Error(grpccodes.ResourceExhausted, "shed"))
			}
			check("after 20 shed answers", tt.wantLimitAfterDrops)
		})
	}
}

// A bulkhead named by a full method "/pkg.Service/Method" (as a suite names the bulkhead of a
// method with a bulkhead of its own) guards that method of that service: its rejections, its
// events and its levels name the service as the service and the full method as the method, as
// a method's breaker does, not the full method as a service. WithService names the service of
// a bulkhead whose name is not a service (one shared by several): no method then.
func TestBulkheadNamedByAFullMethodNamesItsServiceAndMethod(t *testing.T) {
	const method = "/" + svc + "/Compare"
	for _, tt := range []struct {
		name, bulkhead          string
		opts                    []bulkhead.Option
		wantService, wantMethod string
	}{
		{name: "service", bulkhead: svc, wantService: svc},
		{name: "full method", bulkhead: method, wantService: svc, wantMethod: method},
		{name: "full method, WithService", bulkhead: method, opts: []bulkhead.Option{bulkhead.WithService(svc)}, wantService: svc, wantMethod: method},
		{name: "shared, WithService", bulkhead: "shared-pool", opts: []bulkhead.Option{bulkhead.WithService(svc)}, wantService: svc},
		{name: "shared", bulkhead: "shared-pool", wantService: "shared-pool"},
		{name: "malformed", bulkhead: "/NoService", wantService: "/NoService"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := new(testkit.Recorder)
			b, err := bulkhead.New(tt.bulkhead, bulkhead.Config{
				MaxConcurrent: 8, Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, MinLimit: 1, InitialLimit: 2},
			}, append(tt.opts, bulkhead.WithObserver(rec))...)
			if err != nil {
				t.Fatal(err)
			}
			if b.Name() != tt.bulkhead {
				t.Errorf("Name() = %q, want %q", b.Name(), tt.bulkhead)
			}
			ctx := context.Background()
			for range 2 {
				if err := b.Acquire(ctx); err != nil {
					t.Fatal(err)
				}
			}
			var levels []observe.Level
			b.Levels(func(l observe.Level) bool { levels = append(levels, l); return true })
			err = b.Acquire(ctx)
			var rej *codes.Rejection
			if !errors.As(err, &rej) || rej.Service != tt.wantService {
				t.Errorf("Acquire on a full bulkhead: %#v, want a rejection of service %q", err, tt.wantService)
			}
			// A drop moves the limit (2 x 0.9 rounds down to 1): LimitChanged.
			b.ReleaseWith(time.Millisecond, status.Error(grpccodes.Unavailable, "down"))
			b.Release()
			evs := rec.Events(observe.Rejected, observe.LimitChanged)
			if len(evs) != 2 {
				t.Fatalf("events %+v, want a rejection and a limit change", evs)
			}
			for _, e := range evs {
				if e.Service != tt.wantService || e.Method != tt.wantMethod {
					t.Errorf("%v event names service %q method %q, want %q %q", e.Kind, e.Service, e.Method, tt.wantService, tt.wantMethod)
				}
			}
			if len(levels) != 4 {
				t.Fatalf("levels %+v, want in flight, capacity, floor and ceiling", levels)
			}
			for _, l := range levels {
				if l.Service != tt.wantService || l.Method != tt.wantMethod {
					t.Errorf("%v level names service %q method %q, want %q %q", l.Kind, l.Service, l.Method, tt.wantService, tt.wantMethod)
				}
			}
		})
	}
}
