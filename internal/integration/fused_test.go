package integration_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
)

const faceMatch = "kyc.v1.FaceMatchService"

// eventsOnly is promobs' Metrics as a suite's observer whose chain sinks take events alone: it
// hides their fastobs.SuccessRecorder, so that the suite sends them the three events of a call
// that succeeds at once.
type eventsOnly struct{ m *promobs.Metrics }

func (e eventsOnly) Observe(ev observe.Event) { e.m.Observe(ev) }
func (e eventsOnly) ForMethod(service, fullMethod string) observe.Sink {
	return struct{ observe.Sink }{e.m.ForMethod(service, fullMethod)}
}

// countedFused is promobs' Metrics as a suite's observer whose chain sinks count the calls they
// take on the fused path (ObserveSuccess), so that a test comparing the fused path with the
// events can tell that the fused path was taken at all.
type countedFused struct {
	m *promobs.Metrics
	n *atomic.Int64
}

func (c countedFused) Observe(ev observe.Event) { c.m.Observe(ev) }
func (c countedFused) ForMethod(service, fullMethod string) observe.Sink {
	return countingRecorder{c.m.ForMethod(service, fullMethod).(fastobs.SuccessRecorder), c.n}
}

type countingRecorder struct {
	fastobs.SuccessRecorder
	n *atomic.Int64
}

func (r countingRecorder) ObserveSuccess(service, method string, d time.Duration, deadline string, delay time.Duration) {
	r.n.Add(1)
	r.SuccessRecorder.ObserveSuccess(service, method, d, deadline, delay)
}

// createdStamp is the creation time of a series, which differs between two registries.
var createdStamp = regexp.MustCompile(`created_timestamp:\{[^}]*\}`)

// exposed is what reg exposes, one series a line, creation times and the families drop names
// left out.
func exposed(t *testing.T, reg *prometheus.Registry, drop ...string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if slices.Contains(drop, mf.GetName()) {
			continue
		}
		s := createdStamp.ReplaceAllString(mf.String(), "")
		out = append(out, strings.Split(strings.ReplaceAll(s, " metric:", "\nmetric:"), "\n")...)
	}
	return out
}

// firstDiff reports the first line where a and b differ.
func firstDiff(t *testing.T, what string, a, b []string) {
	t.Helper()
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			t.Errorf("%s: line %d:\nfused:  %s\nevents: %s", what, i, a[i], b[i])
			return
		}
	}
	if len(a) != len(b) {
		t.Errorf("%s: %d lines fused, %d from the events", what, len(a), len(b))
	}
}

// scripted answers a call's attempts in turn with errs, the last one for every attempt after,
// each attemptTime long on clk.
type scripted struct {
	clk  *clocktest.Fake
	errs []error
	mu   sync.Mutex
	n    int
}

const attemptTime = 7 * time.Millisecond

func (s *scripted) invoke(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.clk != nil {
		s.clk.Advance(attemptTime)
	}
	return s.errs[min(s.n, len(s.errs))-1]
}

type promCase struct {
	name     string
	errs     []error
	caller   time.Duration
	opts     []grpc.CallOption
	before   int // calls that fail (one attempt each) before
	profile  func(*config.Profile)
	sleeps   int
	inflight bool
	flood    bool // MaxMethods other methods are recorded first
	fused    int  // calls recorded on the fused path (ObserveSuccess), when not 0
}

// runProm makes tc's call, then two more like it unless it fails, through a suite of deadline, retry, breaker,
// limiter and bulkhead on a fake clock, observed by obs (Metrics m, fused or not).
func runProm(t *testing.T, tc promCase, m *promobs.Metrics, obs observe.Sink) {
	t.Helper()
	p := config.Profile{
		Deadline:  &deadline.Config{Default: 2 * time.Second, Max: 10 * time.Second},
		Retry:     &retry.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retry.JitterNone},
		Breaker:   &breaker.Config{ConsecutiveFailures: 3, RecoveryTimeout: time.Hour},
		RateLimit: &ratelimit.Config{Rate: 1e6, Burst: 1000},
		Bulkhead:  &bulkhead.Config{MaxConcurrent: 8},
	}
	if tc.profile != nil {
		tc.profile(&p)
	}
	cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{faceMatch: {Profile: "p"}}}
	clk := clocktest.New(time.Now())
	s, err := interceptors.New(cfg, interceptors.WithObserver(obs), interceptors.WithClock(clk), interceptors.WithBreakerRegistry(&breaker.Registry{}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if tc.flood {
		for j := range promobs.MaxMethods {
			m.Observe(observe.Event{Kind: observe.CallFinished, Service: faceMatch, Method: fmt.Sprintf("/%s/M%d", faceMatch, j), Code: grpccodes.OK, Class: codes.Success})
		}
	}
	ctx := context.Background()
	if tc.caller > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, clk.Now().Add(tc.caller))
		defer cancel()
	}
	for range tc.before {
		inv := &scripted{errs: []error{status.Error(grpccodes.Unavailable, "down")}}
		_ = s.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, inv.invoke, retry.WithMax(1))
	}
	if tc.inflight {
		release := testkit.Hold(ctx, s.Unary(), testkit.MethodCompare)
		defer func() { _ = release() }()
	}
	calls := 3
	if tc.errs[len(tc.errs)-1] != nil {
		calls = 1 // the breaker would open after the first (3 failures)
	}
	for range calls {
		inv := &scripted{clk: clk, errs: tc.errs}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = s.Unary()(ctx, testkit.MethodCompare, nil, nil, nil, inv.invoke, tc.opts...)
		}()
		for range tc.sleeps {
			clk.AdvanceWhenWaiting()
		}
		within.Recv(t, done, "the call did not return")
	}
}

