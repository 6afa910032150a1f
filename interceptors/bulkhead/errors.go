package bulkhead

import "errors"

// ErrFull is the sentinel every bulkhead rejection wraps: errors.Is(err, ErrFull) reports
// whether a call was refused because the bulkhead had no free slot.
var ErrFull = errors.New("bulkhead full")

// ReasonFull is the google.rpc.ErrorInfo reason of a bulkhead rejection.
const ReasonFull = "BULKHEAD_FULL"

// Reason is ReasonFull.
//
// Deprecated: use ReasonFull, named like the other packages' reasons.
const Reason = ReasonFull
