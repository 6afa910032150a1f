package kyc

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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

// Observe counts CallFinished as a call, AttemptFinished as an attempt, and as a retry too when
// it is of an attempt after the call's first that no hedging delay sent (Attempt above 1,
// Reason not ReasonHedgeDelay): a retry made, not one scheduled (RetryScheduled), which a
// cancel in its backoff leaves unsent; HedgeSent as a hedge, a BreakerStateChanged to "open" as
// a breaker opening (and one that stands for several changes as the opens folded into it too:
// its FoldedTrips and FoldedReopens) and Rejected as a rejection.
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
		if e.Attempt > 1 && e.Reason != observe.ReasonHedgeDelay {
			s.retries.Add(1)
		}
	case observe.BreakerStateChanged:
		// An event its breaker folded several changes into (its sink was held) shows only the
		// last change's To; the opens before it are in FoldedTrips and FoldedReopens.
		n := int64(e.FoldedTrips) + int64(e.FoldedReopens)
		if e.To == "open" {
			n++
		}
		if n != 0 {
			s.breakerOpens.Add(n)
		}
	case observe.Rejected:
		s.rejections.Add(1)
	case observe.HedgeSent:
		s.hedges.Add(1)
	}
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

// ServiceStats are one service's counts in a summary.
type ServiceStats struct {
	// Calls, Attempts, Retries, BreakerOpens, Rejections and Hedges count the suite's events.
	// Attempts are the attempts the client made, those a local policy refused included;
	// Retries are those of them after a call's first that are no hedges: the retries made, not
	// those scheduled, so that a retry an interruption cut in its backoff is not one.
	Calls        int64 `json:"calls"`
	Attempts     int64 `json:"attempts"`
	Retries      int64 `json:"retries"`
	BreakerOpens int64 `json:"breaker_opens"`
	Rejections   int64 `json:"rejections"`
	Hedges       int64 `json:"hedges"`
	// Reached counts the attempts that reached the service: requests counted at the embedded
	// stub, or, for an external service, the attempts the client sent on a connection to it
	// (not those a local policy refused, nor those that ended before they were sent, nor those
	// that found no connection). ReachedPerCall is Reached / Calls.
	Reached        int64   `json:"reached"`
	ReachedPerCall float64 `json:"reached_per_call"`
	// ReachedSource says where Reached was counted: "stub" or "client".
	ReachedSource string `json:"reached_source"`
	// LastError is the last error the service (or the transport to it) answered an attempt
	// with, "" when none: an attempt a retry or a hedge then got past counts too, so a run
	// without a failed step may have one. Business answers and local rejections are not
	// errors of the service. The orchestrator sets it to the code and the address, with grpc's
	// own words for a transport error ("UNAVAILABLE: connection error: ... connection refused
	// (127.0.0.1:1)"), never a service's own status message, which may quote the applicant
	// ("INTERNAL (10.0.0.7:50051)").
	LastError string `json:"last_error,omitempty"`
}

// Summary is what a batch run reports; its JSON form is the -json output.
type Summary struct {
	// Mode is "closed" (a fixed number of workers) or "open" (a fixed arrival rate).
	Mode string `json:"mode"`
	// Interrupted reports that the batch was cut short (SIGINT).
	Interrupted bool `json:"interrupted"`
	// Total counts the verifications that ended (decided, failed or cancelled).
	Total    int `json:"total"`
	Approved int `json:"approved"`
	Rejected int `json:"rejected"`
	Failed   int `json:"failed"`
	// Cancelled counts verifications cut short by an interruption, apart from Failed.
	Cancelled int `json:"cancelled"`
	// NotStarted counts arrivals an interruption kept from starting; Shed counts open-loop
	// arrivals refused because the in-flight bound was reached.
	NotStarted int `json:"not_started"`
	Shed       int `json:"shed"`
	// DecidedPct is 100 × (approved + rejected) / (approved + rejected + failed + shed).
	DecidedPct float64 `json:"decided_pct"`
	// RejectedReasons counts, per step, the business reasons of rejections, keyed
	// "STEP: REASON": one rejected verification may count under several steps.
	RejectedReasons map[string]int `json:"rejected_reasons"`
	// FailedReasons counts the failed steps of failed verifications by "STEP: CODE REASON": not
	// the steps an interruption cut after another step had failed (reason CALLER_CANCELLED),
	// which the server's error lists apart too (cancelled_steps).
	FailedReasons map[string]int `json:"failed_reasons"`
	P50Ms         float64        `json:"p50_ms"`
	P99Ms         float64        `json:"p99_ms"`
	MaxMs         float64        `json:"max_ms"`
	ElapsedMs     float64        `json:"elapsed_ms"`
	// ThroughputPerS is verifications ended per second of the run; DecidedPerS the decided ones.
	ThroughputPerS float64 `json:"throughput_per_s"`
	DecidedPerS    float64 `json:"decided_per_s"`
	// Rate is the open loop's arrival rate (0 in a closed loop); ArrivalsLostS is
	// (failed + shed) / rate, the seconds of arrivals an outage cost (0 in a closed loop).
	Rate          float64 `json:"rate"`
	ArrivalsLostS float64 `json:"arrivals_lost_s"`
	// InFlightLimit bounds verifications in flight (the closed loop's workers, the open loop's
	// shedding bound); MaxInFlight is the most seen at once.
	InFlightLimit int `json:"in_flight_limit"`
	MaxInFlight   int `json:"max_in_flight"`
	// BreakerOpens and Hedges add up the services' counts.
	BreakerOpens int64                   `json:"breaker_opens"`
	Hedges       int64                   `json:"hedges"`
	Services     map[string]ServiceStats `json:"services"`
	// Outage reports the -outage of the embedded stubs; nil (no key) without one.
	Outage *OutageReport `json:"outage,omitempty"`
}

