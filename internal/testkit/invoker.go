package testkit

import (
	"context"
	"sync"

	"google.golang.org/grpc"
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
