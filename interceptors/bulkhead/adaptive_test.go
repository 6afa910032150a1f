package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func newAdaptive(t *testing.T, cfg bulkhead.Config, opts ...bulkhead.Option) *bulkhead.Bulkhead {
	t.Helper()
	b, err := bulkhead.New(svc, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewAdaptive(t *testing.T) {
	tests := []struct {
		name    string
		cfg     bulkhead.Config
		want    int // Capacity at start
		wantErr bool
	}{
		{name: "initial defaults to a quarter of the ceiling", cfg: bulkhead.Config{MaxConcurrent: 64, Adaptive: bulkhead.Adaptive{Algorithm: "aimd"}}, want: 16},
		{name: "default ceiling", cfg: bulkhead.Config{Adaptive: bulkhead.Adaptive{Algorithm: "gradient"}}, want: 2},
		{name: "initial not below the floor", cfg: bulkhead.Config{MaxConcurrent: 8, Adaptive: bulkhead.Adaptive{Algorithm: "aimd", MinLimit: 5}}, want: 5},
		{name: "explicit initial", cfg: bulkhead.Config{MaxConcurrent: 8, Adaptive: bulkhead.Adaptive{Algorithm: "gradient", InitialLimit: 7}}, want: 7},
		{name: "unknown algorithm", cfg: bulkhead.Config{Adaptive: bulkhead.Adaptive{Algorithm: "vegas"}}, wantErr: true},
		{name: "floor above ceiling", cfg: bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{Algorithm: "aimd", MinLimit: 5}}, wantErr: true},
		{name: "fields without algorithm are ignored", cfg: bulkhead.Config{Adaptive: bulkhead.Adaptive{MinLimit: 2}}, want: bulkhead.DefaultMaxConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bulkhead.New(svc, tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New: err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if b.Capacity() != tt.want || b.Available() != tt.want || b.InFlight() != 0 {
				t.Errorf("Capacity %d Available %d InFlight %d, want %d %d 0", b.Capacity(), b.Available(), b.InFlight(), tt.want, tt.want)
			}
		})
	}
}

// service simulates a dependency whose latency grows with its concurrency past a knee: a call
// that starts with n calls in flight (its own included) takes base·max(1, n/knee).
type service struct {
	knee int
	base time.Duration
}

func (s service) latency(n int) time.Duration {
	return time.Duration(float64(s.base) * max(1, float64(n)/float64(s.knee)))
}

// simulate runs a closed loop of clients callers against svc through b, event by event in
// simulated time (no goroutines; clk, b's clock, is moved to each call's end): a client starts
// a call as soon as TryAcquire lets it, and ReleaseWith feeds the call's latency when it ends.
// fail says whether the i-th call to end fails with ResourceExhausted, the server shedding
// load. It returns the limit after each of calls ends.
func simulate(t *testing.T, b *bulkhead.Bulkhead, clk *clocktest.Fake, svc service, clients, calls int, fail func(i int) bool) []int {
	t.Helper()
	type call struct{ end, took time.Duration }
	var (
		origin  = clk.Now()
		now     time.Duration
		running []call
		idle    = clients
		trace   = make([]int, 0, calls)
	)
	for i := range calls {
		for idle > 0 && b.TryAcquire() {
			idle--
			d := svc.latency(b.InFlight())
			running = append(running, call{end: now + d, took: d})
		}
		if len(running) == 0 {
			t.Fatalf("call %d: nothing in flight, limit %d", i, b.Capacity())
		}
		first := 0
		for j, c := range running {
			if c.end < running[first].end {
				first = j
			}
		}
		c := running[first]
		running = append(running[:first], running[first+1:]...)
		now = c.end
		clk.Set(origin.Add(now))
		var err error
		if fail != nil && fail(i) {
			err = status.Error(grpccodes.ResourceExhausted, "overloaded")
		}
		b.ReleaseWith(c.took, err)
		idle++
		trace = append(trace, b.Capacity())
	}
	for range running {
		b.Release()
	}
	return trace
}

// adaptiveCases are the algorithms the behaviour tests run, configured for a service whose
// base latency is base: AIMD needs a latency threshold to see queueing (1.5·base), the
// gradient finds it alone.
func adaptiveCases(base time.Duration) []struct {
	name string
	cfg  bulkhead.Adaptive
} {
	return []struct {
		name string
		cfg  bulkhead.Adaptive
	}{
		{"aimd", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, LatencyThreshold: base * 3 / 2}},
		{"gradient", bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient}},
	}
}

