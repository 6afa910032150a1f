package optkit

import (
	"errors"
	"fmt"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/observe"
)

// CheckTypedNil reports a clock or an observer in c that holds a nil pointer (or func, map,
// ...): a variable of the caller's own type left unset, given to WithClock or WithObserver,
// which New would accept and the first call would panic on. The error names the option, the
// type and the rule; nil itself is the default and is not reported.
func (c Common) CheckTypedNil() error { return CheckTypedNil(c.Clock, c.Sink) }

// CheckTypedNil is Common.CheckTypedNil for the clock and the sink of a policy that keeps its
// options otherwise (retry's and hedge's attempt.Base).
func CheckTypedNil(clk clock.Clock, sink observe.Sink) error {
	var errs []error
	if TypedNil(clk) {
		errs = append(errs, &fielderr.Error{Path: "WithClock", Value: fmt.Sprintf("a nil %T", clk),
			Rule: "is a typed nil, which panics at the first call; pass nil for the real clock"})
	}
	if TypedNil(sink) {
		errs = append(errs, &fielderr.Error{Path: "WithObserver", Value: fmt.Sprintf("a nil %T", sink),
			Rule: "is a typed nil, which panics at the first event; pass nil for no observer"})
	}
	return errors.Join(errs...)
}
