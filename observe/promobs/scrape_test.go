package promobs_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeSource is a LevelSource whose readings can be replaced while it is being scraped.
type fakeSource struct {
	levels atomic.Pointer[[]observe.Level]
}

func newFakeSource(ls ...observe.Level) *fakeSource {
	s := new(fakeSource)
	s.set(ls...)
	return s
}

// adaptiveBounds is a source of the floor and ceiling of service's adaptive bulkhead.
func adaptiveBounds(service string) *fakeSource {
	return newFakeSource(
		observe.Level{Kind: observe.LevelCapacityFloor, Policy: observe.PolicyBulkhead, Service: service, Value: 1},
		observe.Level{Kind: observe.LevelCapacityCeiling, Policy: observe.PolicyBulkhead, Service: service, Value: 10},
	)
}

func (s *fakeSource) set(ls ...observe.Level) { s.levels.Store(&ls) }

func (s *fakeSource) Levels(yield func(observe.Level) bool) {
	for _, l := range *s.levels.Load() {
		if !yield(l) {
			return
		}
	}
}

func stateLevel(svc, method, state string) observe.Level {
	return observe.Level{Kind: observe.LevelBreakerState, Policy: observe.PolicyBreaker, Service: svc, Method: method, State: state}
}

func bulkheadLevels(svc string, inFlight, capacity float64) []observe.Level {
	return []observe.Level{
		{Kind: observe.LevelInFlight, Policy: observe.PolicyBulkhead, Service: svc, Value: inFlight},
		{Kind: observe.LevelCapacity, Policy: observe.PolicyBulkhead, Service: svc, Value: capacity},
	}
}

var errDown = status.Error(grpccodes.Unavailable, "down")

// A breaker of a scraped registry shows its state at the next scrape, though it reports to no
// sink at all: no event carries the change.
func TestScrapeRegistryWithoutEvents(t *testing.T) {
	m, reg := newMetrics(t)
	clk := clocktest.New(time.Time{})
	var breakers breaker.Registry
	m.Scrape(&breakers)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), map[string]float64{})

	// Made after Scrape, with no observer.
	br, err := breakers.Get(ocr, breaker.Config{ConsecutiveFailures: 2, RecoveryTimeout: time.Second}, breaker.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "closed"))
	for range 2 {
		_ = br.Execute(func() error { return errDown })
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "open"))
	// The recovery timeout passes; the scrape itself reads the breaker half-open.
	clk.Advance(time.Second)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState), stateSamples(ocr, "half_open"))
	if n := len(scrape(t, reg, promobs.NameBreakerTransitions)); n != 0 {
		t.Fatalf("%d transition series from a breaker with no observer, want 0", n)
	}

	// A method-scoped breaker of the registry is labelled with its service and method.
	ic, err := breaker.UnaryClientInterceptor(breaker.Config{Scope: breaker.ScopeMethod, ConsecutiveFailures: 1}, breaker.WithRegistry(&breakers))
	if err != nil {
		t.Fatal(err)
	}
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return errDown }
	_ = ic(context.Background(), compare, nil, nil, nil, fail)
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState),
		merge(stateSamples(ocr, "half_open"), methodStateSamples(face, compare, "open")))
}

// A scraped bulkhead shows the call it holds while the call is in flight.
func TestScrapeBulkheadDuringHeldCall(t *testing.T) {
	m, reg := newMetrics(t)
	bh, err := bulkhead.New(ocr, bulkhead.Config{MaxConcurrent: 4})
	if err != nil {
		t.Fatal(err)
	}
	m.Scrape(bh)
	release := testkit.Hold(context.Background(), bh.Unary(), extract)
	assertSamples(t, scrape(t, reg, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`: 1,
		`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:  4,
	})
	if err := release(); err != nil {
		t.Fatal(err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`: 0,
		`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:  4,
	})
}