// TestAdaptiveSettlesNearKnee checks that both algorithms settle near the knee of the service,
// far from the ceiling, whether they start below or above it, and never leave
// [MinLimit, MaxConcurrent].
func TestAdaptiveSettlesNearKnee(t *testing.T) {
	const base = 10 * time.Millisecond
	for _, ac := range adaptiveCases(base) {
		for _, knee := range []int{8, 16, 40} {
			for _, initial := range []int{0, 1, 100} { // 0: the default, a quarter of 200
				t.Run(fmt.Sprintf("%s/knee=%d/initial=%d", ac.name, knee, initial), func(t *testing.T) {
					cfg := ac.cfg
					cfg.MinLimit, cfg.InitialLimit = 1, initial
					clk := clocktest.New(time.Time{})
					b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 200, Adaptive: cfg}, bulkhead.WithClock(clk))
					trace := simulate(t, b, clk, service{knee: knee, base: base}, 300, 20000, nil)
					lo, hi := 200, 0
					for i, l := range trace {
						if l < 1 || l > 200 {
							t.Fatalf("limit %d after call %d, outside [1, 200]", l, i)
						}
						if i >= len(trace)/2 {
							lo, hi = min(lo, l), max(hi, l)
						}
					}
					t.Logf("second half: limit in [%d, %d]", lo, hi)
					if lo < knee/2 || hi > 2*knee {
						t.Errorf("second half of the run: limit in [%d, %d], want within [%d, %d]", lo, hi, knee/2, 2*knee)
					}
				})
			}
		}
	}
}

// TestAdaptiveFailuresAndRecovery runs a healthy phase, a phase where every call fails with an
// overload error (ResourceExhausted: the server sheds load), and a healthy phase again: the
// limit falls to the floor and grows back, and every LimitChanged event carries the limit the
// bulkhead then had.
func TestAdaptiveFailuresAndRecovery(t *testing.T) {
	const base, knee, floor = 10 * time.Millisecond, 16, 2
	for _, ac := range adaptiveCases(base) {
		t.Run(ac.name, func(t *testing.T) {
			rec := &testkit.Recorder{}
			cfg := ac.cfg
			cfg.MinLimit = floor
			clk := clocktest.New(time.Time{})
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 100, Adaptive: cfg}, bulkhead.WithObserver(rec), bulkhead.WithClock(clk))
			dep := service{knee: knee, base: base}
			healthy := simulate(t, b, clk, dep, 150, 3000, nil)
			settled := healthy[len(healthy)-1]
			if settled < knee/2 || settled > 2*knee {
				t.Fatalf("settled at %d, want near the knee %d", settled, knee)
			}
			failing := simulate(t, b, clk, dep, 150, 200, func(int) bool { return true })
			if got := failing[len(failing)-1]; got != floor {
				t.Fatalf("after 200 overload failures the limit is %d, want the floor %d", got, floor)
			}
			recovered := simulate(t, b, clk, dep, 150, 3000, nil)
			if got := recovered[len(recovered)-1]; got < knee/2 || got > 2*knee {
				t.Fatalf("after recovery the limit is %d, want near the knee %d", got, knee)
			}

			// Events: one per change of the integer limit, each with the limit after it.
			trace := append(append(append([]int(nil), healthy...), failing...), recovered...)
			evs := rec.Events(observe.LimitChanged)
			changes := 0
			prev := 25 // the initial limit
			for _, l := range trace {
				if l != prev {
					if changes >= len(evs) {
						t.Fatalf("%d events for more changes", len(evs))
					}
					e := evs[changes]
					if int(e.Value) != l || e.Reason != ac.name || e.Policy != observe.PolicyBulkhead || e.Service != svc || e.Duration <= 0 {
						t.Fatalf("event %d = %+v, want Value %d Reason %s", changes, e, l, ac.name)
					}
					changes++
				}
				prev = l
			}
			if changes != len(evs) || changes == 0 {
				t.Fatalf("%d limit changes, %d LimitChanged events", changes, len(evs))
			}
			if n := rec.Count(observe.Rejected); n != 0 {
				t.Errorf("%d Rejected events from TryAcquire, want none", n)
			}
		})
	}
}

