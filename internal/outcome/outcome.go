// Package outcome classifies how a guarded call ended, the one way the policies that learn
// from outcomes (the breaker, the adaptive throttle) agree on.
package outcome

import (
	"context"
	"errors"

	"github.com/bulwarkrpc/bulwark/codes"
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
