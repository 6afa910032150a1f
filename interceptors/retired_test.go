package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A reload reports each level object it retires (observe.Retired), named as its levels name
// it, once, after the reload: one it removes and one it replaces under the same name (an
// observer's state of the old object would stand for the new one), not one it keeps, and
// nothing for a configuration it refuses.
func TestReloadReportsRetiredObjects(t *testing.T) {
	const svc = "test.v1.Retire"
	cfg := func(methodBulkhead int) *config.Config {
		m := config.Method{}
		if methodBulkhead > 0 {
			m.Overrides.Bulkhead = config.Set(bulkhead.Config{MaxConcurrent: methodBulkhead}, "max_concurrent")
		}
		return &config.Config{
			Profiles: map[string]config.Profile{"p": {
				Breaker:  &breaker.Config{ConsecutiveFailures: 3},
				Bulkhead: &bulkhead.Config{MaxConcurrent: 4},
			}},
			Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": m}}},
		}
	}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfg(2), interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inv := &testkit.CountingInvoker{}
	if err := s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, inv.Invoke); err != nil {
		t.Fatal(err)
	}

	// A reload that changes nothing retires nothing.
	if err := s.Reload(cfg(2)); err != nil {
		t.Fatal(err)
	}
	if got := rec.Events(observe.Retired); len(got) != 0 {
		t.Fatalf("a reload that kept every object reported %+v retired", got)
	}
	var want []observe.Event
	check := func(when string) {
		t.Helper()
		got := rec.Events(observe.Retired)
		if len(got) != len(want) {
			t.Fatalf("%s: retired %+v, want %+v", when, got, want)
		}
		for i := range got {
			g := got[i]
			if g.Service != want[i].Service || g.Method != want[i].Method || g.Policy != want[i].Policy || g.Time.IsZero() {
				t.Errorf("%s: retired %+v, want %+v at a time", when, g, want[i])
			}
		}
	}
	// The method's bulkhead changes: the old one is replaced, and retired.
	if err := s.Reload(cfg(3)); err != nil {
		t.Fatal(err)
	}
	methodBulkhead := observe.Event{Kind: observe.Retired, Service: svc, Method: "/" + svc + "/Do", Policy: observe.PolicyBulkhead}
	want = append(want, methodBulkhead)
	check("after the method's bulkhead was replaced")
	// A refused configuration retires nothing.
	bad := cfg(0)
	bad.Services[svc].Methods["Do"] = config.Method{Overrides: config.Overrides{Bulkhead: config.Set(bulkhead.Config{MaxConcurrent: -1}, "max_concurrent")}}
	if err := s.Reload(bad); err == nil {
		t.Fatal("a bulkhead of -1 slots was accepted")
	}
	check("after a refused reload")
	// The method's own bulkhead goes.
	if err := s.Reload(cfg(0)); err != nil {
		t.Fatal(err)
	}
	want = append(want, methodBulkhead)
	check("after the method's bulkhead went")
	// The service goes: its breaker and bulkhead, in the cache's order (section, then name).
	if err := s.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	want = append(want,
		observe.Event{Service: svc, Policy: observe.PolicyBreaker},
		observe.Event{Service: svc, Policy: observe.PolicyBulkhead})
	check("after the service went")
}

