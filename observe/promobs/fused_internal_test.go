package promobs

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/prometheus/client_golang/prometheus"
	grpccodes "google.golang.org/grpc/codes"
)

// fusedStep is one thing a chain's sink is given: a call that succeeded at its first attempt
// (ok, of method, in d, with deadline reason, "" none), or any other event.
type fusedStep struct {
	method   string
	ok       bool
	d        time.Duration
	deadline string
	other    observe.Event
}

// successEvents are the events a suite sends of a call that succeeds at its first attempt, in
// the order it sends them.
func successEvents(service, method string, d time.Duration, deadline string, delay time.Duration) []observe.Event {
	var out []observe.Event
	if deadline != "" {
		out = append(out, observe.Event{Kind: observe.DeadlineApplied, Service: service, Method: method,
			Policy: observe.PolicyDeadline, Reason: deadline, Delay: delay})
	}
	return append(out,
		observe.Event{Kind: observe.AttemptFinished, Service: service, Method: method, Policy: observe.PolicyRetry,
			Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: d},
		observe.Event{Kind: observe.CallFinished, Service: service, Method: method, Policy: observe.PolicySuite,
			Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: d})
}

// createdStamp is the creation time of a series, which differs between two registries.
var createdStamp = regexp.MustCompile(`created_timestamp:\{[^}]*\}`)

// gathered is what reg exposes, as text, one series a line, creation times left out.
func gathered(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		fmt.Fprintln(&b, strings.ReplaceAll(createdStamp.ReplaceAllString(mf.String(), ""), " metric:", "\nmetric:"))
	}
	return b.String()
}

// A chain's sink records a call that succeeded at once, given in one ObserveSuccess, exactly
// as it records the three events the call would send otherwise: the same series, the same
// values, whether it keeps the series already, learns them from it, or keeps others.
func TestObserveSuccessRecordsWhatItsEventsWould(t *testing.T) {
	const (
		ocr     = "kyc.v1.OCRService"
		extract = "/kyc.v1.OCRService/Extract"
		other   = "/kyc.v1.OCRService/Other"
	)
	ok := func(method string, d time.Duration, deadline string) fusedStep {
		return fusedStep{method: method, ok: true, d: d, deadline: deadline}
	}
	failed := fusedStep{other: observe.Event{Kind: observe.CallFinished, Service: ocr, Method: extract, Policy: observe.PolicySuite,
		Attempt: 3, Code: grpccodes.Unavailable, Class: codes.Transient, Duration: time.Second}}
	cases := []struct {
		name     string
		flood    bool // MaxMethods other methods are seen first: the chain's method is past it
		steps    []fusedStep
		wantFast int // calls recorded through the kept series alone (none of Observe)
	}{
		{name: "first call learns, then kept", steps: []fusedStep{ok(extract, time.Millisecond, ""), ok(extract, 2*time.Millisecond, ""), ok(extract, 3*time.Millisecond, "")}, wantFast: 2},
		{name: "deadline default", steps: []fusedStep{ok(extract, time.Millisecond, observe.ReasonDefault), ok(extract, time.Millisecond, observe.ReasonDefault)}, wantFast: 1},
		{name: "deadline reason not kept", steps: []fusedStep{ok(extract, time.Millisecond, observe.ReasonDefault), ok(extract, time.Millisecond, observe.ReasonCap), ok(extract, time.Millisecond, observe.ReasonBudget)}},
		{name: "no deadline, then one", steps: []fusedStep{ok(extract, time.Millisecond, ""), ok(extract, time.Millisecond, observe.ReasonCap), ok(extract, time.Millisecond, observe.ReasonCap)}, wantFast: 1},
		{name: "failure first", steps: []fusedStep{failed, ok(extract, time.Millisecond, ""), ok(extract, time.Millisecond, "")}, wantFast: 1},
		{name: "another method of a shared chain", steps: []fusedStep{ok(extract, time.Millisecond, ""), ok(other, time.Millisecond, ""), ok(other, time.Millisecond, observe.ReasonDefault)}},
		{name: "past MaxMethods", flood: true, steps: []fusedStep{ok(extract, time.Millisecond, ""), ok(extract, time.Second, observe.ReasonDefault), ok(extract, time.Second, observe.ReasonDefault)}, wantFast: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]string
			fast := 0
			for i, fused := range []bool{true, false} {
				reg := prometheus.NewRegistry()
				m, err := New(reg)
				if err != nil {
					t.Fatal(err)
				}
				if tc.flood {
					for j := range MaxMethods {
						m.Observe(observe.Event{Kind: observe.CallFinished, Service: ocr, Method: fmt.Sprintf("/%s/M%d", ocr, j), Code: grpccodes.OK, Class: codes.Success})
					}
				}
				s := m.ForMethod(ocr, extract)
				for _, st := range tc.steps {
					switch {
					case !st.ok:
						s.Observe(st.other)
					case fused:
						ms := s.(*methodSink)
						k := ms.kept.Load()
						s.(fastobs.SuccessRecorder).ObserveSuccess(ocr, st.method, st.d, st.deadline, time.Second)
						if k == ms.kept.Load() && k&keptCall != 0 && st.method == ms.method && (st.deadline == "" || st.deadline == ms.deadlineReason) {
							fast++
						}
					default:
						for _, e := range successEvents(ocr, st.method, st.d, st.deadline, time.Second) {
							s.Observe(e)
						}
					}
				}
				got[i] = gathered(t, reg)
			}
			if a, b := strings.Split(got[0], "\n"), strings.Split(got[1], "\n"); !slices.Equal(a, b) {
				for i := range min(len(a), len(b)) {
					if a[i] != b[i] {
						t.Errorf("line %d: ObserveSuccess:\n%s\nthe events:\n%s", i, a[i], b[i])
						break
					}
				}
				if len(a) != len(b) {
					t.Errorf("ObserveSuccess: %d lines, the events: %d", len(a), len(b))
				}
			}
			if fast != tc.wantFast {
				t.Errorf("%d calls through the kept series, want %d", fast, tc.wantFast)
			}
		})
	}
}

// A chain's sink records a fused success without allocating, once it keeps its series.
func TestObserveSuccessAllocatesNothing(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := m.ForMethod("kyc.v1.OCRService", "/kyc.v1.OCRService/Extract").(fastobs.SuccessRecorder)
	call := func() {
		s.ObserveSuccess("kyc.v1.OCRService", "/kyc.v1.OCRService/Extract", time.Millisecond, observe.ReasonCap, time.Second)
	}
	call()
	if n := testing.AllocsPerRun(100, call); n != 0 {
		t.Errorf("ObserveSuccess: %v allocations per call, want 0", n)
	}
}