// Prometheus metrics fed a call that succeeds at once in one ObserveSuccess (the suite's fused
// path) expose exactly what the same Metrics fed the call's events expose, for every kind of
// call: successes with and without a deadline set, retries, failures, rejections, calls that
// turn retrying off, a method past MaxMethods. The cases that succeed on the fused path say how
// many calls it records, so that a suite that stopped taking it (both runs then the events)
// fails. On this fake clock a success whose deadline the deadline step sets (the default, the
// cap) needs a context of its own for its attempt and is not fused: the real-clock test below,
// where grpc keeps the per-attempt timeout, compares those.
func TestFusedPromobsMatchesTheEvents(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	cases := []promCase{
		{name: "success, caller's deadline within the cap", errs: []error{nil}, caller: 3 * time.Second, fused: 3},
		{name: "success, no caller's deadline", errs: []error{nil}},
		{name: "success, caller's deadline beyond the cap", errs: []error{nil}, caller: time.Hour},
		{name: "retried once", errs: []error{unavailable, nil}, caller: 3 * time.Second, sleeps: 1},
		{name: "exhausted", errs: []error{unavailable}, caller: 3 * time.Second, sleeps: 2},
		{name: "business error", errs: []error{status.Error(grpccodes.InvalidArgument, "unreadable")}, caller: 3 * time.Second},
		{name: "breaker open", errs: []error{nil}, before: 3},
		{name: "rate limited", errs: []error{nil}, caller: 3 * time.Second, profile: func(p *config.Profile) {
			p.RateLimit = &ratelimit.Config{Rate: 0.001, Burst: 1}
		}, fused: 1},
		{name: "bulkhead full", errs: []error{nil}, caller: 3 * time.Second, inflight: true, profile: func(p *config.Profile) {
			p.Bulkhead = &bulkhead.Config{MaxConcurrent: 1}
		}, fused: 1},
		{name: "disabled", errs: []error{nil}, opts: []grpc.CallOption{retry.Disable()}},
		{name: "past MaxMethods", errs: []error{nil}, caller: 3 * time.Second, flood: true, fused: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, fusedCalls := fusedAndPlain(t, func(m *promobs.Metrics, obs observe.Sink) { runProm(t, tc, m, obs) })
			firstDiff(t, tc.name, got[0], got[1])
			if tc.fused != 0 && fusedCalls != tc.fused {
				t.Errorf("%d calls recorded on the fused path, want %d", fusedCalls, tc.fused)
			}
		})
	}
}

// On the real clock, with grpc keeping the per-attempt timeout (the suite's service config), a
// call that succeeds at once takes the fused path with the deadline step's DeadlineApplied held:
// the same metrics as the events', call durations aside (they are the real clock's).
func TestFusedPromobsMatchesTheEventsWithADeadline(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{})
	cfg := heldDeadlineConfig()
	got, fusedCalls := fusedAndPlain(t, func(_ *promobs.Metrics, obs observe.Sink) {
		s, err := interceptors.New(cfg, interceptors.WithObserver(obs), interceptors.WithBreakerRegistry(&breaker.Registry{}))
		if err != nil {
			t.Fatal(err)
		}
		so, err := s.ServiceConfigOption("")
		if err != nil {
			t.Fatal(err)
		}
		cc := srv.Dial(t, so)
		unary := s.Unary()
		do := func(ctx context.Context) {
			reply := new(kycv1.CompareResponse)
			invoke := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				return cc.Invoke(ctx, method, req, reply, opts...)
			}
			if err := unary(ctx, testkit.MethodCompare, &kycv1.CompareRequest{}, reply, cc, invoke); err != nil {
				t.Fatal(err)
			}
		}
		ctxCap, cancel := context.WithTimeout(context.Background(), time.Hour)
		ctxWithin, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
		for range 3 {
			do(context.Background()) // the default
			do(ctxCap)               // the cap
			do(ctxWithin)            // none
		}
		cancel()
		cancel2()
		_ = s.Close()
	}, "bulwark_call_duration_seconds")
	firstDiff(t, "real clock", got[0], got[1])
	// Nine calls, three of each deadline: all but the connection's first, which comes before
	// grpc has the service config, may take the fused path; 7 is what it takes for each kind
	// to have taken it at least once.
	if fusedCalls < 7 {
		t.Errorf("%d of 9 calls recorded on the fused path, want at least 7", fusedCalls)
	}
	labels := map[string]string{"reason": "default", "service": faceMatch}
	if v, ok := counterValue(t, got[0], promobs.NameDeadlinesApplied, labels); !ok || v != 3 {
		t.Errorf("%s%v = %v (found: %v), want 3, in:\n%s", promobs.NameDeadlinesApplied, labels, v, ok, strings.Join(got[0], "\n"))
	}
}

