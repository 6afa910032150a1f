package testkit

import (
	"context"
	"runtime"
	"unsafe"

	"google.golang.org/grpc"
)

// stackAddr returns the address of a variable in its own frame: the difference of two calls
// from different depths of one goroutine is the stack between them.
//
//go:noinline
func stackAddr() uintptr {
	var x byte
	return uintptr(unsafe.Pointer(&x))
}

// StackProbe wraps chain, a unary interceptor (nil: none), in one to dial with that notes a
// stack address before chain and another in the invoker chain calls. depth returns, for the
// last call, the caller's stack chain used before it called the invoker: exact when the call
// ran on a goroutine whose stack does not move during it (see GrowStack). Not for concurrent
// calls.
func StackProbe(chain grpc.UnaryClientInterceptor) (probe grpc.UnaryClientInterceptor, depth func() uintptr) {
	if chain == nil {
		chain = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
	}
	var outer, inner uintptr
	probe = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		outer = stackAddr()
		return chain(ctx, method, req, reply, cc, func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
			inner = stackAddr()
			return invoker(ctx, method, req, reply, cc, opts...)
		}, opts...)
	}
	return probe, func() uintptr { return outer - inner }
}

// GrowStack uses about levels KB of stack, then calls f: a call f makes does not move the
// goroutine's stack as long as it needs less than that.
//
//go:noinline
func GrowStack(levels int, f func()) {
	var buf [1000]byte
	buf[levels%len(buf)] = byte(levels)
	if levels > 0 {
		GrowStack(levels-1, f)
	} else {
		f()
	}
	runtime.KeepAlive(buf)
}
