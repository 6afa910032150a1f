package ratelimit

import (
	"context"
	"time"
)

// Decision is a limiter's answer to one request for a token.
type Decision struct {
	// Allowed reports whether the call may proceed.
	Allowed bool
	// RetryAfter is, when not Allowed, how long until a token would be free (0 if unknown).
	RetryAfter time.Duration
}

// Limiter hands out tokens. It is small enough for a remote, fleet-wide store to implement.
// Implementations are safe for concurrent use.
type Limiter interface {
	// Take takes one token if one is free now or, when maxWait > 0, waits up to maxWait
	// (inclusive) for one, never until ctx's deadline: it answers at once when the token would
	// come at the deadline or after it.
	// When no token can be had in time it returns Allowed false with RetryAfter. When ctx ends
	// first it returns ctx.Err(). Any other error means the limiter could not decide (a remote
	// store is slow or down): the Policy applies no fail mode of its own and rejects the call
	// with code Unavailable, so a limiter that should fail open answers a Decision instead (as
	// redislimit's does with RedisConfig.FailOpen).
	Take(ctx context.Context, maxWait time.Duration) (Decision, error)
}
