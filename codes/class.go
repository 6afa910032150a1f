package codes

import (
	"fmt"
)

// Class is what an outcome means for resilience policies. Each class answers two questions:
// may the call be retried, and does the outcome count against the service's health?
type Class uint8

// The classes, in the order of the table in the package documentation.
const (
	// Success is an OK answer. It counts as a success for the breaker.
	Success Class = iota
	// Transient is an infrastructure failure that a later attempt may not see: the service was
	// unreachable, restarting or too slow. Retryable; counts against health.
	Transient
	// Throttled is the service (or a proxy) shedding load. Retryable after the delay the server
	// asked for, if any; counts against health, as an overloaded service is not a healthy one.
	Throttled
	// Business is a definitive answer from a healthy service: the request itself is wrong or
	// cannot be served (an unreadable document, no face found, permission denied). Never
	// retried; counts as a success for the breaker.
	Business
	// Canceled is the caller giving up. Never retried; neither success nor failure.
	Canceled
	// ServerFault is a broken invariant on the server (Internal, DataLoss, Unknown). A retry is
	// unlikely to help and may repeat the damage: not retried; counts against health.
	ServerFault
	// Rejected is a refusal by one of bulwark's own policies (breaker open, bulkhead full,
	// rate limited, budget spent). The request never reached the service: not retried, and
	// neither success nor failure for the breaker.
	Rejected

	numClasses
)

var classNames = [numClasses]string{
	Success:     "success",
	Transient:   "transient",
	Throttled:   "throttled",
	Business:    "business",
	Canceled:    "canceled",
	ServerFault: "server_fault",
	Rejected:    "rejected",
}

// Classes lists every class, in order.
func Classes() []Class {
	out := make([]Class, numClasses)
	for i := range out {
		out[i] = Class(i)
	}
	return out
}

// String returns the class's snake_case name, as used in configuration and metric labels.
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Valid reports whether c is one of the defined classes.
func (c Class) Valid() bool { return c < numClasses }

// Retryable reports whether an outcome of this class may be retried.
func (c Class) Retryable() bool { return c == Transient || c == Throttled }

// Failure reports whether an outcome of this class counts against the service's health.
func (c Class) Failure() bool { return c == Transient || c == Throttled || c == ServerFault }

// Ignored reports whether an outcome of this class is neither a success nor a failure for
// health accounting: the service was never asked, or the caller stopped listening.
func (c Class) Ignored() bool { return c == Canceled || c == Rejected }

// MarshalText implements encoding.TextMarshaler.
func (c Class) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("codes: invalid class %d", uint8(c))
	}
	return []byte(classNames[c]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts the names String returns.
func (c *Class) UnmarshalText(b []byte) error {
	cl, err := ParseClass(string(b))
	if err != nil {
		return err
	}
	*c = cl
	return nil
}

// ParseClass returns the class with the given snake_case name.
func ParseClass(name string) (Class, error) {
	for i, n := range classNames {
		if n == name {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("codes: %q is not a class (want one of success, transient, throttled, business, canceled, server_fault, rejected)", name)
}
