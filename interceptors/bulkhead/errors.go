package bulkhead

import "errors"

// ErrFull is the sentinel every bulkhead rejection wraps: errors.Is(err, ErrFull) reports
// whether a call was refused because the bulkhead had no free slot.
var ErrFull = errors.New("bulkhead full")

// Reason is the google.rpc.ErrorInfo reason of a bulkhead rejection.
const Reason = "BULKHEAD_FULL"
