package breaker

import (
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const svc = "kyc.v1.FaceMatchService"

var (
	errFail   = status.Error(grpccodes.Unavailable, "down")
	errBiz    = status.Error(grpccodes.InvalidArgument, "unreadable document")
	errCancel = status.Error(grpccodes.Canceled, "caller gave up")
)

// call is one scripted call: wait before it, then take this long and end with err.
type call struct {
	wait time.Duration
	took time.Duration
	err  error
}

func calls(n int, err error) []call {
	out := make([]call, n)
	for i := range out {
		out[i] = call{err: err}
	}
	return out
}

func seq(parts ...[]call) []call {
	var out []call
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func slow(n int, took time.Duration) []call {
	out := make([]call, n)
	for i := range out {
		out[i] = call{took: took}
	}
	return out
}

// run makes the calls in order and returns how many were rejected.
func run(t *testing.T, b *Breaker, clk *clocktest.Fake, cs []call) (rejected int) {
	t.Helper()
	for _, c := range cs {
		clk.Advance(c.wait)
		p, err := b.Allow()
		if err != nil {
			rejected++
			continue
		}
		clk.Advance(c.took)
		p.Done(c.err)
	}
	return rejected
}

func newTest(t *testing.T, cfg Config, opts ...Option) (*Breaker, *clocktest.Fake, *testkit.Recorder) {
	t.Helper()
	clk := clocktest.New(time.Time{})
	rec := new(testkit.Recorder)
	b, err := New(svc, cfg, append([]Option{WithClock(clk), WithObserver(rec)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b, clk, rec
}

func lastChange(rec *testkit.Recorder) observe.Event {
	evs := rec.Events(observe.BreakerStateChanged)
	if len(evs) == 0 {
		return observe.Event{}
	}
	return evs[len(evs)-1]
}

func TestTripping(t *testing.T) {
	rate := Config{FailureRateThreshold: 0.5, WindowSize: 10}
	timeWin := Config{FailureRateThreshold: 0.5, WindowType: WindowTime, WindowDuration: 10 * time.Second, MinimumCalls: 4}
	slowCfg := Config{ConsecutiveFailures: 100, SlowCallDuration: time.Second, SlowCallRateThreshold: 0.5, WindowSize: 4}
	tests := []struct {
		name       string
		cfg        Config
		calls      []call
		wantState  State
		wantReason string
		wantWindow [3]int // calls, failures, slow calls in the window at the end
		wantConsec int
	}{
		{name: "default: 5 consecutive failures trip", calls: calls(5, errFail), wantState: Open, wantReason: ReasonConsecutiveFailures},
		{name: "default: 4 failures do not", calls: calls(4, errFail), wantState: Closed, wantConsec: 4},
		{name: "a success resets the run", calls: seq(calls(4, errFail), calls(1, nil), calls(4, errFail)), wantState: Closed, wantConsec: 4},
		{name: "business errors are successes", calls: seq(calls(4, errFail), calls(1, errBiz), calls(4, errFail)), wantState: Closed, wantConsec: 4},
		{name: "cancellations neither count nor reset", calls: seq(calls(4, errFail), calls(3, errCancel), calls(1, errFail)), wantState: Open, wantReason: ReasonConsecutiveFailures},
		{name: "throttled and server faults are failures", cfg: Config{ConsecutiveFailures: 2}, calls: []call{{err: status.Error(grpccodes.ResourceExhausted, "")}, {err: status.Error(grpccodes.Internal, "")}}, wantState: Open, wantReason: ReasonConsecutiveFailures},

		{name: "count window: a partial window is never judged", cfg: rate, calls: calls(9, errFail), wantState: Closed, wantWindow: [3]int{9, 9, 0}, wantConsec: 9},
		{name: "count window: the completing call must be a failure", cfg: rate, calls: seq(calls(5, errFail), calls(5, nil)), wantState: Closed, wantWindow: [3]int{10, 5, 0}},
		{name: "count window: the next failure trips", cfg: rate, calls: seq(calls(5, errFail), calls(5, nil), calls(1, errFail)), wantState: Open, wantReason: ReasonFailureRate},
		{name: "count window: a completing failure trips", cfg: rate, calls: seq(calls(5, nil), calls(5, errFail)), wantState: Open, wantReason: ReasonFailureRate},
		{name: "count window: under the threshold", cfg: rate, calls: seq(calls(6, nil), calls(4, errFail)), wantState: Closed, wantWindow: [3]int{10, 4, 0}, wantConsec: 4},
		{name: "count window: business errors are successes", cfg: rate, calls: seq(calls(6, errBiz), calls(4, errFail)), wantState: Closed, wantWindow: [3]int{10, 4, 0}, wantConsec: 4},
		{name: "count window: cancellations stay out", cfg: rate, calls: seq(calls(5, errCancel), calls(5, errFail)), wantState: Closed, wantWindow: [3]int{5, 5, 0}, wantConsec: 5},
		{name: "count window: old outcomes slide out", cfg: rate, calls: seq(calls(4, errFail), calls(10, nil), calls(4, errFail)), wantState: Closed, wantWindow: [3]int{10, 4, 0}, wantConsec: 4},
		{name: "count window: minimum calls below the size", cfg: Config{FailureRateThreshold: 0.5, WindowSize: 10, MinimumCalls: 4}, calls: seq(calls(1, nil), calls(1, errFail), calls(1, nil), calls(1, errFail)), wantState: Open, wantReason: ReasonFailureRate},
		{name: "rate and consecutive together", cfg: Config{ConsecutiveFailures: 3, FailureRateThreshold: 0.9}, calls: calls(3, errFail), wantState: Open, wantReason: ReasonConsecutiveFailures},

		{name: "time window: trips within the window", cfg: timeWin, calls: seq(calls(3, errFail), []call{{wait: 9 * time.Second, err: errFail}}), wantState: Open, wantReason: ReasonFailureRate},
		{name: "time window: old buckets expire", cfg: timeWin, calls: seq(calls(3, errFail), []call{{wait: 10 * time.Second, err: errFail}}), wantState: Closed, wantWindow: [3]int{1, 1, 0}, wantConsec: 4},
		{name: "time window: partly expired", cfg: timeWin, calls: seq(calls(2, errFail), []call{{wait: 5 * time.Second}, {}, {wait: 6 * time.Second}, {err: errFail}}), wantState: Closed, wantWindow: [3]int{4, 1, 0}, wantConsec: 1},
		{name: "time window: minimum calls", cfg: timeWin, calls: calls(3, errFail), wantState: Closed, wantWindow: [3]int{3, 3, 0}, wantConsec: 3},

		{name: "slow calls: rate reached by a slow call", cfg: slowCfg, calls: seq(slow(2, 0), slow(2, 2*time.Second)), wantState: Open, wantReason: ReasonSlowCallRate},
		{name: "slow calls: judged only when a slow call is recorded", cfg: slowCfg, calls: seq(slow(2, 2*time.Second), slow(2, 0)), wantState: Closed, wantWindow: [3]int{4, 0, 2}},
		{name: "slow calls: exactly SlowCallDuration is not slow", cfg: slowCfg, calls: slow(4, time.Second), wantState: Closed, wantWindow: [3]int{4, 0, 0}},
		{name: "slow calls: default threshold is all calls", cfg: Config{SlowCallDuration: time.Second, WindowSize: 2}, calls: slow(2, 3*time.Second), wantState: Open, wantReason: ReasonSlowCallRate},
		{name: "slow calls: cancelled slow calls stay out", cfg: slowCfg, calls: seq(slow(2, 0), []call{{took: 5 * time.Second, err: errCancel}, {took: 5 * time.Second, err: errCancel}}), wantState: Closed, wantWindow: [3]int{2, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, rec := newTest(t, tt.cfg)
			if got := run(t, b, clk, tt.calls); got != 0 {
				t.Fatalf("rejected %d calls before the end", got)
			}
			st := b.Stats()
			if st.State != tt.wantState {
				t.Fatalf("state = %v, want %v", st.State, tt.wantState)
			}
			if tt.wantState == Open {
				ev := lastChange(rec)
				if ev.From != "closed" || ev.To != "open" || ev.Reason != tt.wantReason {
					t.Fatalf("event %s→%s (%s), want closed→open (%s)", ev.From, ev.To, ev.Reason, tt.wantReason)
				}
				return
			}
			if got := [3]int{st.WindowCalls, st.WindowFailures, st.WindowSlowCalls}; got != tt.wantWindow {
				t.Errorf("window = %v, want %v", got, tt.wantWindow)
			}
			if st.ConsecutiveFailures != tt.wantConsec {
				t.Errorf("consecutive failures = %d, want %d", st.ConsecutiveFailures, tt.wantConsec)
			}
			if n := rec.Count(observe.BreakerStateChanged); n != 0 {
				t.Errorf("%d state changes, want none", n)
			}
		})
	}
}

// trip opens b with failures and returns when it opened.
func trip(t *testing.T, b *Breaker, clk *clocktest.Fake) time.Time {
	t.Helper()
	for b.State() == Closed {
		p, err := b.Allow()
		if err != nil {
			t.Fatalf("Allow while closed: %v", err)
		}
		p.Done(errFail)
	}
	if s := b.State(); s != Open {
		t.Fatalf("state = %v after failures, want open", s)
	}
	return clk.Now()
}

func rejection(t *testing.T, err error) *codes.Rejection {
	t.Helper()
	var r *codes.Rejection
	if !errors.As(err, &r) {
		t.Fatalf("err = %v, want a *codes.Rejection", err)
	}
	return r
}

func TestRecoveryTimeout(t *testing.T) {
	tests := []struct {
		name           string
		after          time.Duration
		wantState      State
		wantRetryAfter time.Duration
	}{
		{name: "just opened", after: 0, wantState: Open, wantRetryAfter: 30 * time.Second},
		{name: "midway", after: 10 * time.Second, wantState: Open, wantRetryAfter: 20 * time.Second},
		{name: "1ns before", after: 30*time.Second - 1, wantState: Open, wantRetryAfter: 1},
		{name: "exactly at", after: 30 * time.Second, wantState: HalfOpen},
		{name: "long after", after: time.Hour, wantState: HalfOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, rec := newTest(t, Config{})
			trip(t, b, clk)
			clk.Advance(tt.after)
			if s := b.State(); s != tt.wantState {
				t.Fatalf("State() = %v, want %v", s, tt.wantState)
			}
			p, err := b.Allow()
			if tt.wantState == HalfOpen {
				if err != nil {
					t.Fatalf("Allow in half-open: %v", err)
				}
				ev := lastChange(rec)
				if ev.From != "open" || ev.To != "half_open" || ev.Reason != ReasonRecoveryTimeout || !ev.Time.Equal(clk.Now()) {
					t.Fatalf("event %+v, want open→half_open (recovery_timeout) now", ev)
				}
				p.Done(nil)
				return
			}
			if got := rejection(t, err).RetryAfter; got != tt.wantRetryAfter {
				t.Fatalf("RetryAfter = %v, want %v", got, tt.wantRetryAfter)
			}
		})
	}
}

// halfOpen trips b and waits out its recovery timeout.
func halfOpen(t *testing.T, b *Breaker, clk *clocktest.Fake) {
	t.Helper()
	trip(t, b, clk)
	clk.Advance(b.Config().RecoveryTimeout)
	if s := b.State(); s != HalfOpen {
		t.Fatalf("state = %v, want half_open", s)
	}
}

func TestHalfOpen(t *testing.T) {
	type probe struct {
		admit  bool  // Allow is expected to admit it
		finish []int // after this Allow, finish these earlier probes (by index) in order
		err    error
		took   time.Duration
	}
	tests := []struct {
		name       string
		cfg        Config
		probes     []probe
		wantState  State
		wantReason string
		wantStats  Stats
	}{
		{
			name:       "one probe succeeds",
			probes:     []probe{{admit: true, finish: []int{0}}},
			wantState:  Closed,
			wantReason: ReasonProbesSucceeded,
			wantStats:  Stats{Calls: 1, Successes: 1},
		},
		{
			name:       "excess probes are rejected",
			cfg:        Config{HalfOpenMaxCalls: 2},
			probes:     []probe{{admit: true}, {admit: true}, {admit: false}, {admit: false, finish: []int{0, 1}}},
			wantState:  Closed,
			wantReason: ReasonProbesSucceeded,
			wantStats:  Stats{Calls: 2, Successes: 2, Rejections: 2},
		},
		{
			name:       "success threshold below max closes early",
			cfg:        Config{HalfOpenMaxCalls: 3, SuccessThreshold: 1},
			probes:     []probe{{admit: true}, {admit: true, finish: []int{1}}},
			wantState:  Closed,
			wantReason: ReasonProbesSucceeded,
			wantStats:  Stats{Calls: 1, Successes: 1},
		},
		{
			name:       "successes add up across probes",
			cfg:        Config{HalfOpenMaxCalls: 2},
			probes:     []probe{{admit: true, finish: []int{0}}, {admit: true, finish: []int{1}}},
			wantState:  Closed,
			wantReason: ReasonProbesSucceeded,
			wantStats:  Stats{Calls: 2, Successes: 2},
		},
		{
			name:       "a business error is a successful probe",
			probes:     []probe{{admit: true, err: errBiz, finish: []int{0}}},
			wantState:  Closed,
			wantReason: ReasonProbesSucceeded,
			wantStats:  Stats{Calls: 1, Successes: 1},
		},
		{
			name:       "a failed probe re-opens",
			cfg:        Config{HalfOpenMaxCalls: 2},
			probes:     []probe{{admit: true}, {admit: true, err: errFail, finish: []int{1}}},
			wantState:  Open,
			wantReason: ReasonProbeFailed,
			wantStats:  Stats{Calls: 1, Failures: 1},
		},
		{
			name:       "a slow probe re-opens",
			cfg:        Config{SlowCallDuration: time.Second},
			probes:     []probe{{admit: true, took: 2 * time.Second, finish: []int{0}}},
			wantState:  Open,
			wantReason: ReasonProbeSlow,
			wantStats:  Stats{Calls: 1, Successes: 1, SlowCalls: 1},
		},
		{
			name:       "a cancelled probe frees its slot",
			probes:     []probe{{admit: true, err: errCancel, finish: []int{0}}, {admit: true}, {admit: false}},
			wantState:  HalfOpen,
			wantReason: ReasonRecoveryTimeout,
			wantStats:  Stats{Calls: 1, Ignored: 1, Rejections: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, rec := newTest(t, tt.cfg)
			halfOpen(t, b, clk)
			before := b.Stats()
			var permits []Permit
			finished := map[int]bool{}
			for i, pr := range tt.probes {
				p, err := b.Allow()
				if (err == nil) != pr.admit {
					t.Fatalf("probe %d: Allow err = %v, want admitted %v", i, err, pr.admit)
				}
				if err != nil {
					// Every slot was taken just now: the longest wait is the wait for the probes
					// (HalfOpenMaxWait), then the next interval.
					r := rejection(t, err)
					if r.Reason != ReasonCircuitOpen || r.RetryAfter != b.Config().HalfOpenMaxWait+b.Config().RecoveryTimeout || !errors.Is(err, ErrOpen) {
						t.Fatalf("probe %d rejection = %+v", i, r)
					}
				}
				permits = append(permits, p)
				clk.Advance(pr.took)
				for _, j := range pr.finish {
					permits[j].Done(tt.probes[j].err)
					finished[j] = true
				}
			}
			if s := b.State(); s != tt.wantState {
				t.Fatalf("state = %v, want %v", s, tt.wantState)
			}
			if ev := lastChange(rec); ev.Reason != tt.wantReason || ev.To != tt.wantState.String() {
				t.Fatalf("last event %s→%s (%s), want →%v (%s)", ev.From, ev.To, ev.Reason, tt.wantState, tt.wantReason)
			}
			// The probes' outcomes and rejections, counted over the half-open period.
			after := b.Stats()
			got := Stats{
				Calls: after.Calls - before.Calls, Successes: after.Successes - before.Successes,
				Failures: after.Failures - before.Failures, Ignored: after.Ignored - before.Ignored,
				SlowCalls: after.SlowCalls - before.SlowCalls, Dropped: after.Dropped - before.Dropped,
				Rejections: after.Rejections - before.Rejections,
			}
			if got != tt.wantStats {
				t.Errorf("stats over the probes = %+v, want %+v", got, tt.wantStats)
			}
			// Every permit is released. A probe that ends after the half-open period did
			// (closed or re-opened) is dropped: it changes neither the state nor the counts
			// of the new period.
			unfinished := 0
			for i, pr := range tt.probes {
				if pr.admit && !finished[i] {
					unfinished++
					if tt.wantState == HalfOpen {
						permits[i].Done(errCancel)
					} else {
						permits[i].Done(errFail)
					}
				}
			}
			if tt.wantState != HalfOpen {
				if d := b.Stats().Dropped - after.Dropped; d != uint64(unfinished) || b.State() != tt.wantState {
					t.Errorf("late probes: %d dropped, state %v; want %d dropped, state %v", d, b.State(), unfinished, tt.wantState)
				}
			}
			if tt.wantState == Open {
				// A new recovery timeout starts at the failed probe.
				_, err := b.Allow()
				if got := rejection(t, err).RetryAfter; got != b.Config().RecoveryTimeout {
					t.Fatalf("RetryAfter after re-open = %v, want %v", got, b.Config().RecoveryTimeout)
				}
			}
		})
	}
}

func TestOperatorControls(t *testing.T) {
	b, clk, rec := newTest(t, Config{})
	p0, _ := b.Allow() // A call admitted before the operator steps in.

	b.ForceOpen()
	b.ForceOpen() // No change, no event.
	_, err := b.Allow()
	if r := rejection(t, err); r.RetryAfter != 0 || !errors.Is(err, ErrOpen) {
		t.Fatalf("forced-open rejection = %+v, want no RetryAfter", r)
	}
	clk.Advance(time.Hour)
	if s := b.State(); s != ForcedOpen {
		t.Fatalf("state = %v an hour after ForceOpen, want forced_open", s)
	}
	p0.Done(nil) // Late: dropped.

	b.Disable()
	for range 20 {
		if err := b.Execute(func() error { return errFail }); !errors.Is(err, errFail) {
			t.Fatalf("disabled Execute = %v", err)
		}
	}
	if s := b.State(); s != Disabled {
		t.Fatalf("state = %v after failures while disabled, want disabled", s)
	}

	b.Reset()
	if got, want := b.Stats(), (Stats{State: Closed}); got != want {
		t.Fatalf("Stats after Reset = %+v, want %+v", got, want)
	}
	b.Reset() // Already closed: clears, no event.

	var got [][3]string
	for _, ev := range rec.Events(observe.BreakerStateChanged) {
		got = append(got, [3]string{ev.From, ev.To, ev.Reason})
	}
	want := [][3]string{
		{"closed", "forced_open", ReasonForcedOpen},
		{"forced_open", "disabled", ReasonDisabled},
		{"disabled", "closed", ReasonReset},
	}
	if len(got) != len(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestGenerations(t *testing.T) {
	t.Run("late result after a trip is dropped", func(t *testing.T) {
		b, clk, _ := newTest(t, Config{ConsecutiveFailures: 2})
		late, _ := b.Allow()
		trip(t, b, clk)
		late.Done(errFail)
		late2, _ := Permit{}, error(nil)
		late2.Done(errFail) // The zero Permit records nothing.
		st := b.Stats()
		if st.State != Open || st.Dropped != 1 || st.Failures != 3 || st.StateChanges != 1 {
			t.Fatalf("stats = %+v, want open, 1 dropped of 3 failures, 1 change", st)
		}
	})
	t.Run("late success cannot close a re-opened breaker", func(t *testing.T) {
		b, clk, _ := newTest(t, Config{})
		halfOpen(t, b, clk)
		stale, _ := b.Allow() // Probe of the first half-open period.
		b.ForceOpen()
		b.Reset()
		halfOpen(t, b, clk)
		fresh, err := b.Allow()
		if err != nil {
			t.Fatalf("fresh probe: %v", err)
		}
		stale.Done(nil)
		if s := b.State(); s != HalfOpen {
			t.Fatalf("state = %v after a stale probe, want half_open", s)
		}
		// The stale probe did not free the fresh probe's slot.
		if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
			t.Fatalf("second probe admitted while the fresh one is in flight (err %v)", err)
		}
		fresh.Done(nil)
		if s := b.State(); s != Closed {
			t.Fatalf("state = %v after the fresh probe succeeded, want closed", s)
		}
	})
	t.Run("late result after Reset is dropped", func(t *testing.T) {
		b, _, _ := newTest(t, Config{ConsecutiveFailures: 1})
		late, _ := b.Allow()
		b.Reset()
		late.Done(errFail)
		if st := b.Stats(); st.State != Closed || st.Dropped != 1 {
			t.Fatalf("stats = %+v, want closed with 1 dropped", st)
		}
	})
}

func TestRejectionStatus(t *testing.T) {
	b, clk, rec := newTest(t, Config{}, WithService("kyc.v1.OCRService"))
	trip(t, b, clk)
	clk.Advance(12 * time.Second)
	_, err := b.Allow()

	if !errors.Is(err, ErrOpen) {
		t.Errorf("errors.Is(err, ErrOpen) = false")
	}
	if got := status.Code(err); got != grpccodes.Unavailable {
		t.Errorf("status.Code = %v, want Unavailable", got)
	}
	if v := codes.Default().Classify(err); v.Class != codes.Rejected || v.Reason != ReasonCircuitOpen {
		t.Errorf("classified as %v (%s), want rejected (CIRCUIT_OPEN)", v.Class, v.Reason)
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("status.FromError failed")
	}
	var (
		info  *errdetails.ErrorInfo
		retry *errdetails.RetryInfo
	)
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	wantMeta := map[string]string{"policy": "breaker", "service": "kyc.v1.OCRService", "retry_after_ms": "18000"}
	if info == nil || info.GetReason() != "CIRCUIT_OPEN" || info.GetDomain() != codes.Domain {
		t.Fatalf("ErrorInfo = %v", info)
	}
	for k, v := range wantMeta {
		if info.GetMetadata()[k] != v {
			t.Errorf("ErrorInfo metadata %q = %q, want %q", k, info.GetMetadata()[k], v)
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() != 18*time.Second {
		t.Errorf("RetryInfo = %v, want 18s", retry)
	}

	evs := rec.Events(observe.Rejected)
	if len(evs) != 1 {
		t.Fatalf("%d rejection events, want 1", len(evs))
	}
	want := observe.Event{
		Kind: observe.Rejected, Time: clk.Now(), Service: "kyc.v1.OCRService", Policy: observe.PolicyBreaker,
		Code: grpccodes.Unavailable, Class: codes.Rejected, Reason: ReasonCircuitOpen, Delay: 18 * time.Second,
	}
	if evs[0] != want {
		t.Errorf("event = %+v, want %+v", evs[0], want)
	}
	if got := b.Stats().Rejections; got != 1 {
		t.Errorf("Rejections = %d, want 1", got)
	}
}

func TestEventsCycle(t *testing.T) {
	b, clk, rec := newTest(t, Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Second})
	start := clk.Now()
	_ = b.Execute(func() error { return errFail }) // closed → open
	clk.Advance(time.Second)                       // due
	_ = b.Execute(func() error { return errFail }) // open → half_open → open
	clk.Advance(time.Second)                       //
	_ = b.Execute(func() error { return nil })     // open → half_open → closed
	want := []observe.Event{
		{To: "closed", Time: start}, // New's BreakerPublished
		{From: "closed", To: "open", Reason: ReasonConsecutiveFailures, Time: start, Delay: time.Second},
		{From: "open", To: "half_open", Reason: ReasonRecoveryTimeout, Time: start.Add(time.Second)},
		{From: "half_open", To: "open", Reason: ReasonProbeFailed, Time: start.Add(time.Second), Delay: time.Second},
		{From: "open", To: "half_open", Reason: ReasonRecoveryTimeout, Time: start.Add(2 * time.Second)},
		{From: "half_open", To: "closed", Reason: ReasonProbesSucceeded, Time: start.Add(2 * time.Second)},
	}
	got := rec.Events()
	if len(got) != len(want) {
		t.Fatalf("events = %+v, want %d", got, len(want))
	}
	for i, w := range want {
		w.Kind, w.Service, w.Policy, w.Instance = observe.BreakerStateChanged, svc, observe.PolicyBreaker, b.Instance()
		if i == 0 {
			w.Kind = observe.BreakerPublished
		}
		if got[i] != w {
			t.Errorf("event %d = %+v, want %+v", i, got[i], w)
		}
	}
	if st := b.Stats(); st.StateChanges != 5 || st.Calls != 3 || st.Failures != 2 || st.Successes != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    Config
		wantErr string
	}{
		{
			name: "zero is the documented defaults",
			want: Config{Scope: ScopeService, ConsecutiveFailures: 5, WindowType: WindowCount, WindowSize: 10, WindowDuration: 10 * time.Second,
				MinimumCalls: 10, RecoveryTimeout: 30 * time.Second, InitialRecoveryTimeout: 30 * time.Second, RecoveryMultiplier: 2,
				HalfOpenMaxCalls: 1, SuccessThreshold: 1, HalfOpenMaxWait: time.Minute},
		},
		{
			name: "rate based: consecutive off, time window minimum 10, slow threshold 1, success threshold follows max",
			cfg:  Config{FailureRateThreshold: 0.5, WindowType: WindowTime, SlowCallDuration: time.Second, HalfOpenMaxCalls: 3},
			want: Config{Scope: ScopeService, FailureRateThreshold: 0.5, WindowType: WindowTime, WindowSize: 10, WindowDuration: 10 * time.Second,
				MinimumCalls: 10, SlowCallDuration: time.Second, SlowCallRateThreshold: 1, RecoveryTimeout: 30 * time.Second,
				InitialRecoveryTimeout: 30 * time.Second, RecoveryMultiplier: 2, HalfOpenMaxCalls: 3, SuccessThreshold: 3, HalfOpenMaxWait: time.Minute},
		},
		{
			name: "the half-open wait is at least the slow-call duration",
			cfg:  Config{SlowCallDuration: 2 * time.Minute},
			want: Config{Scope: ScopeService, ConsecutiveFailures: 5, WindowType: WindowCount, WindowSize: 10, WindowDuration: 10 * time.Second,
				MinimumCalls: 10, SlowCallDuration: 2 * time.Minute, SlowCallRateThreshold: 1, RecoveryTimeout: 30 * time.Second,
				InitialRecoveryTimeout: 30 * time.Second, RecoveryMultiplier: 2, HalfOpenMaxCalls: 1, SuccessThreshold: 1, HalfOpenMaxWait: 2 * time.Minute},
		},
		{name: "invalid", cfg: Config{HalfOpenMaxCalls: -1}, wantErr: "half_open_max_calls: -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(svc, tt.cfg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Config(); got != tt.want {
				t.Fatalf("Config() = %+v, want %+v", got, tt.want)
			}
			if b.Name() != svc || b.State() != Closed {
				t.Fatalf("name %q state %v", b.Name(), b.State())
			}
		})
	}
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name      string
		fn        func() error
		wantErr   error
		wantPanic bool
		wantState State // after one probe in half-open
	}{
		{name: "success closes", fn: func() error { return nil }, wantState: Closed},
		{name: "failure re-opens", fn: func() error { return errFail }, wantErr: errFail, wantState: Open},
		{name: "panic frees the slot", fn: func() error { panic("boom") }, wantPanic: true, wantState: HalfOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, _ := newTest(t, Config{})
			halfOpen(t, b, clk)
			var err error
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				err = b.Execute(tt.fn)
				return false
			}()
			if panicked != tt.wantPanic || !errors.Is(err, tt.wantErr) {
				t.Fatalf("panicked %v err %v, want %v %v", panicked, err, tt.wantPanic, tt.wantErr)
			}
			if s := b.State(); s != tt.wantState {
				t.Fatalf("state = %v, want %v", s, tt.wantState)
			}
			if tt.wantState == HalfOpen {
				if _, err := b.Allow(); err != nil {
					t.Fatalf("slot not freed: %v", err)
				}
			}
		})
	}
}

