package testkit

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// CountingInvoker is a grpc.UnaryInvoker (its Invoke method) that answers every call with Err
// and counts the calls per method. It is safe for concurrent use.
type CountingInvoker struct {
	Err error

	mu    sync.Mutex
	calls map[string]int
}

// Invoke counts the call and returns Err.
func (c *CountingInvoker) Invoke(_ context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[method]++
	return c.Err
}

// Count returns how many calls of method Invoke has answered.
func (c *CountingInvoker) Count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

// Hold starts a call of method through unary in a goroutine of its own, with an invoker that
// does not return until released, and returns once the call has reached that invoker: the call
// holds whatever its gates gave it (a bulkhead slot, a limiter's token). release lets the
// invoker return nil and gives back the call's error once the call has returned. A call that
// returns without reaching the invoker (a gate refused it) does not hang Hold: it returns at
// once, and release gives back an error that says so.
func Hold(ctx context.Context, unary grpc.UnaryClientInterceptor, method string) (release func() error) {
	entered, free, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	held := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		close(entered)
		<-free
		return nil
	}
	go func() { done <- unary(ctx, method, nil, nil, nil, held) }()
	select {
	case <-entered:
	case err := <-done:
		return func() error {
			return fmt.Errorf("testkit.Hold: the call of %s returned before its invoker: %w", method, err)
		}
	}
	return func() error {
		close(free)
		return <-done
	}
}

// StatusPanics is an error type whose GRPCStatus panics, as a buggy error type of a program's
// may: any reading of its status panics, the classifier's too (codes.Classify calls the
// GRPCStatus of an error that is not a nil pointer).
type StatusPanics struct{}

func (StatusPanics) Error() string { return "an error whose status panics" }

// GRPCStatus panics.
func (StatusPanics) GRPCStatus() *status.Status { panic("GRPCStatus of a broken error type") }

// PanickingStatus returns a StatusPanics as an error.
func PanickingStatus() error { return StatusPanics{} }