// OutageReport says what a batch's -outage met. An outage that started can still have met no
// request: the batch's calls to its services had all ended (the batch ran on for a few slow
// verifications), or the batch never reached them. Its summary then tests no outage, however
// the outage's start was logged.
type OutageReport struct {
	// Services are the services the outage took down (summary keys).
	Services []string `json:"services"`
	// AtMs and ForMs are -outage-at and -outage.
	AtMs  float64 `json:"at_ms"`
	ForMs float64 `json:"for_ms"`
	// Started reports that the outage started before the batch ended.
	Started bool `json:"started"`
	// Refused counts, per service taken down, the requests its stub refused during the
	// outage: the attempts that met it (0 for each service when it never started).
	Refused map[string]int64 `json:"refused"`
}

// Unmet lists, in Services' order, the services taken down whose stub refused no request:
// an outage that started met no call of theirs.
func (o *OutageReport) Unmet() []string {
	var out []string
	for _, k := range o.Services {
		if o.Refused[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

// Summarize builds the summary of a batch's responses, its wall time, and the service counters.
// Nil responses, from a batch cut short (Batch.Run), are left out as not started and mark the
// summary Interrupted; so are those of arrivals an open loop shed, which only SummarizeResult
// of Batch.RunResult counts as shed. The responses alone do not tell a verification that an
// interruption cancelled in flight from one that failed: Summarize counts it failed, where
// SummarizeResult of Batch.RunResult counts it cancelled.
func Summarize(resps []*kycv1.VerifyResponse, elapsed time.Duration, counters *Counters) Summary {
	arrivals := make([]Arrival, len(resps))
	interrupted := false
	for i, r := range resps {
		if r != nil {
			arrivals[i] = ArrivalDone
		} else {
			interrupted = true
		}
	}
	return SummarizeResult(Result{Responses: resps, Arrivals: arrivals, Elapsed: elapsed, Interrupted: interrupted}, counters)
}

// SummarizeResult builds the summary of a batch run and the service counters (nil: zeros).
// Reached counts are left to the caller (SetReached); until then they are Attempts less
// Rejections, a bound from above.
func SummarizeResult(res Result, counters *Counters) Summary {
	s := Summary{Mode: "closed", RejectedReasons: map[string]int{}, FailedReasons: map[string]int{},
		ElapsedMs: ms(res.Elapsed), Rate: res.Rate, InFlightLimit: res.InFlightLimit, MaxInFlight: res.MaxInFlight,
		Interrupted: res.Interrupted}
	if res.Rate > 0 {
		s.Mode = "open"
	}
	var lat []time.Duration
	for i, a := range res.Arrivals {
		r := res.Responses[i]
		switch a {
		case ArrivalNotStarted:
			s.NotStarted++
			continue
		case ArrivalShed:
			s.Shed++
			continue
		case ArrivalCancelled:
			s.Total++
			s.Cancelled++
			continue
		}
		s.Total++
		lat = append(lat, Elapsed(r))
		switch r.GetDecision() {
		case kycv1.Decision_DECISION_APPROVED:
			s.Approved++
		case kycv1.Decision_DECISION_REJECTED:
			s.Rejected++
			for _, st := range r.GetSteps() {
				if st.GetStatus() == kycv1.StepStatus_STEP_STATUS_REJECTED {
					s.RejectedReasons[StepKey(st.GetStep())+": "+st.GetReason()]++
				}
			}
		case kycv1.Decision_DECISION_FAILED:
			s.Failed++
			for _, st := range r.GetSteps() {
				if st.GetStatus() == kycv1.StepStatus_STEP_STATUS_FAILED && st.GetReason() != ReasonCallerCancelled {
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
	decided := s.Approved + s.Rejected
	if n := decided + s.Failed + s.Shed; n > 0 {
		s.DecidedPct = math.Round(10000*float64(decided)/float64(n)) / 100
	}
	if secs := res.Elapsed.Seconds(); secs > 0 {
		s.ThroughputPerS = round2(float64(s.Total) / secs)
		s.DecidedPerS = round2(float64(decided) / secs)
	}
	if res.Rate > 0 {
		s.ArrivalsLostS = round2(float64(s.Failed+s.Shed) / res.Rate)
	}
	if counters == nil {
		counters = NewCounters()
	}
	s.Services = counters.Snapshot()
	s.SetReached(nil, nil)
	return s
}

// SetReached sets each service's Reached count from the requests counted at its stub, or for
// a service missing from atStub from the attempts the client sent to it on a connection
// (atClient), with ReachedPerCall, and adds up BreakerOpens and Hedges. A service missing from
// both is counted at the client as Attempts less Rejections, which counts too the attempts
// that never left (a hedge given up in a bulkhead's queue, a refused connection).
func (s *Summary) SetReached(atStub, atClient map[string]int64) {
	s.BreakerOpens, s.Hedges = 0, 0
	for k, st := range s.Services {
		if n, ok := atStub[k]; ok {
			st.Reached, st.ReachedSource = n, "stub"
		} else if n, ok := atClient[k]; ok {
			st.Reached, st.ReachedSource = n, "client"
		} else {
			st.Reached, st.ReachedSource = max(st.Attempts-st.Rejections, 0), "client"
		}
		st.ReachedPerCall = 0
		if st.Calls > 0 {
			st.ReachedPerCall = round2(float64(st.Reached) / float64(st.Calls))
		}
		s.BreakerOpens += st.BreakerOpens
		s.Hedges += st.Hedges
		s.Services[k] = st
	}
}

// SetLastErrors sets each service's LastError from last (service key → error).
func (s *Summary) SetLastErrors(last map[string]string) {
	for k, st := range s.Services {
		st.LastError = last[k]
		s.Services[k] = st
	}
}

// StepKey is the summary's name of a step, the service key it calls: liveness, facematch, ocr.
func StepKey(st kycv1.Step) string {
	switch st {
	case kycv1.Step_STEP_LIVENESS:
		return KeyLiveness
	case kycv1.Step_STEP_FACE_MATCH:
		return KeyFaceMatch
	case kycv1.Step_STEP_OCR:
		return KeyOCR
	}
	return strings.ToLower(strings.TrimPrefix(st.String(), "STEP_"))
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func failedKey(st *kycv1.StepOutcome) string {
	k := StepKey(st.GetStep()) + ": " + st.GetCode()
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
	if s.Interrupted {
		fmt.Fprintf(w, "INTERRUPTED: partial summary (%d cancelled in flight, %d not started)\n", s.Cancelled, s.NotStarted)
	}
	pct := func(n int) string {
		if s.Total == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(s.Total))
	}
	head := fmt.Sprintf("in %s (%.1f/s)", fmtMs(s.ElapsedMs), s.ThroughputPerS)
	if s.Mode == "open" {
		head += fmt.Sprintf(", open loop at %g/s, at most %d in flight (bound %d)", s.Rate, s.MaxInFlight, s.InFlightLimit)
	}
	rows := []tableRow{{"verifications", strconv.Itoa(s.Total), "", head}}
	// The decided share is DecidedPct, not a share of Total as the rows below: say of what.
	// With nothing to share it of (none decided, failed or shed: -n 0, or all cancelled), "-".
	decidedPct := "-"
	if s.Approved+s.Rejected+s.Failed+s.Shed > 0 {
		decidedPct = fmt.Sprintf("%.1f%%", s.DecidedPct)
	}
	rows = append(rows, tableRow{"  decided", strconv.Itoa(s.Approved + s.Rejected), decidedPct,
		"of approved + rejected + failed + shed (decided: approved + rejected)"})
	rows = append(rows, tableRow{"  approved", strconv.Itoa(s.Approved), pct(s.Approved), ""})
	// Reasons are counted per step, and several steps may reject (or fail) one verification.
	rows = append(rows, tableRow{"  rejected", strconv.Itoa(s.Rejected), pct(s.Rejected),
		counts("rejecting steps (one verification may count under several): ", s.RejectedReasons)})
	rows = append(rows, tableRow{"  failed", strconv.Itoa(s.Failed), pct(s.Failed),
		counts("failed steps (one verification may count under several): ", s.FailedReasons)})
	if s.Cancelled > 0 || s.Interrupted {
		rows = append(rows, tableRow{"  cancelled", strconv.Itoa(s.Cancelled), pct(s.Cancelled), "(interrupted, not counted as failed)"})
	}
	if s.Shed > 0 {
		rows = append(rows, tableRow{"  shed", strconv.Itoa(s.Shed), "", "(arrivals past the in-flight bound, not started)"})
	}
	if s.Mode == "open" {
		rows = append(rows, tableRow{"arrivals lost", fmt.Sprintf("%.2fs", s.ArrivalsLostS), "", "(failed + shed) / rate"})
	}
	rows = append(rows, tableRow{"latency", "", "", fmt.Sprintf("p50 %s  p99 %s  max %s", fmtMs(s.P50Ms), fmtMs(s.P99Ms), fmtMs(s.MaxMs))})
	if o := s.Outage; o != nil {
		rows = append(rows, tableRow{"outage", "", "", o.note()})
	}
	if err := writeRows(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "service\tcalls\tattempts\treached\tper call\tretries\thedges\tbreaker opens\trejected locally\t\n")
	for _, k := range serviceOrder {
		st := s.Services[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%d\t%d\t%d\t%d\t\n", k, st.Calls, st.Attempts, st.Reached, st.ReachedPerCall,
			st.Retries, st.Hedges, st.BreakerOpens, st.Rejections)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "attempts: made by the client; reached: counted at the service (stub), or sent to it on a connection (client)")
	fmt.Fprintln(w, "attempts neither reached nor rejected locally: given up before they were sent (a hedge waiting for a bulkhead slot when its call was answered), or found no connection")
	for _, k := range serviceOrder {
		if e := s.Services[k].LastError; e != "" {
			fmt.Fprintf(w, "%s: last error: %s\n", k, e)
		}
	}
	return nil
}

// note is the outage's row in the table: what it took down, when, and the requests it refused.
func (o *OutageReport) note() string {
	what := fmt.Sprintf("%s for %s from %s", strings.Join(o.Services, ", "),
		fmtMs(o.ForMs), fmtMs(o.AtMs))
	if !o.Started {
		return what + ": never started (the batch ended before it)"
	}
	refused := make([]string, 0, len(o.Services))
	for _, k := range o.Services {
		refused = append(refused, fmt.Sprintf("%s %d", k, o.Refused[k]))
	}
	what += ": requests refused: " + strings.Join(refused, ", ")
	if unmet := o.Unmet(); len(unmet) > 0 {
		what += " (no request of " + strings.Join(unmet, ", ") + " met it: not tested)"
	}
	return what
}

// tableRow is a row of the summary's first table: a label, a count and a percentage (each
// right-aligned in its column, so that their digits line up), and a note that starts in the
// same column on every row.
type tableRow struct{ label, count, pct, note string }

// writeRows writes rows with every column as wide as its widest cell, two spaces apart, and no
// trailing spaces. (A tabwriter sized each column over the rows that had it: the latency row's
// "p50 25ms" widened the count column, and rows without a note ended the percentage column,
// so the notes started in different places.)
func writeRows(w io.Writer, rows []tableRow) error {
	var wl, wc, wp int
	for _, r := range rows {
		wl = max(wl, utf8.RuneCountInString(r.label))
		wc = max(wc, utf8.RuneCountInString(r.count))
		wp = max(wp, utf8.RuneCountInString(r.pct))
	}
	var b strings.Builder
	for _, r := range rows {
		line := fmt.Sprintf("%-*s  %*s  %*s  %s", wl, r.label, wc, r.count, wp, r.pct, r.note)
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
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

// counts writes a map of counts as "labelA 3, B 1", largest first, or "" when it is empty.
func counts(label string, m map[string]int) string {
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
	return label + strings.Join(parts, ", ")
}
