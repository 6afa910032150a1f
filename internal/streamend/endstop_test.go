package streamend

import (
	"context"
	"io"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// funcsContext is a context whose end runs the funcs of its AfterFunc (the ones the context
// package registers for the contexts and callbacks attached to it) in the goroutine that ends
// it, as a clock's deadline context does, and counts them.
type funcsContext struct {
	context.Context // Value: none

	mu    sync.Mutex
	done  chan struct{}
	err   error
	funcs map[*func()]struct{}
}

func newFuncsContext() *funcsContext {
	return &funcsContext{Context: context.Background(), done: make(chan struct{}), funcs: map[*func()]struct{}{}}
}

func (c *funcsContext) Done() <-chan struct{} { return c.done }

func (c *funcsContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *funcsContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := &f
	c.funcs[key] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.funcs[key]
		delete(c.funcs, key)
		return ok
	}
}

// end cancels c and runs the funcs registered and not stopped; it returns how many it ran.
func (c *funcsContext) end() int {
	c.mu.Lock()
	c.err = context.Canceled
	close(c.done)
	funcs := c.funcs
	c.funcs = nil
	c.mu.Unlock()
	for f := range funcs {
		(*f)()
	}
	return len(funcs)
}

// ownContextStream is a stream whose context is its caller's and whose first RecvMsg
// returns io.EOF.
type ownContextStream struct{ ctx context.Context }

func (s ownContextStream) Header() (metadata.MD, error) { return nil, nil }
func (s ownContextStream) Trailer() metadata.MD         { return nil }
func (s ownContextStream) CloseSend() error             { return nil }
func (s ownContextStream) Context() context.Context     { return s.ctx }
func (s ownContextStream) SendMsg(any) error            { return nil }
func (s ownContextStream) RecvMsg(any) error            { return io.EOF }

// TestEndFuncThatEndsTheContextStartsNoCallback: a func registered for a stream's end that ends
// the context the stream watches (a deadline's cancel func does) finds the stream's context
// callback stopped, so that the end of that context calls none of it: each call would start
// context.AfterFunc's goroutine, one a stream, only to find the stream ended.
func TestEndFuncThatEndsTheContextStartsNoCallback(t *testing.T) {
	caller := newFuncsContext()
	w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, ownContextStream{ctx: caller})
	ran := -1
	var ends []End
	w.OnEnd(func(e End) {
		ends = append(ends, e)
		ran = caller.end()
	})
	if err := w.RecvMsg(nil); err != io.EOF {
		t.Fatalf("RecvMsg = %v, want io.EOF", err)
	}
	if ran != 0 {
		t.Errorf("the end of the context watched, in a func of the stream's end, called %d context callbacks of the stream, want 0", ran)
	}
	if len(ends) != 1 || ends[0].Cause != Recv || ends[0].Err != nil {
		t.Errorf("ends %v, want one Recv end with no error", ends)
	}
	if e, ok := w.Ended(); !ok || e.Cause != Recv {
		t.Errorf("Ended() = %v, %v; want a Recv end, true", e, ok)
	}
}