// Close reports each level object of the suite retired, once (a second Close reports none),
// and the closed suite's Levels read nothing: a suite that replaces it shows its own levels,
// and an observer drops the states it kept of the closed suite's objects. A breaker is retired
// at its last state change, not at the Close (a replacement built before the Close may have
// sent later events under the same name), and one that never changed at the zero Time (its
// BreakerPublished's state is dropped by its Instance, and no state by Time).
func TestCloseRetiresLevels(t *testing.T) {
	const svc, quiet = "test.v1.CloseRetire", "test.v1.CloseQuiet"
	rec := &testkit.Recorder{}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {
			Breaker:  &breaker.Config{ConsecutiveFailures: 1},
			Bulkhead: &bulkhead.Config{MaxConcurrent: 4},
		}},
		Services: map[string]config.Service{
			svc:   {Profile: "p", Methods: map[string]config.Method{"Do": {}}},
			quiet: {Profile: "p", Methods: map[string]config.Method{"Do": {}}},
		},
	}, interceptors.WithObserver(rec), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	levels := func() (n int) {
		s.Levels(func(observe.Level) bool { n++; return true })
		return n
	}
	if levels() == 0 {
		t.Fatal("an open suite read no levels")
	}
	tripped := clk.Now()
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	clk.Advance(time.Second) // Within the open interval: Close moves the breaker no more.
	closed := clk.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := levels(); n != 0 {
		t.Errorf("a closed suite read %d levels, want none", n)
	}
	got := rec.Events(observe.Retired)
	want := []observe.Event{
		{Service: quiet, Policy: observe.PolicyBreaker},
		{Service: svc, Policy: observe.PolicyBreaker, Time: tripped},
		{Service: quiet, Policy: observe.PolicyBulkhead, Time: closed},
		{Service: svc, Policy: observe.PolicyBulkhead, Time: closed},
	}
	if len(got) != len(want) {
		t.Fatalf("Close reported %+v retired, want %+v", got, want)
	}
	for i := range got {
		if got[i].Service != want[i].Service || got[i].Method != want[i].Method || got[i].Policy != want[i].Policy || !got[i].Time.Equal(want[i].Time) {
			t.Errorf("retired %+v, want %+v", got[i], want[i])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Events(observe.Retired)); n != len(want) {
		t.Errorf("a second Close reported %d more retired", n-len(want))
	}
}

// Close names a breaker by reading its level, which makes its due open → half_open change: the
// Retired must come at or after that change's event, or an observer that keeps a breaker's last
// state keeps the closed suite's half_open (its last event is later than the Retired).
func TestCloseRetiresBreakerAfterItsLastEvent(t *testing.T) {
	const svc = "test.v1.CloseRetireDue"
	rec := &testkit.Recorder{}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := trippedSuite(t, svc, rec, clk)
	clk.Advance(time.Minute) // The open interval is over: the next look half-opens the breaker.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	retiredAfterLastChange(t, rec, svc, "the closed suite's")
}

// A reload names a retired breaker by reading its level after the reload took effect, which
// makes its due open → half_open change, timed then: the Retired must not come before that
// event, or an observer that keeps a breaker's last state keeps the retired breaker's half_open.
func TestReloadRetiresBreakerAfterItsLastEvent(t *testing.T) {
	const svc = "test.v1.ReloadRetireDue"
	rec := &testkit.Recorder{}
	clk := &tickingClock{timers: clocktest.New(time.Time{}), now: time.Unix(1700000000, 0)} // 1ms a reading
	s := trippedSuite(t, svc, rec, clk)
	defer s.Close()
	clk.mu.Lock()
	clk.now = clk.now.Add(time.Minute) // The open interval is over: the next look half-opens the breaker.
	clk.mu.Unlock()
	if err := s.Reload(&config.Config{}); err != nil {
		t.Fatal(err)
	}
	retiredAfterLastChange(t, rec, svc, "the retired breaker's")
}

// retiredAfterLastChange fails t unless the Retired rec holds for svc's breaker comes no
// earlier than that breaker's last state change: else an observer that keeps a breaker's last
// state keeps whose state (the closed suite's, the retired breaker's).
func retiredAfterLastChange(t *testing.T, rec *testkit.Recorder, svc, whose string) {
	t.Helper()
	var last, retired *observe.Event
	for _, e := range rec.Events(observe.BreakerStateChanged, observe.Retired) {
		if e.Service != svc || e.Policy != observe.PolicyBreaker {
			continue
		}
		switch e.Kind {
		case observe.BreakerStateChanged:
			last = &e
		case observe.Retired:
			retired = &e
		}
	}
	if last == nil || retired == nil {
		t.Fatalf("last change %+v, retired %+v: want both", last, retired)
	}
	if last.Time.After(retired.Time) {
		t.Fatalf("the breaker's last event (%s → %s) at %v is after its Retired at %v: an observer keeps %s state",
			last.From, last.To, last.Time, retired.Time, whose)
	}
}

// trippedSuite is a suite on clk whose service svc has a breaker that one failure opens for a
// second, and which one failed call of svc has opened.
func trippedSuite(t *testing.T, svc string, rec *testkit.Recorder, clk clock.Clock) *interceptors.Suite {
	t.Helper()
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {
			Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Second},
		}},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}, interceptors.WithObserver(rec), interceptors.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	return s
}
