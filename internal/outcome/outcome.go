// Package outcome is how a guarded call ends, written once for the policies: the class of its
// outcome, the one way the policies that learn from outcomes (the breaker, the adaptive
// throttle) agree on, and a policy's rejection with its event.
package outcome

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Class returns the class of a call made with ctx that ended with err, as c classifies err:
// Success for a nil err, and Canceled whatever err says when the caller cancelled ctx, as the
// call's end then says nothing about the service, unless a retry loop's per-attempt timeout
// cut it (Cut): then it is the timeout's DeadlineExceeded, ErrCut, as c classifies that. A
// hedge (ctx from Hedge) that its context ended, for whatever reason, is Canceled too (see
// Hedge). It allocates nothing for a nil err, a cancelled ctx or a status without details.
func Class(ctx context.Context, err error, c *codes.Classifier) codes.Class {
	if err == nil {
		return codes.Success
	}
	cerr := ctx.Err()
	if cerr != nil && ctx.Value(hedgeKey{}) != nil {
		return codes.Canceled
	}
	if errors.Is(cerr, context.Canceled) {
		if Cut(ctx) {
			return c.Classify(ErrCut).Class
		}
		return codes.Canceled
	}
	return c.Classify(err).Class
}

// ErrCut is the error the policies below a retry loop take the end of an attempt for when the
// loop's per-attempt timeout cut it without a deadline of the attempt's context
// (retry.CutOvertaken): the timeout's DeadlineExceeded, as when the context's own deadline
// ends it, not a caller's cancellation, which the loop's cancel of the context would read as.
var ErrCut = status.Error(grpccodes.DeadlineExceeded, "retry: per-attempt timeout exceeded")

// cutKey is the context key of the flag a retry loop's per-attempt timer sets before it
// cancels the attempt (WithCutFlag).
type cutKey struct{}

// WithCutFlag returns ctx with cut, the flag that a retry loop's per-attempt timer sets
// before it cancels the attempt that ctx is the context of (see ErrCut).
func WithCutFlag(ctx context.Context, cut *atomic.Bool) context.Context {
	return context.WithValue(ctx, cutKey{}, cut)
}

// Cut reports whether the attempt ctx belongs to was cut by its per-attempt timeout (see
// ErrCut, WithCutFlag). Ask it of a canceled ctx only: it looks the flag up through ctx's
// values.
func Cut(ctx context.Context) bool {
	f, _ := ctx.Value(cutKey{}).(*atomic.Bool)
	return f != nil && f.Load()
}

// hedgeKey is the context key that marks a hedge's context (Hedge).
type hedgeKey struct{}

// Hedge returns ctx marked as the context of a hedge: an attempt of a hedged round after its
// first. A hedge's context ends only with its round: the call decided (the hedge lost), its
// caller gone, or the round's per-attempt timeout, a deadline of the round's context or a cut
// (Cut), which ends every attempt of the round at once. The round's first attempt carries that
// timeout for the policies below (Class): a round in which every attempt hung is one timeout,
// as a round that an attempt won is one success, and its hedges, cut with it after less time
// than the timeout, are losers, Canceled, as those of a won round are. Counted as failures, a
// hung round of three attempts weighed three against a won round's one, and with most callers
// held by hung rounds their cuts, come in bursts, opened a breaker on 20 failures in a row
// where 30 % of requests hung. A hedge that the service answered, with a failure, is classed
// as that answer.
func Hedge(ctx context.Context) context.Context { return context.WithValue(ctx, hedgeKey{}, true) }

// Reject returns r, the rejection of a call of method, after emitting its observe.Rejected
// event to sink (with the time read from clk, Class codes.Rejected, and value, the policy's
// figure such as a rejection probability). With a nil sink it builds no event and reads no
// clock. Policies fill r's Err, Code, Reason, Policy, Service and RetryAfter.
func Reject(sink observe.Sink, clk clock.Clock, method string, r *codes.Rejection, value float64) error {
	if sink != nil {
		sink.Observe(observe.Event{
			Kind: observe.Rejected, Time: clk.Now(), Service: r.Service, Method: method,
			Policy: r.Policy, Code: r.Code, Class: codes.Rejected, Reason: r.Reason,
			Delay: r.RetryAfter, Value: value,
		})
	}
	return r
}