// counterValue returns the value of the counter of family whose labels are exactly labels, in
// lines as exposed returns them (each family's header, then one line per metric), read as the
// protobuf text they are: not a match of a "value:3" that "value:30" or another family's
// metric would pass too.
func counterValue(t *testing.T, lines []string, family string, labels map[string]string) (float64, bool) {
	t.Helper()
	var name string
	for _, l := range lines {
		var mf dto.MetricFamily
		if err := prototext.Unmarshal([]byte(l), &mf); err != nil {
			t.Fatalf("exposed line %q: %v", l, err)
		}
		if mf.Name != nil {
			name = mf.GetName()
		}
		if name != family {
			continue
		}
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			if m.GetCounter() != nil && maps.Equal(have, labels) {
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestCounterValueIsStructural: counterValue reads the family, the labels and the value, where
// the text match it replaces took any line with value:"default" and "value:3" in it.
func TestCounterValueIsStructural(t *testing.T) {
	header := `name:"` + promobs.NameDeadlinesApplied + `" help:"h" type:COUNTER`
	line := func(v string) string {
		return `metric:{label:{name:"reason" value:"default"} label:{name:"service" value:"` + faceMatch + `"} counter:{value:` + v + `}}`
	}
	labels := map[string]string{"reason": "default", "service": faceMatch}
	for _, tt := range []struct {
		lines []string
		want  float64
		found bool
	}{
		{[]string{header, line("3")}, 3, true},
		{[]string{header, line("30")}, 30, true},
		{[]string{header, line("3.5")}, 3.5, true},
		{[]string{`name:"bulwark_other_total" help:"h" type:COUNTER`, line("3")}, 0, false},
	} {
		if v, ok := counterValue(t, tt.lines, promobs.NameDeadlinesApplied, labels); v != tt.want || ok != tt.found {
			t.Errorf("%q: %v, %v; want %v, %v", tt.lines, v, ok, tt.want, tt.found)
		}
	}
}

// fusedAndPlain runs run twice, each time with a promobs Metrics on a registry of its own and
// the observer to give the suite: first m itself (its chain sinks take the fused path), then
// m behind eventsOnly (the plain events); it returns what each registry exposed, without the
// families named in skip, and the calls the first run recorded on the fused path.
func fusedAndPlain(t *testing.T, run func(m *promobs.Metrics, obs observe.Sink), skip ...string) (got [2][]string, fusedCalls int) {
	t.Helper()
	var n atomic.Int64
	for i, fused := range []bool{true, false} {
		reg := prometheus.NewRegistry()
		m, err := promobs.New(reg)
		if err != nil {
			t.Fatal(err)
		}
		var obs observe.Sink = countedFused{m, &n}
		if !fused {
			obs = eventsOnly{m}
		} else if _, ok := m.ForMethod(faceMatch, testkit.MethodCompare).(fastobs.SuccessRecorder); !ok {
			t.Fatal("promobs' chain sink is no fastobs.SuccessRecorder")
		}
		run(m, obs)
		got[i] = exposed(t, reg, skip...)
	}
	return got, int(n.Load())
}

// heldDeadlineConfig is FaceMatchService with a deadline step (default 2 s, max 10 s) and a
// retry loop with a per-attempt timeout that grpc keeps once the connection is dialed with the
// suite's service config: the real-clock fused path, with its DeadlineApplied held.
func heldDeadlineConfig() *config.Config {
	p := config.Profile{
		Deadline: &deadline.Config{Default: 2 * time.Second, Max: 10 * time.Second},
		Retry:    &retry.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, PerAttemptTimeout: time.Second},
	}
	return &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{faceMatch: {Profile: "p"}}}
}