// TestAdaptiveOutcomes checks which outcomes move the limit: overload failures shrink it,
// canceled and rejected calls, business errors and server faults leave it alone, successes
// count as latency samples, and WithClassifier changes the verdict.
func TestAdaptiveOutcomes(t *testing.T) {
	internalIsOverload, err := codes.Default().With(codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Internal: codes.Transient}})
	if err != nil {
		t.Fatal(err)
	}
	rejection := &codes.Rejection{Err: bulkhead.ErrFull, Code: grpccodes.ResourceExhausted, Reason: bulkhead.ReasonFull, Policy: observe.PolicyBulkhead, Service: svc}
	tests := []struct {
		name       string
		err        error
		classifier *codes.Classifier
		want       int // limit after one sample with the limit 10 in use
	}{
		{name: "success grows", err: nil, want: 11},
		{name: "business error is ignored", err: status.Error(grpccodes.InvalidArgument, "no face"), want: 10},
		{name: "server fault is ignored", err: status.Error(grpccodes.Internal, "bug"), want: 10},
		{name: "unavailable shrinks", err: status.Error(grpccodes.Unavailable, "down"), want: 9},
		{name: "deadline shrinks", err: status.Error(grpccodes.DeadlineExceeded, "slow"), want: 9},
		{name: "context deadline shrinks", err: context.DeadlineExceeded, want: 9},
		{name: "throttled shrinks", err: status.Error(grpccodes.ResourceExhausted, "busy"), want: 9},
		{name: "canceled is ignored", err: status.Error(grpccodes.Canceled, "bye"), want: 10},
		{name: "context canceled is ignored", err: context.Canceled, want: 10},
		{name: "a policy's rejection is ignored", err: rejection, want: 10},
		{name: "classifier override", err: status.Error(grpccodes.Internal, "oom"), classifier: internalIsOverload, want: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []bulkhead.Option
			if tt.classifier != nil {
				opts = append(opts, bulkhead.WithClassifier(tt.classifier))
			}
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 20, Adaptive: bulkhead.Adaptive{Algorithm: "aimd", InitialLimit: 10}}, opts...)
			for range 10 {
				if !b.TryAcquire() {
					t.Fatal("TryAcquire failed below the limit")
				}
			}
			b.ReleaseWith(time.Millisecond, tt.err)
			if got := b.Capacity(); got != tt.want {
				t.Errorf("limit = %d, want %d", got, tt.want)
			}
			for range 9 {
				b.Release() // no sample
			}
			if got := b.Capacity(); got != tt.want || b.InFlight() != 0 {
				t.Errorf("after plain Release: limit %d in flight %d, want %d 0", got, b.InFlight(), tt.want)
			}
		})
	}
}

