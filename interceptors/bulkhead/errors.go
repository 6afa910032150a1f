package bulkhead

import (
	"errors"
	"fmt"

	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrFull is the sentinel every bulkhead rejection wraps: errors.Is(err, ErrFull) reports
// whether a call was refused because the bulkhead had no free slot.
var ErrFull = errors.New("bulkhead full")

// errWaited is the Err of the rejection of a call that queued for a slot and was refused when
// its wait (MaxWait, or its deadline when sooner) ran out with no slot free: a slow service
// holds the slots, where ErrFull alone (a call that could not wait) tells a saturated one. It
// wraps ErrFull, and the rejection's reason is ReasonFull as well.
var errWaited = fmt.Errorf("%w: no slot came free while the call waited (max_wait, or its deadline when sooner)", ErrFull)

// ErrConnClosing is what a call or a stream's open waiting for a slot in the interceptors, or
// AcquireConn, returns when its ClientConn shuts down (ClientConn.Close) during the wait:
// Canceled, as gRPC ends the calls it holds, not a BULKHEAD_FULL rejection (nothing was
// refused).
var ErrConnClosing = status.Error(grpccodes.Canceled, "bulkhead: the client connection is closing (ClientConn.Close during the wait for a slot)")

// ReasonFull is the google.rpc.ErrorInfo reason of a bulkhead rejection.
const ReasonFull = "BULKHEAD_FULL"

// Reason is ReasonFull.
//
// Deprecated: use ReasonFull, named like the other packages' reasons.
const Reason = ReasonFull
