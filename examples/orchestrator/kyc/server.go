package kyc

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ErrorDomain is the ErrorInfo domain of the server's own errors.
const ErrorDomain = "kyc.bulwark.example"

// ReasonUndecided is the ErrorInfo reason of a verification that could not be decided.
const ReasonUndecided = "VERIFICATION_UNDECIDED"

// DefaultRetryAfter is the RetryInfo delay of an undecided verification.
const DefaultRetryAfter = time.Second

// Server serves kyc.v1.KYCService over a Verifier. A decision (APPROVED or REJECTED) is a
// gRPC OK whatever it says about the applicant; a verification that could not be decided
// (some step got no answer) is a gRPC error the caller can retry: DeadlineExceeded when every
// failed step ran out of time (its attempt's DEADLINE_EXCEEDED, or a retry that the budget or
// deadline stopped, reason BUDGET or DEADLINE: the same budget ends a verification with the
// same code wherever in a retry schedule it ends; a step the caller's deadline cut reports
// DEADLINE_EXCEEDED, reason DEADLINE, whatever its last attempt's code), else Unavailable, with a RetryInfo, an ErrorInfo whose
// metadata names each failed step and its code, and the VerifyResponse itself (steps and codes,
// no applicant data). A verification left undecided because its caller cancelled (no step failed
// before the caller left; the steps the cancel cut report CANCELLED, reason CALLER_CANCELLED)
// is answered Canceled and not counted in the metrics; one where a step had failed for real
// before is answered and counted as failed, the steps the cancel cut listed apart
// (cancelled_steps), not as failed. A service's own CANCELLED answer, its caller still there,
// is a failure of its step like any other (failed_steps, Unavailable).
// Safe for concurrent use.
type Server struct {
	kycv1.UnimplementedKYCServiceServer

	v          *Verifier
	metrics    *Metrics
	retryAfter time.Duration
}

// NewServer returns a server over v; metrics may be nil. retryAfter ≤ 0 means DefaultRetryAfter.
func NewServer(v *Verifier, metrics *Metrics, retryAfter time.Duration) *Server {
	if retryAfter <= 0 {
		retryAfter = DefaultRetryAfter
	}
	return &Server{v: v, metrics: metrics, retryAfter: retryAfter}
}

// Verify runs one verification; see Server.
func (s *Server) Verify(ctx context.Context, req *kycv1.VerifyRequest) (*kycv1.VerifyResponse, error) {
	resp, realFailures := s.v.verify(ctx, req)
	if resp.GetDecision() == kycv1.Decision_DECISION_FAILED && realFailures == 0 && errors.Is(ctx.Err(), context.Canceled) {
		// The caller went away (a hedge it no longer needs, a client that gave up) before any
		// step failed: the verification is neither decided nor failed by the dependencies, as
		// a batch does not count one an interruption cancelled.
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	s.metrics.Observe(resp)
	if resp.GetDecision() != kycv1.Decision_DECISION_FAILED {
		return resp, nil
	}
	return nil, UndecidedError(resp, s.retryAfter)
}

// UndecidedError is the status error of an undecided verification; see Server. A failed step
// the caller's cancel cut (reason CALLER_CANCELLED: see Verifier.Verify) is listed in
// cancelled_steps, not in failed_steps, and does not choose the code; with no other failed
// step the code is Canceled.
func UndecidedError(resp *kycv1.VerifyResponse, retryAfter time.Duration) error {
	code := grpccodes.DeadlineExceeded
	md := map[string]string{}
	var failed, cancelled []string
	for _, st := range resp.GetSteps() {
		if st.GetStatus() != kycv1.StepStatus_STEP_STATUS_FAILED {
			continue
		}
		key := StepKey(st.GetStep())
		md[key] = strings.TrimSpace(st.GetCode() + " " + st.GetReason())
		if st.GetReason() == ReasonCallerCancelled {
			cancelled = append(cancelled, key)
			continue
		}
		failed = append(failed, key)
		if !ranOutOfTime(st) {
			code = grpccodes.Unavailable
		}
	}
	if len(failed) == 0 && len(cancelled) > 0 {
		code, failed = grpccodes.Canceled, cancelled
	} else if len(cancelled) > 0 {
		md["cancelled_steps"] = strings.Join(cancelled, ",")
	}
	md["failed_steps"] = strings.Join(failed, ",")
	st := status.New(code, "verification "+resp.GetVerificationId()+" undecided: no answer from "+strings.Join(failed, ", "))
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonUndecided, Domain: ErrorDomain, Metadata: md},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)},
		resp,
	); err == nil {
		st = d
	}
	return st.Err()
}

// ranOutOfTime reports whether a failed step ended because the verification's time did: its
// last attempt did (DEADLINE_EXCEEDED), or its retry stopped while waiting to try again
// because no time remained (reason BUDGET or DEADLINE, whatever the last attempt's code).
func ranOutOfTime(st *kycv1.StepOutcome) bool {
	switch st.GetReason() {
	case strings.ToUpper(observe.ReasonBudget), strings.ToUpper(observe.ReasonDeadline):
		return true
	}
	return st.GetCode() == CodeName(grpccodes.DeadlineExceeded)
}

// Metrics are the orchestrator's decision metrics: kyc_verifications_total{decision} and the
// histogram kyc_verification_duration_seconds{decision}, decision one of approved, rejected,
// failed. A nil *Metrics records nothing.
type Metrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the decision metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kyc_verifications_total",
			Help: "Verifications ended, by decision (approved, rejected: decided; failed: undecided).",
		}, []string{"decision"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kyc_verification_duration_seconds",
			Help:    "Wall time of a verification, by decision.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 4, 6, 8, 10},
		}, []string{"decision"}),
	}
	for _, c := range []prometheus.Collector{m.total, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"approved", "rejected", "failed"} {
		m.total.WithLabelValues(d)
		m.duration.WithLabelValues(d)
	}
	return m, nil
}

// Observe records one response.
func (m *Metrics) Observe(resp *kycv1.VerifyResponse) {
	if m == nil || resp == nil {
		return
	}
	d := strings.ToLower(strings.TrimPrefix(resp.GetDecision().String(), "DECISION_"))
	m.total.WithLabelValues(d).Inc()
	m.duration.WithLabelValues(d).Observe(Elapsed(resp).Seconds())
}