// TestAdaptiveShrinkAndGrow checks the permits when the limit moves: a limit that falls below
// the calls in flight interrupts none and admits no new call until they are under it; a limit
// that rises admits waiters, oldest first.
func TestAdaptiveShrinkAndGrow(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 10, MaxWait: time.Hour,
		Adaptive: bulkhead.Adaptive{Algorithm: "aimd", InitialLimit: 8, BackoffRatio: 0.5}}, bulkhead.WithClock(clk))
	for range 8 {
		if !b.TryAcquire() {
			t.Fatal("TryAcquire below the limit failed")
		}
	}
	b.ReleaseWith(time.Millisecond, status.Error(grpccodes.Unavailable, "")) // 8 → 4, 7 in flight
	if b.Capacity() != 4 || b.InFlight() != 7 || b.Available() != 0 {
		t.Fatalf("limit %d in flight %d available %d, want 4 7 0", b.Capacity(), b.InFlight(), b.Available())
	}
	for range 3 {
		b.Release() // 4 in flight: still full
		if b.TryAcquire() {
			t.Fatalf("admitted with %d in flight over the limit %d", b.InFlight(), b.Capacity())
		}
	}
	b.Release() // 3 in flight
	if !b.TryAcquire() {
		t.Fatal("not admitted under the limit")
	}

	// Waiters queue on the full bulkhead; growing the limit admits them in order.
	const n = 3
	order := make(chan int, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			if err := b.Acquire(context.Background()); err != nil {
				errs <- err
				return
			}
			order <- i
		}()
		clk.BlockUntil(i + 1) // waiter i is queued before waiter i+1 starts
	}
	if b.TryAcquire() {
		t.Fatal("TryAcquire overtook the waiters")
	}
	// A plain Release frees one permit: the oldest waiter gets it.
	b.Release()
	if got := within.Recv(t, order, "no waiter was admitted once a permit was freed"); got != 0 {
		t.Fatalf("admitted waiter %d, want 0", got)
	}
	// A success with the limit in use adds one (samples count only for calls that started
	// after the last change: let time pass) and frees one: both other waiters get in.
	clk.Advance(time.Second)
	b.ReleaseWith(time.Millisecond, nil)
	if a, c := within.Recv(t, order, "no waiter was admitted once the limit grew"), within.Recv(t, order, "no second waiter was admitted once the limit grew"); a+c != 3 {
		t.Fatalf("admitted waiters %d and %d, want 1 and 2", a, c)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if b.Capacity() != 5 || b.InFlight() != 5 {
		t.Fatalf("limit %d in flight %d, want 5 5", b.Capacity(), b.InFlight())
	}
	for range 5 {
		b.Release()
	}
}

// TestAdaptiveUnarySamples checks the sample the unary interceptor takes: the clock's time from
// the slot taken to the invoker's return, and the call's outcome; a panic gives none.
func TestAdaptiveUnarySamples(t *testing.T) {
	tests := []struct {
		name      string
		took      time.Duration
		err       error
		panics    bool
		wantLimit int
		wantEvent time.Duration // the Duration of the LimitChanged event; 0: no event
	}{
		{name: "fast success grows", took: 5 * time.Millisecond, wantLimit: 3, wantEvent: 5 * time.Millisecond},
		{name: "slow success is a drop", took: 50 * time.Millisecond, wantLimit: 1, wantEvent: 50 * time.Millisecond},
		{name: "overload failure", took: time.Millisecond, err: status.Error(grpccodes.ResourceExhausted, ""), wantLimit: 1, wantEvent: time.Millisecond},
		{name: "fast transient failure is no sample", took: time.Millisecond, err: status.Error(grpccodes.Unavailable, ""), wantLimit: 2},
		{name: "slow transient failure is a drop", took: 20 * time.Millisecond, err: status.Error(grpccodes.Unavailable, ""), wantLimit: 1, wantEvent: 20 * time.Millisecond},
		{name: "canceled", took: time.Millisecond, err: status.Error(grpccodes.Canceled, ""), wantLimit: 2},
		{name: "panic", took: time.Millisecond, panics: true, wantLimit: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			rec := &testkit.Recorder{}
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{
				Algorithm: "aimd", InitialLimit: 2, LatencyThreshold: 20 * time.Millisecond, BackoffRatio: 0.5,
			}}, bulkhead.WithClock(clk), bulkhead.WithObserver(rec))
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				clk.Advance(tt.took)
				if tt.panics {
					panic("boom")
				}
				return tt.err
			}
			func() {
				defer func() {
					if p := recover(); (p != nil) != tt.panics {
						t.Fatalf("recover = %v", p)
					}
				}()
				if err := b.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker); !errors.Is(err, tt.err) {
					t.Fatalf("Unary = %v, want %v", err, tt.err)
				}
			}()
			if b.Capacity() != tt.wantLimit || b.InFlight() != 0 {
				t.Fatalf("limit %d in flight %d, want %d 0", b.Capacity(), b.InFlight(), tt.wantLimit)
			}
			evs := rec.Events(observe.LimitChanged)
			if tt.wantEvent == 0 {
				if len(evs) != 0 {
					t.Fatalf("events %+v, want none", evs)
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("%d LimitChanged events, want 1", len(evs))
			}
			if e := evs[0]; e.Duration != tt.wantEvent || int(e.Value) != tt.wantLimit || e.Method != testkit.MethodCompare || e.Reason != "aimd" {
				t.Errorf("event = %+v", e)
			}
		})
	}
}