func TestScrapeThrottle(t *testing.T) {
	m, reg := newMetrics(t)
	th, err := throttle.New(ocr, throttle.Config{}, throttle.WithClock(clocktest.New(time.Time{})))
	if err != nil {
		t.Fatal(err)
	}
	m.Scrape(th)
	assertSamples(t, scrape(t, reg, promobs.NameThrottleProbability), map[string]float64{
		`bulwark_adaptive_throttle_probability{method="",service="kyc.v1.OCRService"}`: 0,
	})
	for range 9 {
		th.Record(codes.Verdict{Class: codes.Throttled, Code: grpccodes.ResourceExhausted})
	}
	// 9 requests, none accepted: 9 / 10.
	assertSamples(t, scrape(t, reg, promobs.NameThrottleProbability), map[string]float64{
		`bulwark_adaptive_throttle_probability{method="",service="kyc.v1.OCRService"}`: 0.9,
	})
}

// A source whose objects change (a suite reloaded) shows the objects it holds at each scrape:
// the new ones appear, the gone ones disappear.
func TestScrapeSourceReplaced(t *testing.T) {
	m, reg := newMetrics(t)
	src := newFakeSource(append(bulkheadLevels(ocr, 2, 8), stateLevel(ocr, "", "open"))...)
	m.Scrape(src)
	names := []string{promobs.NameBreakerState, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity}
	assertSamples(t, scrape(t, reg, names...), merge(stateSamples(ocr, "open"), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`: 2,
		`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:  8,
	}))

	src.set(append(bulkheadLevels(face, 1, 3), stateLevel(face, compare, "closed"))...)
	assertSamples(t, scrape(t, reg, names...), merge(methodStateSamples(face, compare, "closed"), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="kyc.v1.FaceMatchService"}`: 1,
		`bulwark_bulkhead_capacity{method="",service="kyc.v1.FaceMatchService"}`:  3,
	}))
}

// When sources, Track registrations and events name the same series, the series is exposed
// once, from the first source that reads it, then Track, then the events.
func TestScrapePrecedenceAndNoDuplicates(t *testing.T) {
	m, reg := newMetrics(t)
	first := newFakeSource(append(bulkheadLevels(ocr, 1, 10),
		stateLevel(ocr, "", "half_open"),
		stateLevel(ocr, "", "open"), // the same series again in one source: the first reading wins
		observe.Level{Kind: observe.LevelThrottleProbability, Policy: observe.PolicyAdaptiveThrottle, Service: ocr, Value: 0.25},
	)...)
	second := newFakeSource(append(bulkheadLevels(ocr, 7, 70),
		append(bulkheadLevels(face, 3, 30), stateLevel(ocr, "", "disabled"), stateLevel(face, compare, "forced_open"))...)...)
	m.Scrape(first)
	m.Scrape(second)
	m.Scrape(nil) // ignored

	bh := &fakeBulkhead{}
	bh.inFlight.Store(99)
	bh.capacity.Store(99)
	m.TrackBulkhead(ocr, bh)
	m.TrackBreaker(compare, func() string { return "closed" })
	m.TrackBreaker(face, func() string { return "half_open" })
	m.TrackThrottle(ocr, func() float64 { return 0.75 })
	m.TrackThrottle(face, func() float64 { return 0.5 })
	for _, svc := range []string{ocr, face, compare} {
		e := observe.Event{Kind: observe.BreakerStateChanged, Service: svc, From: "closed", To: "open"}
		if svc == compare {
			e.Service, e.Method = face, compare
		}
		m.Observe(e)
	}
	m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: "kyc.v1.LivenessService", From: "closed", To: "open"})

	if _, err := reg.Gather(); err != nil {
		t.Fatalf("Gather: %v", err)
	}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerState, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity, promobs.NameThrottleProbability),
		merge(
			stateSamples(ocr, "half_open"),                   // first source, its first reading
			methodStateSamples(face, compare, "forced_open"), // second source over Track and events
			stateSamples(face, "half_open"),                  // Track over the event
			stateSamples("kyc.v1.LivenessService", "open"),   // the event alone
			map[string]float64{
				`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`:                  1,
				`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:                   10,
				`bulwark_bulkhead_in_flight{method="",service="kyc.v1.FaceMatchService"}`:            3,
				`bulwark_bulkhead_capacity{method="",service="kyc.v1.FaceMatchService"}`:             30,
				`bulwark_adaptive_throttle_probability{method="",service="kyc.v1.OCRService"}`:       0.25,
				`bulwark_adaptive_throttle_probability{method="",service="kyc.v1.FaceMatchService"}`: 0.5,
			}))
}

