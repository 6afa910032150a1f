package ratelimit

import "errors"

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

// Reasons of the google.rpc.ErrorInfo of a rate limiter's rejections.
const (
	ReasonLimited     = "RATE_LIMITED"
	ReasonUnavailable = "RATE_LIMITER_UNAVAILABLE"
)
