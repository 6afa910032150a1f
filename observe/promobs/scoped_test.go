package promobs_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	grpccodes "google.golang.org/grpc/codes"
)

// scopedEvents is a seeded mix of events of two methods of one service and one of another
// (what a chain shared by a service's methods, or another policy, may send a method's sink):
// successful and failed calls and attempts, deadlines of two reasons, retries, rejections.
func scopedEvents(n int) []observe.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	methods := []struct{ svc, method string }{{ocr, extract}, {ocr, "/kyc.v1.OCRService/Other"}, {face, "/kyc.v1.FaceMatchService/Compare"}}
	outcomes := []struct {
		code  grpccodes.Code
		class codes.Class
	}{{grpccodes.OK, codes.Success}, {grpccodes.Unavailable, codes.Transient}, {grpccodes.InvalidArgument, codes.Business}, {grpccodes.OK, codes.Business}}
	var out []observe.Event
	for i := range n {
		m := methods[rng.IntN(len(methods))]
		o := outcomes[rng.IntN(len(outcomes))]
		d := time.Duration(rng.IntN(5000)) * time.Microsecond
		switch rng.IntN(5) {
		case 0:
			out = append(out, call(m.svc, m.method, o.code, o.class, 1+i%3, d))
		case 1:
			out = append(out, attempt(m.svc, m.method, 1+i%3, o.code, o.class, d))
		case 2:
			reason := []string{observe.ReasonCap, observe.ReasonDefault}[rng.IntN(2)]
			out = append(out, observe.Event{Kind: observe.DeadlineApplied, Service: m.svc, Method: m.method,
				Policy: observe.PolicyDeadline, Reason: reason, Delay: 5 * time.Second})
		case 3:
			out = append(out, retry(m.svc, m.method, 1+i%3, d))
		default:
			out = append(out, observe.Event{Kind: observe.Rejected, Service: m.svc, Method: m.method,
				Policy: observe.PolicyBulkhead, Reason: "BULKHEAD_FULL"})
		}
	}
	return out
}

// A method's sink (ForMethod) records every event exactly as Metrics itself does, whichever
// method it is and whichever outcome, code, class or reason: the same events through it and
// through Observe give the same exposition, sample for sample.
func TestForMethodRecordsAsObserve(t *testing.T) {
	events := scopedEvents(3000)
	direct, directReg := newMetrics(t)
	scoped, scopedReg := newMetrics(t)
	sink := observe.ForMethod(scoped, ocr, extract)
	if sink == observe.Sink(scoped) {
		t.Fatal("ForMethod returned the Metrics itself, want a sink of the method's own")
	}
	for _, e := range events {
		direct.Observe(e)
		sink.Observe(e)
	}
	want, got := exposition(t, directReg), exposition(t, scopedReg)
	if got != want {
		t.Errorf("exposition through the method's sink differs from Observe's:\n--- Observe\n%s\n--- ForMethod\n%s", want, got)
	}
	// Sure the mix had the kept kinds of the first method, successful and not, to compare.
	seen := map[string]int{}
	for _, e := range events {
		seen[fmt.Sprintf("%v %s %v", e.Kind, e.Method, e.Code)]++
	}
	for _, k := range []string{"call_finished " + extract + " OK", "attempt_finished " + extract + " OK", "call_finished " + extract + " Unavailable"} {
		if seen[k] == 0 {
			t.Fatalf("the mix has no %q event: %v", k, seen)
		}
	}
}

// A method's sink is safe for concurrent use while it keeps its series: goroutines of two
// methods racing to record the first events, and so to be the kept method, count every event
// in its own method's series.
func TestForMethodConcurrent(t *testing.T) {
	const other = "/kyc.v1.OCRService/Other"
	for round := range 20 {
		m, reg := newMetrics(t)
		sink := m.ForMethod(ocr, extract)
		const goroutines, calls = 4, 50
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range goroutines {
			method := []string{extract, other}[(g+round)%2]
			wg.Go(func() {
				<-start
				for range calls {
					sink.Observe(attempt(ocr, method, 1, grpccodes.OK, codes.Success, time.Millisecond))
					sink.Observe(call(ocr, method, grpccodes.OK, codes.Success, 1, time.Millisecond))
					sink.Observe(observe.Event{Kind: observe.DeadlineApplied, Service: ocr, Method: method, Policy: observe.PolicyDeadline, Reason: "cap"})
				}
			})
		}
		close(start)
		wg.Wait()
		const n = goroutines * calls
		assertSamples(t, scrape(t, reg, promobs.NameCalls, promobs.NameAttempts, promobs.NameDeadlinesApplied), map[string]float64{
			`bulwark_calls_total{class="success",code="OK",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`:    n / 2,
			`bulwark_attempts_total{class="success",code="OK",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`: n / 2,
			`bulwark_calls_total{class="success",code="OK",method="/kyc.v1.OCRService/Other",service="kyc.v1.OCRService"}`:      n / 2,
			`bulwark_attempts_total{class="success",code="OK",method="/kyc.v1.OCRService/Other",service="kyc.v1.OCRService"}`:   n / 2,
			`bulwark_deadlines_applied_total{reason="cap",service="kyc.v1.OCRService"}`:                                         n,
		})
	}
}

// The success path through a method's sink allocates nothing once its series are kept.
func TestForMethodSuccessPathAllocs(t *testing.T) {
	m, _ := newMetrics(t)
	sink := m.ForMethod(ocr, extract)
	a := attempt(ocr, extract, 1, grpccodes.OK, codes.Success, 3*time.Millisecond)
	c := call(ocr, extract, grpccodes.OK, codes.Success, 1, 3*time.Millisecond)
	d := observe.Event{Kind: observe.DeadlineApplied, Service: ocr, Method: extract, Policy: observe.PolicyDeadline, Reason: "cap"}
	for _, e := range []observe.Event{a, c, d} {
		sink.Observe(e)
	}
	if got := testing.AllocsPerRun(1000, func() {
		sink.Observe(a)
		sink.Observe(c)
		sink.Observe(d)
	}); got != 0 {
		t.Errorf("allocs per success path = %v; want 0", got)
	}
}
