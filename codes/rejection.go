package codes

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Domain is the google.rpc.ErrorInfo domain of the rejections made by bulwark's own policies.
const Domain = "bulwark.bulwarkrpc.github.com"

// Rejection is the error a bulwark policy returns when it refuses a call before it reaches the
// service. It is a gRPC status (GRPCStatus) and wraps the policy's sentinel (Unwrap), so both
// status.Code(err) and errors.Is(err, bulkhead.ErrFull) answer correctly.
//
// The status carries a google.rpc.ErrorInfo (Domain, Reason, and metadata "policy" and
// "service") and, when RetryAfter is set, a google.rpc.RetryInfo with it and the ErrorInfo
// metadata "retry_after_ms": RetryAfter in whole milliseconds, rounded up, so that a wait
// shorter than a millisecond (a rate limiter's above 1000 calls per second) never reads as 0.
type Rejection struct {
	// Err is the policy's sentinel, such as breaker.ErrOpen.
	Err error
	// Code is the gRPC code the caller sees: Unavailable or ResourceExhausted.
	Code grpccodes.Code
	// Reason is the ErrorInfo reason, an UPPER_SNAKE_CASE constant such as CIRCUIT_OPEN.
	Reason string
	// Policy names the policy that refused, by its observe label: breaker, adaptive_throttle,
	// rate_limit or bulkhead for bulwark's own (observe.PolicyBreaker, ...).
	Policy string
	// Service is the fully qualified gRPC service the call was for.
	Service string
	// RetryAfter is when the caller may come back; zero when the policy cannot tell. Its
	// verdict's pushback is capped at 24 h, as a server's is.
	RetryAfter time.Duration
}

// Error implements error. A nil *Rejection (a policy's bug) reads as an unnamed rejection.
func (r *Rejection) Error() string {
	if r == nil {
		return "bulwark: call rejected"
	}
	msg := "bulwark: " + r.Policy + " rejected call to " + r.Service
	if r.Err != nil {
		msg += ": " + r.Err.Error()
	}
	if r.RetryAfter > 0 {
		msg += " (retry after " + r.RetryAfter.String() + ")"
	}
	return msg
}

// Unwrap returns the policy's sentinel.
func (r *Rejection) Unwrap() error {
	if r == nil {
		return nil
	}
	return r.Err
}

// ceilMillis returns d, which is positive, in whole milliseconds, rounded up.
func ceilMillis(d time.Duration) int64 {
	ms := d.Milliseconds()
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// validUTF8 returns s with each byte sequence that is not UTF-8 replaced by U+FFFD. A
// protobuf string holds UTF-8 only: a status whose message or details hold anything else does
// not marshal, and a gRPC server then sends it without its details, which the caller reads as
// a plain Unavailable (transient, retried) rather than a rejection.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") } // s itself when valid

// GRPCStatus returns the status a gRPC caller sees, with ErrorInfo and RetryInfo details.
// Names that are not UTF-8 (a service forwarded from an unchecked method name) are sent with
// U+FFFD in place of their invalid bytes.
func (r *Rejection) GRPCStatus() *status.Status {
	if r == nil {
		return status.New(grpccodes.Unavailable, r.Error())
	}
	code := r.Code
	if code == grpccodes.OK {
		code = grpccodes.Unavailable
	}
	st := status.New(code, validUTF8(r.Error()))
	info := &errdetails.ErrorInfo{
		Reason:   validUTF8(r.Reason),
		Domain:   Domain,
		Metadata: map[string]string{"policy": validUTF8(r.Policy), "service": validUTF8(r.Service)},
	}
	if r.RetryAfter > 0 {
		info.Metadata["retry_after_ms"] = strconv.FormatInt(ceilMillis(r.RetryAfter), 10)
		if withDetails, err := st.WithDetails(info, &errdetails.RetryInfo{RetryDelay: durationpb.New(r.RetryAfter)}); err == nil {
			return withDetails
		}
		return st
	}
	if withDetails, err := st.WithDetails(info); err == nil {
		return withDetails
	}
	return st
}
