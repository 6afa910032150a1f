package ratelimit

import (
	"errors"

	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// ErrLimited is the sentinel of a rejection for want of a token:
	// errors.Is(err, ErrLimited) reports that the call was rate limited.
	ErrLimited = errors.New("rate limited")
	// ErrUnavailable is the sentinel of a rejection because the limiter could not decide.
	ErrUnavailable = errors.New("rate limiter unavailable")
	// ErrSharedConflict is returned by Registry.Local when a shared bucket is asked for with a
	// rate or burst other than the one it was made with.
	ErrSharedConflict = errors.New("shared bucket configured twice with different settings")
)

// ErrConnClosing is what a call or a stream's open waiting for a token returns when its
// ClientConn shuts down (ClientConn.Close) during the wait: Canceled, as gRPC ends the calls it
// holds, not a rejection (nothing was refused). A ConnLimiter's TakeConn returns it, as Local's
// does, for a wait that the ClientConn's shutdown ended.
var ErrConnClosing = status.Error(grpccodes.Canceled, "ratelimit: the client connection is closing (ClientConn.Close during the wait for a token)")

// Reasons of the google.rpc.ErrorInfo of a rate limiter's rejections.
const (
	ReasonLimited     = "RATE_LIMITED"
	ReasonUnavailable = "RATE_LIMITER_UNAVAILABLE"
)

// sharedLimited is the Err of a refusal for want of a token by a policy whose bucket is a
// shared one (Config.Shared): it reads "rate limited by shared bucket "<name>"", so that an
// operator looking at one service can tell that other services drain the bucket too, and it
// wraps ErrLimited. A Policy makes its own once, in New: a refusal allocates no more for it.
type sharedLimited struct{ msg string }

func (e *sharedLimited) Error() string { return e.msg }

// Unwrap returns ErrLimited.
func (e *sharedLimited) Unwrap() error { return ErrLimited }
