package throttle

import "errors"

// ErrThrottled is the sentinel every throttle rejection wraps: errors.Is(err, ErrThrottled)
// reports whether a call was refused locally because the service has been turning requests
// away.
var ErrThrottled = errors.New("adaptively throttled")

// Reason is the google.rpc.ErrorInfo reason of a throttle rejection, and the Reason of its
// observe.Rejected event.
const Reason = "ADAPTIVE_THROTTLE"
