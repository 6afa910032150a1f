package ratelimit

import (
	"context"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"google.golang.org/grpc"
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

// ConnLimiter is a Limiter whose wait for a token also ends when the ClientConn of the call
// that waits shuts down (ClientConn.Close), as gRPC ends the calls it holds. A Policy whose
// limiter implements it (decided in New) takes the tokens of the calls it is given a
// ClientConn for (a suite's chains, Unary, Stream) with TakeConn. Local implements it, and so
// does package redislimit's fleet-wide Limiter.
type ConnLimiter interface {
	Limiter
	// TakeConn is Take for a call made on cc (nil: none, as Take): a wait of its own for a
	// token (a sleep between two asks of a remote store) also ends when cc shuts down, and
	// TakeConn then returns ErrConnClosing (or an error that wraps it), with no token taken
	// for the call (as a wait that its context ends; what a round trip in flight when cc shut
	// down may have taken is the limiter's to document). It learns of the shutdown from
	// ConnDone(cc), which it asks only when it waits.
	TakeConn(ctx context.Context, cc *grpc.ClientConn, maxWait time.Duration) (Decision, error)
}

// ConnDone returns a channel closed when cc shuts down (ClientConn.Close); nil, which never
// closes, for a nil cc. It is for a ConnLimiter's wait (see TakeConn) to select on: the channel
// is cc's, shared by every wait on it, and its watcher (one goroutine per ClientConn, ended
// with it) is made on the first call for cc, so ask for it only when about to wait.
func ConnDone(cc *grpc.ClientConn) <-chan struct{} { return streamend.ConnDone(cc) }
