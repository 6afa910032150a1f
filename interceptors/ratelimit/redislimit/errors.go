package redislimit

import "errors"

// ErrUnavailable is the sentinel of a fail-closed Limiter that could not ask Redis in time:
// errors.Is(err, ErrUnavailable) reports it. The ratelimit policy turns it into an
// Unavailable rejection.
var ErrUnavailable = errors.New("redislimit: redis unavailable")

// The causes an UnavailableError carries besides Redis's and the network's own errors.
var (
	// errProbePause: the Limiter skips Redis for a while after a failure.
	errProbePause = errors.New("redis skipped after a recent failure")
	// errTimeout: the round trip outlived RedisConfig.Timeout. It is deliberately not
	// context.DeadlineExceeded, which would read as the caller's own deadline.
	errTimeout = errors.New("redis round trip timed out")
)

// pauseError is why the calls of a probe pause did not ask Redis: the pause, and the failure
// that started it, which an operator reading any refusal of the pause wants to see.
type pauseError struct{ last error }

func (e *pauseError) Error() string { return errProbePause.Error() + ": " + e.last.Error() }

// Unwrap returns errProbePause and the failure.
func (e *pauseError) Unwrap() []error { return []error{errProbePause, e.last} }

// UnavailableError is the error Take returns when it is fail-closed and Redis could not be
// asked. It matches ErrUnavailable and its cause (a network error, a Redis error) with
// errors.Is and errors.As. A round trip that outlived RedisConfig.Timeout does not match
// context.DeadlineExceeded: that would read as the caller's own deadline, which Take reports
// by returning ctx.Err() itself.
type UnavailableError struct {
	// Name is the limiter's name.
	Name string
	// Err is why Redis could not be asked.
	Err error
}

func (e *UnavailableError) Error() string {
	return "redislimit: limiter " + e.Name + ": redis unavailable: " + e.Err.Error()
}

// Unwrap returns ErrUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }
