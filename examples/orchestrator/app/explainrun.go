package app

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
)

// stubServices maps a stub's service name (a -liveness, -facematch or -ocr flag) to the full
// gRPC service whose policy its calls follow.
var stubServices = map[string]string{
	stub.ServiceLiveness:  kycv1.LivenessService_ServiceDesc.ServiceName,
	stub.ServiceFaceMatch: kycv1.FaceMatchService_ServiceDesc.ServiceName,
	stub.ServiceOCR:       kycv1.OCRService_ServiceDesc.ServiceName,
}

// explainRun writes, after config.Explain's policies, the run the command line would make:
// the batch (its size, loop and bound on verifications in flight) or the server, the
// applicants, each verification's deadline and each step's, the embedded stubs' faults and the
// outage. -explain starts none of it: an operator reads what -fail 0.3 -concurrency 32 would do
// before doing it.
func explainRun(w io.Writer, f *flags, cfg *config.Config) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-12s %s\n", label, fmt.Sprintf(format, args...))
	}
	budget := cfg.Budget
	if budget <= 0 {
		budget = kyc.DefaultBudget
	}
	b.WriteString("\nrun (what this command line would do; -explain starts nothing)\n")
	from := "the start of the batch"
	if f.serve != "" {
		from = "the start of the server"
		line("serve", "kyc.v1.KYCService on %s, no batch; a graceful stop waits up to %v", f.serve, f.stopAfter)
		line("deadline", "each request one verification: its 3 steps at once under one deadline, %v (the budget) or the caller's, the earlier", budget)
	} else {
		line("batch", "%s", describeBatch(f.batch, budget))
		line("applicants", "%s; seed %d", describeCases(f.batch), f.seed)
		line("deadline", "each verification: its 3 steps at once under one deadline of %v (the budget): the slowest step, not the sum, must fit", budget)
	}
	var embedded []string
	for _, svc := range stub.AllServices() {
		pol := cfg.ResolveService(stubServices[svc])
		where := "embedded stub"
		if addr, ok := f.addrs[svc]; ok {
			where = "external at " + addr + " (its faults are its own)"
		} else {
			embedded = append(embedded, svc)
		}
		profile := pol.ProfileName
		if profile == "" {
			profile = "none"
		}
		line(svc, "%s; profile %s, each call cut at %s", where, profile, stepLimit(pol, budget))
	}
	if len(embedded) > 0 {
		line("stub faults", "%s: %s", strings.Join(embedded, ", "), describeFaults(f.faults))
	}
	if f.outageFor > 0 {
		when := "from " + from
		if f.outageAt > 0 {
			when = fmt.Sprintf("from %v after %s until %v", f.outageAt, from, f.outageAt+f.outageFor)
		}
		line("outage", "%s: every call UNAVAILABLE and health NOT_SERVING for %v, %s",
			strings.Join(f.outageServices, ", "), f.outageFor, when)
	} else {
		line("outage", "none")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describeBatch says how the batch runs: its size, its loop and its bound on verifications in
// flight, as runBatch sets them (or that it runs none).
func describeBatch(b kyc.Batch, budget time.Duration) string {
	if b.N == 0 {
		return "no verification (-n 0): the batch starts none, and its summary counts none"
	}
	n := fmt.Sprintf("%d verifications", b.N)
	if b.N == 1 {
		n = "1 verification"
	}
	if b.Rate <= 0 {
		if b.N < b.Concurrency {
			return fmt.Sprintf("%s, closed loop: all %d at once (-n %d is below -concurrency %d)", n, b.N, b.N, b.Concurrency)
		}
		return fmt.Sprintf("%s, closed loop: %d at once, each starting the next when it ends", n, b.Concurrency)
	}
	bound := fmt.Sprintf("%d (-max-in-flight)", b.MaxInFlight)
	if b.MaxInFlight == 0 {
		bound = fmt.Sprintf("%d (rate × budget %v × 1.25)", kyc.DefaultInFlightLimit(b.Rate, budget), budget)
	}
	over := time.Duration(float64(max(b.N-1, 0)) / b.Rate * float64(time.Second))
	return fmt.Sprintf("%s, open loop: %g started per second whether or not earlier ones ended (the last at %v); an arrival finding %s running is shed",
		n, b.Rate, over.Round(time.Millisecond), bound)
}

// describeCases gives the shares of the applicants' cases.
func describeCases(b kyc.Batch) string {
	genuine := 1 - b.UnreadableRate - b.SpoofRate - b.MismatchRate - b.ExpiredRate
	return fmt.Sprintf("%s unreadable document, %s spoof, %s selfie not matching, %s expired document, %s genuine",
		share(b.UnreadableRate), share(b.SpoofRate), share(b.MismatchRate), share(b.ExpiredRate), share(max(genuine, 0)))
}

// share writes a fraction as a percentage to a millionth: 0.3 is "30%", where 0.1+0.2 would
// have read 30.000000000000004%.
func share(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e4, 'f', -1, 64) + "%"
}

// describeFaults says what an embedded stub does with faults.
func describeFaults(ft stub.Faults) string {
	var parts []string
	sum := 0.0
	for _, r := range ft.Fail {
		sum += r
	}
	if sum > 0 {
		parts = append(parts, fmt.Sprintf("%s of requests fail (%s)", share(sum), stub.FormatFailSpec(ft.Fail)))
	} else {
		parts = append(parts, "no injected errors")
	}
	if ft.Latency > 0 {
		parts = append(parts, fmt.Sprintf("latency %v", ft.Latency))
	} else {
		parts = append(parts, "no added latency")
	}
	if ft.SpikeRate > 0 && ft.Spike > 0 {
		parts = append(parts, fmt.Sprintf("%s of requests +%v", share(ft.SpikeRate), ft.Spike))
	}
	if ft.Pushback > 0 {
		if ft.Fail[grpccodes.ResourceExhausted] > 0 {
			parts = append(parts, fmt.Sprintf("resource_exhausted with a %v pushback", ft.Pushback))
		} else {
			parts = append(parts, fmt.Sprintf("pushback %v unused: no resource_exhausted injected", ft.Pushback))
		}
	}
	if ft.Capacity > 0 {
		parts = append(parts, fmt.Sprintf("full speed up to %d requests in service, slower past it", ft.Capacity))
	}
	return strings.Join(parts, "; ")
}

// stepLimit is when a step's call is cut at the latest under pol within a verification's
// deadline of budget, and what cuts it.
func stepLimit(pol config.Policy, budget time.Duration) string {
	limit, name := budget, "the verification's deadline"
	if pol.Deadline != nil && pol.Deadline.Max > 0 && pol.Deadline.Max < limit {
		limit, name = pol.Deadline.Max, "deadline.max"
	}
	if pol.Retry != nil && pol.Retry.Budget > 0 && pol.Retry.Budget < limit {
		limit, name = pol.Retry.Budget, "retry.budget"
	}
	return fmt.Sprintf("%v (%s)", limit, name)
}
