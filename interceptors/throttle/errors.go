package throttle

import "errors"

// ErrThrottled is the sentinel every throttle rejection wraps: errors.Is(err, ErrThrottled)
// reports whether a call was refused locally because the service has been turning requests
// away.
var ErrThrottled = errors.New("adaptively throttled")

// ReasonThrottled is the google.rpc.ErrorInfo reason of a throttle rejection, and the Reason
// of its observe.Rejected event.
const ReasonThrottled = "ADAPTIVE_THROTTLE"

// Reason is ReasonThrottled.
//
// Deprecated: use ReasonThrottled, named like the other packages' reasons.
const Reason = ReasonThrottled