// TestAdaptiveStreamSamples checks the sample of a stream: from open to its end, with the
// error that ended it.
func TestAdaptiveStreamSamples(t *testing.T) {
	serverStream := &grpc.StreamDesc{ServerStreams: true}
	tests := []struct {
		name      string
		openErr   error
		recv      []error
		deadline  bool // end the stream by its context's deadline, passing after it opened, instead
		cancel    bool // end it by canceling its context
		wantLimit int
	}{
		{name: "EOF is a success", recv: []error{nil, nil}, wantLimit: 3},
		{name: "unavailable mid-stream", recv: []error{nil, status.Error(grpccodes.Unavailable, "")}, wantLimit: 1},
		{name: "open fails with overload", openErr: status.Error(grpccodes.Unavailable, ""), wantLimit: 1},
		{name: "open fails with a business error: no sample", openErr: status.Error(grpccodes.PermissionDenied, ""), wantLimit: 2},
		{name: "caller cancels", cancel: true, wantLimit: 2},
		{name: "deadline passes", deadline: true, wantLimit: 1},
	}
	// A stream whose deadline had passed before it opened is no sample: see
	// TestEndedContextTakesNoSlot.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{
				Algorithm: "aimd", InitialLimit: 2, BackoffRatio: 0.5,
			}}, bulkhead.WithClock(clk))
			expiring := testkit.NewExpiring(t, context.Background())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.deadline {
				ctx = expiring
			}
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				if tt.openErr != nil {
					return nil, tt.openErr
				}
				return &fakeStream{ctx: ctx, recv: tt.recv}, nil
			}
			cs, err := b.Stream()(ctx, serverStream, nil, testkit.MethodCheck, streamer)
			if !errors.Is(err, tt.openErr) {
				t.Fatalf("open = %v", err)
			}
			switch {
			case tt.cancel:
				cancel()
			case tt.deadline:
				expiring.Expire()
			case cs != nil:
				for range len(tt.recv) + 1 {
					_ = cs.RecvMsg(nil)
				}
			}
			eventually(t, "stream released", func() bool { return b.InFlight() == 0 })
			if got := b.Capacity(); got != tt.wantLimit {
				t.Errorf("limit = %d, want %d", got, tt.wantLimit)
			}
			if cs != nil {
				_ = cs.RecvMsg(nil) // a second end is no second release
			}
			if b.InFlight() != 0 {
				t.Errorf("InFlight = %d", b.InFlight())
			}
		})
	}
}

// TestAdaptiveAllocs checks that the hot paths allocate nothing, in fixed and adaptive mode:
// taking a free slot, giving it back with a sample (limit events included), and the unary
// interceptor around a call.
func TestAdaptiveAllocs(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	for _, alg := range []bulkhead.Algorithm{bulkhead.AlgorithmNone, bulkhead.AlgorithmAIMD, bulkhead.AlgorithmGradient} {
		cfg := bulkhead.Config{MaxConcurrent: 1000}
		if alg != bulkhead.AlgorithmNone {
			cfg.Adaptive = bulkhead.Adaptive{Algorithm: alg, MinLimit: 1, InitialLimit: 1}
		}
		events := 0
		b := newAdaptive(t, cfg, bulkhead.WithObserver(observe.SinkFunc(func(observe.Event) { events++ })))
		ic := b.Unary()
		ctx := context.Background()
		paths := []struct {
			name string
			f    func()
		}{
			{"Acquire+Release", func() { _ = b.Acquire(ctx); b.Release() }},
			{"TryAcquire+ReleaseWith(nil)", func() { b.TryAcquire(); b.ReleaseWith(time.Millisecond, nil) }},
			{"TryAcquire+ReleaseWith(Unavailable)", func() { b.TryAcquire(); b.ReleaseWith(time.Millisecond, unavailable) }},
			{"Unary", func() { _ = ic(ctx, testkit.MethodCompare, nil, nil, nil, invoker) }},
		}
		for _, p := range paths {
			if got := testing.AllocsPerRun(100, p.f); got != 0 {
				t.Errorf("%s %s: %v allocs per run, want 0", alg, p.name, got)
			}
		}
		if alg != bulkhead.AlgorithmNone && events == 0 {
			t.Errorf("%s: no LimitChanged event during the runs: the event path was not measured", alg)
		}
		if b.InFlight() != 0 {
			t.Errorf("%s: InFlight = %d", alg, b.InFlight())
		}
	}
}

