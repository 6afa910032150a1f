package kyc

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Business reasons the orchestrator itself decides, besides those the services put in their
// ErrorInfo details (DOCUMENT_UNREADABLE, FACE_NOT_DETECTED, NO_FRAMES).
const (
	ReasonSpoofDetected         = "SPOOF_DETECTED"
	ReasonFaceMismatch          = "FACE_MISMATCH"
	ReasonDocumentExpired       = "DOCUMENT_EXPIRED"
	ReasonDocumentExpiryInvalid = "DOCUMENT_EXPIRY_INVALID"
)

// ReasonFallback is the reason of a FAILED step whose call a fallback policy answered in the
// service's place: its code is that of the error the fallback replaced.
const ReasonFallback = "FALLBACK"

// ReasonVerdictUnknown is the reason of a FAILED step whose service answered OK with a verdict
// that neither passes nor rejects: UNSPECIFIED, which no healthy service returns, or a value
// this build does not know (a newer service's). Its code is OK. It is no answer about the
// applicant, who is not rejected on it.
const ReasonVerdictUnknown = "VERDICT_UNKNOWN"

// ReasonCallerCancelled is the reason of a FAILED step that the caller's cancel cut (see
// Verifier.Verify): its code is CANCELLED. A step whose service answered CANCELLED itself,
// the caller still there, keeps that code without this reason: it failed.
const ReasonCallerCancelled = "CALLER_CANCELLED"

// DefaultBudget is the time a whole verification may take: the KYC SLO.
const DefaultBudget = 8 * time.Second

// Verifier runs verifications against the three services. Its connections carry the
// resilience interceptors (the bulwark suite); the Verifier itself only decides. It is safe
// for concurrent use once built. Its Verify answers every verification with a decision, FAILED
// included; serve it through Server, which turns an undecided verification into a gRPC error
// a caller can retry.
type Verifier struct {
	kycv1.UnimplementedKYCServiceServer

	Liveness  kycv1.LivenessServiceClient
	FaceMatch kycv1.FaceMatchServiceClient
	OCR       kycv1.OCRServiceClient
	// Budget bounds a whole verification (a context deadline over the three steps). Zero means
	// DefaultBudget.
	Budget time.Duration
	// Now tells the date against which document expiry is judged: a document is valid through
	// its expiry date, a calendar day in the time zone of Now's time (the local zone with
	// time.Now). Nil means time.Now.
	Now func() time.Time
	// Classifier returns the classifier of a full method: the one the bulwark suite's policies
	// use for it, so that an error the configuration classes transient (and the suite
	// retried) is a failure of the step, not a rejection of the applicant, and the other way
	// round. Nil means codes.Default for every method.
	Classifier func(fullMethod string) *codes.Classifier

	// stepEnded, when set (by the tests), is called from each step's goroutine once the step's
	// end is recorded.
	stepEnded func(kycv1.Step)
}

// classifier returns the classifier of fullMethod (see Verifier.Classifier).
func (v *Verifier) classifier(fullMethod string) *codes.Classifier {
	if v.Classifier != nil {
		if c := v.Classifier(fullMethod); c != nil {
			return c
		}
	}
	return codes.Default()
}

// NewVerifier returns a Verifier whose clients use the three connections (they may be one and
// the same connection).
func NewVerifier(liveness, faceMatch, ocr grpc.ClientConnInterface) *Verifier {
	return &Verifier{
		Liveness:  kycv1.NewLivenessServiceClient(liveness),
		FaceMatch: kycv1.NewFaceMatchServiceClient(faceMatch),
		OCR:       kycv1.NewOCRServiceClient(ocr),
	}
}

