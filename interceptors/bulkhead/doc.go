// Package bulkhead bounds how many calls to a service are in flight at once, so that one slow
// dependency cannot take every goroutine, connection and byte of memory of its caller.
//
// # Policy
//
// A Bulkhead holds Capacity slots. A call takes one with Acquire (or TryAcquire) and gives it
// back with Release. A call that finds every slot taken is rejected at once, unless
// Config.MaxWait allows it to queue. Waiters are admitted first in, first out: a freed slot goes
// to the caller that has waited longest, never to a newcomer.
//
// A waiter waits until the earlier of MaxWait and its context's deadline, and is rejected then:
//
//	| what happens first          | Acquire returns                          |
//	| --------------------------- | ---------------------------------------- |
//	| a slot frees                | nil (the caller now holds the slot)      |
//	| MaxWait passes              | *codes.Rejection (BULKHEAD_FULL)         |
//	| the context's deadline      | *codes.Rejection (BULKHEAD_FULL)         |
//	| the context is canceled     | ctx.Err() (context.Canceled)             |
//
// A context whose deadline has already passed is rejected at once when no slot is free.
//
// # Rejections
//
// A rejection is a *codes.Rejection with code ResourceExhausted, reason BULKHEAD_FULL, policy
// "bulkhead", the bulkhead's name as the service, and Err ErrFull, so that both
// errors.Is(err, bulkhead.ErrFull) and status.Code(err) answer. Every rejection emits an
// observe.Rejected event to the sink given by WithObserver; with no sink nothing is built.
//
// # Interceptors
//
// Unary and Stream (or UnaryClientInterceptor and StreamClientInterceptor) apply a Bulkhead to
// gRPC calls. A unary call holds its slot until the invoker returns, or panics. A stream holds
// its slot for its whole life and gives it back exactly once, when the first of these happens:
// opening the stream fails; RecvMsg returns an error (io.EOF included); RecvMsg returns the only
// reply of a stream that is not server-streaming; the stream's context ends (the caller canceled
// it, its deadline passed, or gRPC finished the stream). A caller that abandons a stream
// without canceling its context holds the slot until gRPC ends the stream, as grpc-go requires.
//
// WithMaxWait is also a grpc.CallOption: passed to a call, it overrides MaxWait for that call.
//
// # Hot path
//
// Acquire and Release on a free slot allocate nothing (see bench_test.go).
package bulkhead
