// Package outcome is how a guarded call ends, written once for the policies: the class of its
// outcome, the one way the policies that learn from outcomes (the breaker, the adaptive
// throttle) agree on, and a policy's rejection with its event.
package outcome

import (
	"context"
	"errors"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
)

// Class returns the class of a call made with ctx that ended with err, as c classifies err:
// Success for a nil err, and Canceled whatever err says when the caller cancelled ctx, as the
// call's end then says nothing about the service. It allocates nothing for a nil err, a
// cancelled ctx or a status without details.
func Class(ctx context.Context, err error, c *codes.Classifier) codes.Class {
	if err == nil {
		return codes.Success
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return codes.Canceled
	}
	return c.Classify(err).Class
}

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
