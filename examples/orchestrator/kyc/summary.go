package kyc

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// Short service keys, as the summary names them, and the gRPC services they stand for.
const (
	KeyLiveness  = "liveness"
	KeyFaceMatch = "facematch"
	KeyOCR       = "ocr"
)

// ServiceKeys maps the full gRPC service names to the summary's short keys.
var ServiceKeys = map[string]string{
	kycv1.LivenessService_ServiceDesc.ServiceName:  KeyLiveness,
	kycv1.FaceMatchService_ServiceDesc.ServiceName: KeyFaceMatch,
	kycv1.OCRService_ServiceDesc.ServiceName:       KeyOCR,
}

var serviceOrder = []string{KeyLiveness, KeyFaceMatch, KeyOCR}

// Counters is an observe.Sink that counts, per KYC service, what the summary reports. Events
// for other services are ignored. Safe for concurrent use.
type Counters struct {
	byKey map[string]*serviceCounters // read-only after NewCounters
}

type serviceCounters struct {
	calls, attempts, retries, hedges, breakerOpens, rejections atomic.Int64
}

// NewCounters returns zeroed counters for the three services.
func NewCounters() *Counters {
	c := &Counters{byKey: map[string]*serviceCounters{}}
	for _, k := range serviceOrder {
		c.byKey[k] = new(serviceCounters)
	}
	return c
}

// Observe counts CallFinished as a call, AttemptFinished as an attempt, RetryScheduled as a
// retry, HedgeSent as a hedge, a BreakerStateChanged to "open" as a breaker opening and
// Rejected as a rejection.
func (c *Counters) Observe(e observe.Event) {
	s := c.byKey[ServiceKeys[e.Service]]
	if s == nil {
		return
	}
	switch e.Kind {
	case observe.CallFinished:
		s.calls.Add(1)
	case observe.AttemptFinished:
		s.attempts.Add(1)
	case observe.RetryScheduled:
		s.retries.Add(1)
	case observe.BreakerStateChanged:
		if e.To == "open" {
			s.breakerOpens.Add(1)
		}
	case observe.Rejected:
		s.rejections.Add(1)
	case observe.HedgeSent:
		s.hedges.Add(1)
	}
}

// ServiceStats are one service's counts in a summary.
type ServiceStats struct {
	Calls        int64 `json:"calls"`
	Attempts     int64 `json:"attempts"`
	Retries      int64 `json:"retries"`
	BreakerOpens int64 `json:"breaker_opens"`
	Rejections   int64 `json:"rejections"`
	Hedges       int64 `json:"hedges"`
}

// Snapshot returns the counts so far, keyed liveness, facematch, ocr.
func (c *Counters) Snapshot() map[string]ServiceStats {
	out := make(map[string]ServiceStats, len(c.byKey))
	for k, s := range c.byKey {
		out[k] = ServiceStats{
			Calls: s.calls.Load(), Attempts: s.attempts.Load(), Retries: s.retries.Load(),
			BreakerOpens: s.breakerOpens.Load(), Rejections: s.rejections.Load(), Hedges: s.hedges.Load(),
		}
	}
	return out
}

// Summary is what a batch run reports; its JSON form is the -json output.
type Summary struct {
	Total           int            `json:"total"`
	Approved        int            `json:"approved"`
	Rejected        int            `json:"rejected"`
	Failed          int            `json:"failed"`
	RejectedReasons map[string]int `json:"rejected_reasons"`
	// FailedReasons counts the failed steps by "STEP: CODE REASON".
	FailedReasons map[string]int          `json:"failed_reasons"`
	P50Ms         float64                 `json:"p50_ms"`
	P99Ms         float64                 `json:"p99_ms"`
	MaxMs         float64                 `json:"max_ms"`
	ElapsedMs     float64                 `json:"elapsed_ms"`
	Services      map[string]ServiceStats `json:"services"`
}

// Summarize builds the summary of a batch's responses (nil responses, from a batch cut short,
// are left out), its wall time, and the service counters.
func Summarize(resps []*kycv1.VerifyResponse, elapsed time.Duration, counters *Counters) Summary {
	s := Summary{RejectedReasons: map[string]int{}, FailedReasons: map[string]int{}, ElapsedMs: ms(elapsed)}
	var lat []time.Duration
	for _, r := range resps {
		if r == nil {
			continue
		}
		s.Total++
		lat = append(lat, Elapsed(r))
		switch r.GetDecision() {
		case kycv1.Decision_DECISION_APPROVED:
			s.Approved++
		case kycv1.Decision_DECISION_REJECTED:
			s.Rejected++
			for _, reason := range r.GetRejectionReasons() {
				s.RejectedReasons[reason]++
			}
		case kycv1.Decision_DECISION_FAILED:
			s.Failed++
			for _, st := range r.GetSteps() {
				if st.GetStatus() == kycv1.StepStatus_STEP_STATUS_FAILED {
					s.FailedReasons[failedKey(st)]++
				}
			}
		}
	}
	slices.Sort(lat)
	s.P50Ms, s.P99Ms = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.99))
	if len(lat) > 0 {
		s.MaxMs = ms(lat[len(lat)-1])
	}
	if counters != nil {
		s.Services = counters.Snapshot()
	} else {
		s.Services = NewCounters().Snapshot()
	}
	return s
}

func failedKey(st *kycv1.StepOutcome) string {
	name := strings.ToLower(strings.TrimPrefix(st.GetStep().String(), "STEP_"))
	k := name + ": " + st.GetCode()
	if st.GetReason() != "" {
		k += " " + st.GetReason()
	}
	return k
}

// quantile is the nearest-rank quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// WriteJSON writes s as one JSON object and a newline.
func (s Summary) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(s)
}

// WriteTable writes s as a human-readable table.
func (s Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	pct := func(n int) string {
		if s.Total == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(s.Total))
	}
	rate := 0.0
	if s.ElapsedMs > 0 {
		rate = float64(s.Total) / (s.ElapsedMs / 1000)
	}
	fmt.Fprintf(tw, "verifications\t%d\tin %s (%.1f/s)\n", s.Total, fmtMs(s.ElapsedMs), rate)
	fmt.Fprintf(tw, "  approved\t%d\t%s\n", s.Approved, pct(s.Approved))
	fmt.Fprintf(tw, "  rejected\t%d\t%s%s\n", s.Rejected, pct(s.Rejected), counts(s.RejectedReasons))
	fmt.Fprintf(tw, "  failed\t%d\t%s%s\n", s.Failed, pct(s.Failed), counts(s.FailedReasons))
	fmt.Fprintf(tw, "latency\tp50 %s\tp99 %s\tmax %s\n", fmtMs(s.P50Ms), fmtMs(s.P99Ms), fmtMs(s.MaxMs))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "service\tcalls\tattempts\tretries\thedges\tbreaker opens\trejections\t\n")
	for _, k := range serviceOrder {
		st := s.Services[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", k, st.Calls, st.Attempts, st.Retries, st.Hedges, st.BreakerOpens, st.Rejections)
	}
	return tw.Flush()
}

func fmtMs(v float64) string {
	d := time.Duration(v * float64(time.Millisecond))
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(10 * time.Microsecond).String()
	}
}

// counts writes a map of counts as "A 3, B 1", largest first.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	if len(parts) == 0 {
		return ""
	}
	return "\t" + strings.Join(parts, ", ")
}
