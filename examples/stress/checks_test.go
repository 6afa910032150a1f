package stress

import (
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
	grpccodes "google.golang.org/grpc/codes"
)

// checkFallback checks a call's fallback: a reply served counts as served (the call answers
// it, and its CallFinished says OK), and a business answer is never replaced.
func checkFallback(t *testing.T, r callResult) {
	t.Helper()
	served, business := false, false
	var fin *observe.Event
	for i, e := range r.events {
		switch {
		case e.Kind == observe.FallbackServed:
			served = true
		case e.Kind == observe.AttemptFinished && e.Class == codes.Business:
			business = true
		case e.Kind == observe.CallFinished:
			fin = &r.events[i]
		}
	}
	if served && r.err != nil {
		t.Errorf("%s %s: a fallback served, the caller got %v: %v", r.svc.name, r.id, r.err, kinds(r.events))
	}
	if served && fin != nil && fin.Code != grpccodes.OK {
		t.Errorf("%s %s: a fallback served, CallFinished says %v/%v: %v", r.svc.name, r.id, fin.Code, fin.Class, kinds(r.events))
	}
	if business && (served || r.err == nil) {
		t.Errorf("%s %s: a business answer, the caller got %v (fallback served %v): %v", r.svc.name, r.id, r.err, served, kinds(r.events))
	}
}

// observeLevels reads the suite's levels, directly and through a promobs scrape, every few
// milliseconds until done is closed, and checks each reading: in-flight calls within the
// slots, an adaptive limit between its floor and ceiling, a throttle's probability in [0, 1],
// a breaker state that is one. The returned channel is closed when it has stopped.
func observeLevels(t *testing.T, suite *interceptors.Suite, done <-chan struct{}) <-chan struct{} {
	stopped := make(chan struct{})
	reg := prometheus.NewRegistry()
	m, err := promobs.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	remove := m.Scrape(suite)
	var mu sync.Mutex
	reported := 0
	errorf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if reported++; reported <= 10 {
			t.Errorf(format, args...)
		}
	}
	reads := 0
	go func() {
		defer close(stopped)
		defer remove()
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				t.Logf("levels read %d times while the calls ran", reads)
				return
			case <-tick.C:
			}
			reads++
			checkLevels(suite, errorf)
			mfs, err := reg.Gather()
			if err != nil {
				errorf("a scrape during the run: %v", err)
				continue
			}
			for _, mf := range mfs {
				if !strings.HasPrefix(mf.GetName(), "bulwark_bulkhead") && !strings.HasPrefix(mf.GetName(), "bulwark_breaker_state") {
					continue
				}
				for _, mt := range mf.GetMetric() {
					if v := mt.GetGauge().GetValue(); v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
						errorf("a scrape during the run: %s %v reads %v", mf.GetName(), mt.GetLabel(), v)
					}
				}
			}
		}
	}()
	return stopped
}

type levelKey struct{ service, method, policy string }

func checkLevels(suite *interceptors.Suite, errorf func(string, ...any)) {
	type bulk struct {
		inFlight, capacity, floor, ceiling float64
		adaptive                           bool
	}
	bs := map[levelKey]*bulk{}
	of := func(l observe.Level) *bulk {
		k := levelKey{l.Service, l.Method, l.Policy}
		if bs[k] == nil {
			bs[k] = &bulk{}
		}
		return bs[k]
	}
	for l := range suite.Levels {
		switch l.Kind {
		case observe.LevelInFlight:
			of(l).inFlight = l.Value
		case observe.LevelCapacity:
			of(l).capacity = l.Value
		case observe.LevelCapacityFloor:
			b := of(l)
			b.floor, b.adaptive = l.Value, true
		case observe.LevelCapacityCeiling:
			b := of(l)
			b.ceiling, b.adaptive = l.Value, true
		case observe.LevelThrottleProbability:
			if l.Value < 0 || l.Value > 1 || math.IsNaN(l.Value) {
				errorf("throttle of %s%s during the run: probability %v", l.Service, l.Method, l.Value)
			}
		case observe.LevelBreakerState:
			if !slices.Contains(promobs.BreakerStates(), l.State) {
				errorf("breaker of %s%s during the run: state %q", l.Service, l.Method, l.State)
			}
		}
	}
	for k, b := range bs {
		// An adaptive limit lowered below the calls in flight leaves them their slots: only
		// its ceiling bounds them.
		slots := b.capacity
		if b.adaptive {
			slots = b.ceiling
			if b.capacity < b.floor || b.capacity > b.ceiling {
				errorf("adaptive bulkhead of %s%s during the run: limit %v outside [%v, %v]", k.service, k.method, b.capacity, b.floor, b.ceiling)
			}
		}
		if b.inFlight < 0 || b.inFlight > slots || b.capacity < 1 {
			errorf("bulkhead of %s%s during the run: %v in flight, capacity %v (floor %v, ceiling %v)", k.service, k.method, b.inFlight, b.capacity, b.floor, b.ceiling)
		}
	}
}

// checkLimiters checks, at rest, the tokens of every shared bucket the configurations name:
// within [0, burst], no waiter holding a reservation.
func checkLimiters(t *testing.T, cfgs []namedConfig, limiters *ratelimit.Registry) {
	t.Helper()
	for _, nc := range cfgs {
		rl := nc.cfg.ResolveService("kyc.v1.OCRService").RateLimit
		if rl == nil || rl.Shared == "" {
			continue
		}
		l, err := limiters.Local(*rl)
		if err != nil {
			t.Errorf("%s: the rate limiter %q: %v", nc.name, rl.Shared, err)
			continue
		}
		if tk := l.Tokens(); tk < 0 || tk > float64(l.Burst()) || math.IsNaN(tk) {
			t.Errorf("%s: the rate limiter %q holds %v tokens at rest, burst %d", nc.name, rl.Shared, tk, l.Burst())
		}
	}
}

// checkBreakers checks, at rest, that every breaker's Stats agree with its state and its
// Levels, and with themselves.
func checkBreakers(t *testing.T, breakers *breaker.Registry) {
	t.Helper()
	breakers.Each(func(name string, b *breaker.Breaker) {
		st := b.Stats()
		state := b.State()
		var level string
		for l := range b.Levels {
			level = l.State
		}
		// Time passes between the readings: an open breaker may half-open.
		agree := func(a, b breaker.State) bool { return a == b || a == breaker.Open && b == breaker.HalfOpen }
		if !agree(st.State, state) {
			t.Errorf("breaker %s: Stats say %v, State %v", name, st.State, state)
		}
		if level != state.String() && (state != breaker.Open || level != breaker.HalfOpen.String()) {
			t.Errorf("breaker %s: Levels read %q, State %v", name, level, state)
		}
		if st.Calls != st.Successes+st.Failures+st.Ignored {
			t.Errorf("breaker %s: %d calls, %d successes + %d failures + %d ignored", name, st.Calls, st.Successes, st.Failures, st.Ignored)
		}
		if n := b.Config().ConsecutiveFailures; st.State == breaker.Closed && n > 0 && st.ConsecutiveFailures >= n {
			t.Errorf("breaker %s: closed with %d failures in a row, consecutive_failures %d: %+v", name, st.ConsecutiveFailures, n, st)
		}
	})
}