// TestAIMDBackoffRoundsDownTheExactProduct checks that a drop takes the limit (AIMD's, and the
// gradient's, which backs off as AIMD does) to the whole part of limit × BackoffRatio as
// written, not one less when the product in floating point falls a hair below a whole number:
// 90 × 0.7 is 63 (62.99999999999999 in float64), 50 × 0.58 is 29.
func TestAIMDBackoffRoundsDownTheExactProduct(t *testing.T) {
	tests := []struct {
		limit int
		ratio float64
		want  int
	}{
		{limit: 90, ratio: 0.7, want: 63},
		{limit: 50, ratio: 0.58, want: 29},
		{limit: 100, ratio: 0.57, want: 57},
		{limit: 150, ratio: 0.82, want: 123},
		{limit: 10, ratio: 0.9, want: 9},
		{limit: 89, ratio: 0.7, want: 62}, // 62.3: rounded down as ever
	}
	for _, alg := range []bulkhead.Algorithm{bulkhead.AlgorithmAIMD, bulkhead.AlgorithmGradient} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s %d×%v", alg, tt.limit, tt.ratio), func(t *testing.T) {
				clk := clocktest.New(time.Time{})
				b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 200,
					Adaptive: bulkhead.Adaptive{Algorithm: alg, InitialLimit: tt.limit, BackoffRatio: tt.ratio}}, bulkhead.WithClock(clk))
				if !b.TryAcquire() {
					t.Fatal("TryAcquire on an empty bulkhead failed")
				}
				b.ReleaseWith(time.Millisecond, status.Error(grpccodes.Unavailable, "")) // a drop
				if got := b.Capacity(); got != tt.want {
					t.Fatalf("limit after a drop from %d at ratio %v = %d, want %d", tt.limit, tt.ratio, got, tt.want)
				}
			})
		}
	}
}

// TestAdaptiveClassifierPanicGivesTheSlotBack checks that a call whose error makes the
// classifier panic after the invoker returned still gives its slot back, with no sample, and
// that the panic reaches the caller: a leaked slot would shrink the bulkhead for good.
func TestAdaptiveClassifierPanicGivesTheSlotBack(t *testing.T) {
	clk := clocktest.New(time.Time{})
	b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{
		Algorithm: "aimd", InitialLimit: 2, LatencyThreshold: 20 * time.Millisecond,
	}}, bulkhead.WithClock(clk))
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		clk.Advance(time.Millisecond)
		return testkit.PanickingStatus()
	}
	for range 3 { // more calls than the limit: each must find a slot
		func() {
			defer func() {
				if p := recover(); p == nil {
					t.Fatal("no panic reached the caller")
				}
			}()
			_ = b.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker)
		}()
		if b.InFlight() != 0 || b.Capacity() != 2 {
			t.Fatalf("in flight %d limit %d after a classifier panic, want 0 2", b.InFlight(), b.Capacity())
		}
	}
}

// TestReleaseWithClassifierPanicGivesTheSlotBack is the same for ReleaseWith.
func TestReleaseWithClassifierPanicGivesTheSlotBack(t *testing.T) {
	b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{Algorithm: "aimd", InitialLimit: 2}})
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Fatal("no panic reached the caller")
			}
		}()
		b.ReleaseWith(time.Millisecond, testkit.PanickingStatus())
	}()
	if b.InFlight() != 0 {
		t.Fatalf("in flight %d after a classifier panic in ReleaseWith, want 0", b.InFlight())
	}
}