func (v *Verifier) budget() time.Duration {
	if v.Budget > 0 {
		return v.Budget
	}
	return DefaultBudget
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// step is one step's outcome and the business reason it rejects for, if any.
type step struct {
	outcome *kycv1.StepOutcome
	reason  string // business rejection reason; "" when passed or failed
	// late is the error of the caller's context when the step ended: nil when it ended before
	// the caller's context was done.
	late error
}

// Verify runs one verification and always returns a decision: it never returns an error for
// a step that failed (that is DECISION_FAILED). The three steps run concurrently under one
// deadline of Budget, so the slowest step, not the sum of the three, must fit the SLO: the ml
// profile's retries alone may use most of the 8 s, and in sequence they would leave OCR
// nothing.
//
// The decision: REJECTED when any step gave a business answer against the applicant (a
// retry later would get the same answer, so it wins over an infrastructure failure of
// another step); else FAILED when any step got no answer (a reply a fallback policy made up in
// the service's place is none: that step is FAILED, reason FALLBACK; nor is a verdict neither
// passing nor rejecting: reason VERDICT_UNKNOWN); else APPROVED. Steps do not cancel
// one another, so the rejection reasons do not depend on timing.
//
// A step that got no answer and ended after the caller cancelled ctx is cut by the cancel, not
// failed by its service: its code is CANCELLED, reason CALLER_CANCELLED, whatever its last
// attempt's code was (a retry cut in its backoff ends with the error of the attempt before).
// One that ended after the caller's deadline passed ran out of time: its code is
// DEADLINE_EXCEEDED, reason DEADLINE, whatever its last attempt's code was.
func (v *Verifier) Verify(ctx context.Context, req *kycv1.VerifyRequest) (*kycv1.VerifyResponse, error) {
	resp, _ := v.verify(ctx, req)
	return resp, nil
}

// verify is Verify; it also returns how many steps failed for real: got no answer (or a
// verdict without meaning) and ended before the caller's ctx was done.
func (v *Verifier) verify(caller context.Context, req *kycv1.VerifyRequest) (*kycv1.VerifyResponse, int) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(caller, v.budget())
	defer cancel()

	var steps [3]step
	var wg sync.WaitGroup
	wg.Add(3)
	run := func(i int, f func(context.Context, *kycv1.VerifyRequest) step) {
		defer wg.Done()
		s := f(ctx, req)
		s.late = caller.Err()
		steps[i] = s
		if v.stepEnded != nil {
			v.stepEnded(s.outcome.GetStep())
		}
	}
	go run(0, v.liveness)
	go run(1, v.faceMatch)
	go run(2, v.ocr)
	wg.Wait()

	resp := &kycv1.VerifyResponse{VerificationId: req.GetVerificationId()}
	failed, realFailures := false, 0
	for _, s := range steps {
		resp.Steps = append(resp.Steps, s.outcome)
		switch s.outcome.GetStatus() {
		case kycv1.StepStatus_STEP_STATUS_REJECTED:
			resp.RejectionReasons = appendUnique(resp.RejectionReasons, s.reason)
		case kycv1.StepStatus_STEP_STATUS_FAILED:
			failed = true
			switch {
			case s.late == nil || s.outcome.GetReason() == ReasonVerdictUnknown:
				realFailures++ // the service's own answer (VERDICT_UNKNOWN) is no cut either
			case errors.Is(s.late, context.Canceled):
				s.outcome.Code = CodeName(grpccodes.Canceled)
				s.outcome.Reason = ReasonCallerCancelled
			default: // the caller's deadline: the step ran out of time
				s.outcome.Code = CodeName(grpccodes.DeadlineExceeded)
				s.outcome.Reason = strings.ToUpper(observe.ReasonDeadline)
			}
		}
	}
	switch {
	case len(resp.RejectionReasons) > 0:
		resp.Decision = kycv1.Decision_DECISION_REJECTED
	case failed:
		resp.Decision = kycv1.Decision_DECISION_FAILED
	default:
		resp.Decision = kycv1.Decision_DECISION_APPROVED
	}
	resp.Elapsed = durationpb.New(time.Since(start))
	return resp, realFailures
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// call is what one step's gRPC call produced.
type call struct {
	info     retry.Info
	start    time.Time
	cl       *codes.Classifier // the method's (Verifier.classifier)
	fallback fallbackSeen
}

// newCall starts the step's call of fullMethod: it returns the call and the context to make
// it with, which carries the call's sink (observe.WithCallSink) so that a reply a fallback
// policy gave in place of the service's (a -config with a fallback section) is known.
func (v *Verifier) newCall(ctx context.Context, fullMethod string) (*call, context.Context) {
	c := &call{start: time.Now(), cl: v.classifier(fullMethod)}
	return c, observe.WithCallSink(ctx, &c.fallback)
}

// fallbackSeen is a call sink that notes the call's FallbackServed event: the code of the
// error the fallback replaced, plus one; zero while none was served.
type fallbackSeen struct{ code atomic.Uint32 }

// Observe implements observe.Sink.
func (f *fallbackSeen) Observe(e observe.Event) {
	if e.Kind == observe.FallbackServed {
		f.code.Store(uint32(e.Code) + 1)
	}
}

// served returns the code of the error a fallback replaced, and whether one was.
func (f *fallbackSeen) served() (grpccodes.Code, bool) {
	c := f.code.Load()
	return grpccodes.Code(c - 1), c != 0
}

// finish builds the step outcome of a call that ended with err (nil when the service
// answered; the step's own check then decides through passReason: "" passes, a business
// reason rejects, ReasonVerdictUnknown fails the step).
func (c *call) finish(st kycv1.Step, err error, passReason string) step {
	out := &kycv1.StepOutcome{
		Step:     st,
		Attempts: uint32(max(c.info.Attempts, 1)),
		Duration: durationpb.New(time.Since(c.start)),
	}
	if code, ok := c.fallback.served(); ok && err == nil {
		// The service did not answer: the reply is the fallback's, made up, and neither
		// passes the applicant nor rejects them.
		out.Code = CodeName(code)
		out.Reason = ReasonFallback
		out.Status = kycv1.StepStatus_STEP_STATUS_FAILED
		return step{outcome: out}
	}
	if err == nil {
		out.Code = CodeName(grpccodes.OK)
		if passReason == ReasonVerdictUnknown {
			out.Reason = passReason
			out.Status = kycv1.StepStatus_STEP_STATUS_FAILED
			return step{outcome: out}
		}
		if passReason == "" {
			out.Status = kycv1.StepStatus_STEP_STATUS_PASSED
			return step{outcome: out}
		}
		out.Status = kycv1.StepStatus_STEP_STATUS_REJECTED
		out.Reason = passReason
		return step{outcome: out, reason: passReason}
	}
	verdict := c.cl.Classify(err)
	out.Code = CodeName(verdict.Code)
	out.Reason = verdict.Reason
	if verdict.Class == codes.Business {
		if out.Reason == "" {
			out.Reason = out.Code
		}
		out.Status = kycv1.StepStatus_STEP_STATUS_REJECTED
		return step{outcome: out, reason: out.Reason}
	}
	if out.Reason == "" && c.info.Reason != "" {
		// No policy refused the call: say why retrying stopped (MAX_ATTEMPTS, BUDGET, ...).
		out.Reason = strings.ToUpper(c.info.Reason)
	}
	out.Status = kycv1.StepStatus_STEP_STATUS_FAILED
	return step{outcome: out}
}

func (v *Verifier) liveness(ctx context.Context, req *kycv1.VerifyRequest) step {
	c, ctx := v.newCall(ctx, kycv1.LivenessService_Check_FullMethodName)
	resp, err := v.check(ctx, req.GetLivenessFrames(), retry.Report(&c.info))
	reason := ""
	if err == nil {
		switch resp.GetVerdict() {
		case kycv1.LivenessVerdict_LIVENESS_VERDICT_LIVE:
		case kycv1.LivenessVerdict_LIVENESS_VERDICT_SPOOF:
			reason = ReasonSpoofDetected
		default:
			reason = ReasonVerdictUnknown
		}
	}
	return c.finish(kycv1.Step_STEP_LIVENESS, err, reason)
}

// check streams the frames and reads the verdict.
func (v *Verifier) check(ctx context.Context, frames [][]byte, opts ...grpc.CallOption) (*kycv1.CheckResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if we leave before CloseAndRecv
	stream, err := v.Liveness.Check(ctx, opts...)
	if err != nil {
		return nil, err
	}
	for i, f := range frames {
		if err := stream.Send(&kycv1.CheckRequest{Index: uint32(i), Image: f}); err != nil {
			if errors.Is(err, io.EOF) {
				break // the stream ended: CloseAndRecv returns its status
			}
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

func (v *Verifier) faceMatch(ctx context.Context, req *kycv1.VerifyRequest) step {
	c, ctx := v.newCall(ctx, kycv1.FaceMatchService_Compare_FullMethodName)
	resp, err := v.FaceMatch.Compare(ctx, &kycv1.CompareRequest{
		Selfie: req.GetSelfie(), DocumentFace: req.GetDocumentImage(),
	}, retry.Report(&c.info))
	reason := ""
	if err == nil {
		switch resp.GetVerdict() {
		case kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH:
		case kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_NO_MATCH:
			reason = ReasonFaceMismatch
		default:
			reason = ReasonVerdictUnknown
		}
	}
	return c.finish(kycv1.Step_STEP_FACE_MATCH, err, reason)
}

func (v *Verifier) ocr(ctx context.Context, req *kycv1.VerifyRequest) step {
	c, ctx := v.newCall(ctx, kycv1.OCRService_Extract_FullMethodName)
	resp, err := v.OCR.Extract(ctx, &kycv1.ExtractRequest{
		DocumentImage: req.GetDocumentImage(), DocumentType: req.GetDocumentType(),
	}, retry.Report(&c.info))
	reason := ""
	if err == nil {
		reason = v.expiryReason(resp.GetFields().GetExpiryDate())
	}
	return c.finish(kycv1.Step_STEP_OCR, err, reason)
}

// expiryReason judges a document's expiry date (YYYY-MM-DD): "" when it is still valid.
func (v *Verifier) expiryReason(date string) string {
	exp, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return ReasonDocumentExpiryInvalid
	}
	// The expiry date is a calendar day, not an instant: compare it with today's date in the
	// check's zone (as UTC midnight it ended hours early west of UTC and late east of it), and
	// as dates (the instant of the midnight that ends the day does not exist where the clocks
	// go forward then, and time.Date made it an hour early).
	now := v.now()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	// A document is valid through its expiry day.
	if today.After(exp) {
		return ReasonDocumentExpired
	}
	return ""
}

// CodeName returns the canonical name of a gRPC code, as StepOutcome.code carries it:
// "OK", "UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED".
func CodeName(c grpccodes.Code) string {
	s := c.String()
	switch c {
	case grpccodes.OK:
		return "OK"
	case grpccodes.Canceled:
		return "CANCELLED" // the canonical spelling; grpc-go's String says "Canceled"
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
