package main

import (
	"encoding/json"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// TestSummaryFiguresAddUp: the figures of a batch's summary agree with one another, as a
// reader of the table or the JSON takes them to: every verification that ended is approved,
// rejected, failed or cancelled; each rejected one has at least one rejecting step (a
// verification may have several: an unreadable document also fails face detection, so the
// reasons per step may outnumber the rejections) and each failed one a failed step; each
// service is called once per verification, each attempt beyond a call's first is a retry or
// a hedge, and no more attempts reach a service than the client made, less those it refused
// itself; the summary's breaker openings and hedges are the services' sums; and the latency
// quantiles are in order.
func TestSummaryFiguresAddUp(t *testing.T) {
	sum, _, stderr := runJSON(t, "-n", "60", "-seed", "3", "-concurrency", "8", "-fail", "unavailable=0.1,internal=0.1",
		"-unreadable-rate", "0.2", "-spoof-rate", "0.1", "-mismatch-rate", "0.1", "-expired-rate", "0.1")
	if sum.Total != 60 || sum.Rejected == 0 || sum.Approved == 0 || sum.Failed == 0 {
		t.Fatalf("the batch of 60 should approve, reject and fail some: %+v\n%s", sum, stderr)
	}
	checkFiguresAddUp(t, sum, []string{kyc.KeyLiveness, kyc.KeyFaceMatch, kyc.KeyOCR})
}

// TestREADMESummaryAddsUp: the README's -json example is a summary whose figures add up, as
// TestSummaryFiguresAddUp checks a run's. It had 31 rejected verifications for 30 rejecting
// steps, and 141 failed ones for 138 failed steps.
func TestREADMESummaryAddsUp(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## `-json`.*?```json\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no -json example")
	}
	// The example is trimmed to one service: the others read "{...}".
	example := strings.ReplaceAll(string(m[1]), "{...}", "null")
	var sum kyc.Summary
	if err := json.Unmarshal([]byte(example), &sum); err != nil {
		t.Fatalf("the README's -json example is not a summary: %v\n%s", err, example)
	}
	var shown []string
	for k, st := range sum.Services {
		if st != (kyc.ServiceStats{}) {
			shown = append(shown, k)
		}
	}
	if len(shown) == 0 {
		t.Fatalf("the README's -json example shows no service:\n%s", example)
	}
	checkFiguresAddUp(t, sum, shown)
}

// checkFiguresAddUp checks what TestSummaryFiguresAddUp says of sum, whose services are
// those named (the sums over services only when all three are).
func checkFiguresAddUp(t *testing.T, sum kyc.Summary, services []string) {
	t.Helper()
	if sum.Approved+sum.Rejected+sum.Failed+sum.Cancelled != sum.Total {
		t.Errorf("total %d != approved %d + rejected %d + failed %d + cancelled %d",
			sum.Total, sum.Approved, sum.Rejected, sum.Failed, sum.Cancelled)
	}
	reasons := 0
	for k, n := range sum.RejectedReasons {
		if n <= 0 {
			t.Errorf("rejected reason %q counted %d times", k, n)
		}
		reasons += n
	}
	if reasons < sum.Rejected || reasons > 3*sum.Rejected {
		t.Errorf("%d rejecting steps for %d rejected verifications of 3 steps each: %v", reasons, sum.Rejected, sum.RejectedReasons)
	}
	failedSteps := 0
	for _, n := range sum.FailedReasons {
		failedSteps += n
	}
	if failedSteps < sum.Failed || failedSteps > 3*sum.Failed {
		t.Errorf("%d failed steps for %d failed verifications of 3 steps each: %v", failedSteps, sum.Failed, sum.FailedReasons)
	}
	decided := sum.Approved + sum.Rejected
	if want := math.Round(10000*float64(decided)/float64(decided+sum.Failed+sum.Shed)) / 100; sum.DecidedPct != want {
		t.Errorf("decided %v%%, want %v%%", sum.DecidedPct, want)
	}
	if !(sum.P50Ms <= sum.P99Ms && sum.P99Ms <= sum.MaxMs && sum.MaxMs <= sum.ElapsedMs) {
		t.Errorf("p50 %vms, p99 %vms, max %vms, elapsed %vms: out of order", sum.P50Ms, sum.P99Ms, sum.MaxMs, sum.ElapsedMs)
	}
	var opens, hedges int64
	for _, k := range services {
		st, ok := sum.Services[k]
		if !ok {
			t.Errorf("no figures for %s", k)
			continue
		}
		if st.Calls != int64(sum.Total) {
			t.Errorf("%s: %d calls for %d verifications", k, st.Calls, sum.Total)
		}
		if st.Attempts < st.Calls || st.Attempts > st.Calls+st.Retries+st.Hedges {
			t.Errorf("%s: %d attempts, not within calls %d .. calls + retries %d + hedges %d", k, st.Attempts, st.Calls, st.Retries, st.Hedges)
		}
		if st.ReachedSource != "stub" || st.Reached+st.Rejections > st.Attempts {
			t.Errorf("%s: reached (at the %s) %d + rejected locally %d > attempts %d", k, st.ReachedSource, st.Reached, st.Rejections, st.Attempts)
		}
		if want := math.Round(100*float64(st.Reached)/float64(st.Calls)) / 100; st.ReachedPerCall != want {
			t.Errorf("%s: %v reached per call, want %v", k, st.ReachedPerCall, want)
		}
		opens += st.BreakerOpens
		hedges += st.Hedges
	}
	if len(services) == 3 && (sum.BreakerOpens != opens || sum.Hedges != hedges) {
		t.Errorf("breaker opens %d, hedges %d; the services' sums are %d, %d", sum.BreakerOpens, sum.Hedges, opens, hedges)
	}
}