func TestStateString(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{{Closed, "closed"}, {Open, "open"}, {HalfOpen, "half_open"}, {ForcedOpen, "forced_open"}, {Disabled, "disabled"}, {State(9), "unknown"}}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("State(%d).String() = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestRecordClass(t *testing.T) {
	b, _, _ := newTest(t, Config{ConsecutiveFailures: 2})
	for _, c := range []codes.Class{codes.Throttled, codes.Rejected, codes.ServerFault} {
		p, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		p.Record(c)
	}
	if st := b.Stats(); st.State != Open || st.Ignored != 1 || st.Failures != 2 {
		t.Fatalf("stats = %+v, want open with 2 failures and 1 ignored", st)
	}
}

// LastChange is the Time of the last state change's event: zero before any, the trip's after
// it, the recovery's after that; it moves no state (read after the open interval, it is still
// the trip's until a call or State reads the clock and moves the breaker to half-open).
func TestLastChange(t *testing.T) {
	b, clk, rec := newTest(t, Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Second})
	if got := b.LastChange(); !got.IsZero() {
		t.Fatalf("LastChange before any change = %v, want zero", got)
	}
	clk.Advance(time.Minute)
	p, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	p.Record(codes.Transient)
	if got, want := b.LastChange(), lastChange(rec).Time; !got.Equal(want) || want.IsZero() {
		t.Fatalf("LastChange after the trip = %v, want the event's %v", got, want)
	}
	tripped := b.LastChange()
	clk.Advance(time.Hour)
	if got := b.LastChange(); !got.Equal(tripped) {
		t.Fatalf("LastChange after the open interval = %v, want %v: it moved the breaker", got, tripped)
	}
	if b.State() != HalfOpen {
		t.Fatalf("state %v after the open interval, want half_open", b.State())
	}
	if got, want := b.LastChange(), clk.Now(); !got.Equal(want) {
		t.Fatalf("LastChange after the recovery = %v, want %v", got, want)
	}
}
