package retry

import (
	"errors"
	"strconv"
	"time"

	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrExhausted is the sentinel of every *ExhaustedError: errors.Is(err, retry.ErrExhausted)
// reports that the retry policy gave up after a retryable outcome.
var ErrExhausted = errors.New("retry: retries exhausted")

// Info is what the retry policy did for one call.
type Info struct {
	// Attempts is how many requests the call sent, the first one included: its attempts, and,
	// when a hedging policy below the loop hedged them (as in the interceptors suite), every
	// hedge too, as AttemptFinished numbers them. So it may exceed Config.MaxAttempts, which
	// bounds the loop's attempts (rounds), not the hedges within them.
	Attempts int
	// Elapsed is the time from the start of the call to its return, sleeps included.
	Elapsed time.Duration
	// Code is the gRPC code of the last attempt (OK on success).
	Code grpccodes.Code
	// Reason says why retrying stopped after a retryable outcome: observe.ReasonMaxAttempts,
	// ReasonBudget, ReasonDeadline, ReasonRetryBudget or ReasonPushbackStop. It is empty when
	// the call succeeded or ended with an outcome that is never retried.
	Reason string
}

// ExhaustedError is the error a call returns when retrying stopped after a retryable outcome.
// Its gRPC status has the code and details of the last attempt's status, with the message
// annotated "(after N attempts)"; Unwrap returns the last attempt's error, and Is matches
// ErrExhausted.
type ExhaustedError struct {
	// Info is what the policy did.
	Info Info
	// Err is the last attempt's error.
	Err error
}

// Error implements error.
func (e *ExhaustedError) Error() string {
	return e.Err.Error() + " (" + e.suffix() + ")"
}

func (e *ExhaustedError) suffix() string {
	s := "after " + strconv.Itoa(e.Info.Attempts) + " attempt"
	if e.Info.Attempts != 1 {
		s += "s"
	}
	if e.Info.Reason != "" {
		s += ", " + e.Info.Reason
	}
	return s
}

// Unwrap returns the last attempt's error.
func (e *ExhaustedError) Unwrap() error { return e.Err }

// Is reports whether target is ErrExhausted.
func (e *ExhaustedError) Is(target error) bool { return target == ErrExhausted }

// GRPCStatus returns the last attempt's status (same code, same details) with its message
// annotated with the attempt count and the reason.
func (e *ExhaustedError) GRPCStatus() *status.Status {
	st, ok := status.FromError(e.Err)
	if !ok {
		st = status.New(e.Info.Code, e.Err.Error())
	}
	p := st.Proto()
	p.Message += " (" + e.suffix() + ")"
	return status.FromProto(p)
}

// InfoOf returns the Info carried by an error returned by a retrying call, if any.
func InfoOf(err error) (Info, bool) {
	var e *ExhaustedError
	if errors.As(err, &e) {
		return e.Info, true
	}
	return Info{}, false
}