// Readings promobs has no metric for are left out: another policy's in-flight level, a kind
// it does not know.
func TestScrapeIgnoresOtherLevels(t *testing.T) {
	m, reg := newMetrics(t)
	m.Scrape(newFakeSource(
		observe.Level{Kind: observe.LevelInFlight, Policy: observe.PolicyRateLimit, Service: ocr, Value: 5},
		observe.Level{Kind: observe.LevelKind(200), Policy: observe.PolicyBulkhead, Service: ocr, Value: 5},
	))
	if got := scrape(t, reg, promobs.MetricNames()...); len(got) != 0 {
		t.Fatalf("samples %v, want none", got)
	}
}

// Scrapes run concurrently with breakers changing state, calls holding bulkhead slots, sources
// being added and Track registrations changing.
func TestScrapeConcurrent(t *testing.T) {
	m, reg := newMetrics(t)
	var breakers breaker.Registry
	bh, err := bulkhead.New(ocr, bulkhead.Config{MaxConcurrent: 64})
	if err != nil {
		t.Fatal(err)
	}
	m.Scrape(observe.LevelSources{&breakers, bh})
	src := newFakeSource()
	const goroutines, rounds = 4, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			br, err := breakers.Get(face, breaker.Config{ConsecutiveFailures: 1})
			if err != nil {
				t.Error(err)
				return
			}
			for i := range rounds {
				switch i % 4 {
				case 0:
					_ = br.Execute(func() error { return errDown })
				case 1:
					br.Reset()
				case 2:
					if err := bh.Acquire(context.Background()); err == nil {
						bh.Release()
					}
				case 3:
					src.set(stateLevel(ocr, "", "open"))
					m.TrackBreaker(ocr, func() string { return "closed" })
				}
				if g == 0 && i == rounds/2 {
					m.Scrape(src)
				}
			}
		})
		wg.Go(func() {
			for range rounds / 10 {
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := scrape(t, reg, promobs.NameBreakerState, promobs.NameBulkheadInFlight)
	if got[`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`] != 0 {
		t.Errorf("in flight after all calls = %v, want 0", got)
	}
	// The source added mid-way wins over the Track registration for ocr.
	if v := got[`bulwark_breaker_state{method="",service="kyc.v1.OCRService",state="open"}`]; v != 1 {
		t.Errorf("ocr open = %v, want 1 (the source over TrackBreaker)", v)
	}
	var faceStates float64
	for _, st := range promobs.BreakerStates() {
		faceStates += got[`bulwark_breaker_state{method="",service="kyc.v1.FaceMatchService",state="`+st+`"}`]
	}
	if faceStates != 1 {
		t.Errorf("face states sum to %v, want 1", faceStates)
	}
}

// A throttle of one method and its service's are two series, told apart by method.
func TestScrapeMethodThrottle(t *testing.T) {
	m, reg := newMetrics(t)
	clk := clocktest.New(time.Time{})
	svcThrottle, err := throttle.New(ocr, throttle.Config{}, throttle.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	methodThrottle, err := throttle.New("/"+ocr+"/Extract", throttle.Config{}, throttle.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	m.Scrape(observe.LevelSources{svcThrottle, methodThrottle})
	for range 9 {
		methodThrottle.Record(codes.Verdict{Class: codes.Throttled, Code: grpccodes.ResourceExhausted})
	}
	assertSamples(t, scrape(t, reg, promobs.NameThrottleProbability), map[string]float64{
		`bulwark_adaptive_throttle_probability{method="",service="kyc.v1.OCRService"}`:                           0,
		`bulwark_adaptive_throttle_probability{method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`: 0.9,
	})
}