// TestAdaptiveCallerCancelIsNoSample checks that a call the caller canceled is no sample,
// whatever error it ends with: per-RPC credentials may answer a token fetch the cancellation
// cut short with Unavailable (gRFC A54 lets them), and grpc fails the call with it, which says
// nothing about the service's load (as the breaker and the throttle read it).
func TestAdaptiveCallerCancelIsNoSample(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "fetching token: context canceled")
	cfg := bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{Algorithm: "aimd", InitialLimit: 2, BackoffRatio: 0.5}}
	t.Run("unary", func(t *testing.T) {
		clk := clocktest.New(time.Time{})
		b := newAdaptive(t, cfg, bulkhead.WithClock(clk))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			clk.Advance(time.Millisecond)
			cancel()
			return unavailable
		}
		if err := b.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, invoker); !errors.Is(err, unavailable) {
			t.Fatalf("Unary = %v", err)
		}
		if b.Capacity() != 2 || b.InFlight() != 0 {
			t.Errorf("limit %d in flight %d, want 2 0: a canceled call moved the limit", b.Capacity(), b.InFlight())
		}
	})
	t.Run("stream open", func(t *testing.T) {
		clk := clocktest.New(time.Time{})
		b := newAdaptive(t, cfg, bulkhead.WithClock(clk))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			clk.Advance(time.Millisecond)
			cancel()
			return nil, unavailable
		}
		if _, err := b.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer); !errors.Is(err, unavailable) {
			t.Fatalf("open = %v", err)
		}
		if b.Capacity() != 2 || b.InFlight() != 0 {
			t.Errorf("limit %d in flight %d, want 2 0: a canceled stream moved the limit", b.Capacity(), b.InFlight())
		}
	})
	t.Run("stream recv", func(t *testing.T) {
		clk := clocktest.New(time.Time{})
		b := newAdaptive(t, cfg, bulkhead.WithClock(clk))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		fs := &fakeStream{ctx: ctx, recv: []error{unavailable}}
		streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			return fs, nil
		}
		cs, err := b.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
		if err != nil {
			t.Fatal(err)
		}
		fs.onRecv = func() { clk.Advance(time.Millisecond); cancel() }
		if err := cs.RecvMsg(nil); !errors.Is(err, unavailable) {
			t.Fatalf("RecvMsg = %v", err)
		}
		if b.Capacity() != 2 || b.InFlight() != 0 {
			t.Errorf("limit %d in flight %d, want 2 0: a canceled stream moved the limit", b.Capacity(), b.InFlight())
		}
	})
}

// TestAdaptiveCutAttemptIsATimeout: a call that a retry loop's per-attempt timeout cut by
// canceling its context (retry.CutOvertaken: the flag outcome.WithCutFlag carries, set) is
// the timeout's DeadlineExceeded, judged as the deadline it is: here held 20ms, a drop, as a
// call its context's deadline ended would be. The same cancel without the flag is the
// caller's, and no sample.
func TestAdaptiveCutAttemptIsATimeout(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cut       bool
		wantLimit int
	}{
		{"cut by its per-attempt timeout", true, 1},
		{"canceled by its caller", false, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			b := newAdaptive(t, bulkhead.Config{MaxConcurrent: 4, Adaptive: bulkhead.Adaptive{
				Algorithm: "aimd", InitialLimit: 2, LatencyThreshold: 20 * time.Millisecond, BackoffRatio: 0.5,
			}}, bulkhead.WithClock(clk))
			var flag atomic.Bool
			ctx, cancel := context.WithCancel(outcome.WithCutFlag(context.Background(), &flag))
			defer cancel()
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				clk.Advance(20 * time.Millisecond)
				flag.Store(tt.cut)
				cancel()
				return status.Error(grpccodes.Canceled, "context canceled")
			}
			_ = b.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, invoker)
			if b.Capacity() != tt.wantLimit || b.InFlight() != 0 {
				t.Errorf("limit %d in flight %d, want %d 0", b.Capacity(), b.InFlight(), tt.wantLimit)
			}
		})
	}
}
