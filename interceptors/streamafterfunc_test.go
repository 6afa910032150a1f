package interceptors_test

import (
	"context"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// afterFuncCtx is a caller's context of its own kind that the context package attaches to
// through its AfterFunc method (as clock.WithDeadline's and a retry stream attempt's are):
// end runs the funcs registered, each at once, before it returns.
type afterFuncCtx struct {
	context.Context // Background: no cancelCtx for the context package to find
	done            chan struct{}

	mu    sync.Mutex
	err   error
	funcs map[*func()]struct{}
}

func newAfterFuncCtx() *afterFuncCtx {
	return &afterFuncCtx{Context: context.Background(), done: make(chan struct{}), funcs: map[*func()]struct{}{}}
}

func (c *afterFuncCtx) Done() <-chan struct{} { return c.done }

func (c *afterFuncCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *afterFuncCtx) AfterFunc(f func()) func() bool {
	p := &f
	c.mu.Lock()
	c.funcs[p] = struct{}{}
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.funcs[p]
		delete(c.funcs, p)
		return ok
	}
}

func (c *afterFuncCtx) end() {
	c.mu.Lock()
	c.err = context.Canceled
	close(c.done)
	funcs := c.funcs
	c.funcs = map[*func()]struct{}{}
	c.mu.Unlock()
	for p := range funcs {
		(*p)()
	}
}

// A stream's steps get its runner as their context, which embeds the caller's. A context grpc
// derives below them from a caller's context that has an AfterFunc of its own was canceled in a
// goroutine of its own after the caller's ended (the runner attached it with context.AfterFunc),
// not when the caller's context ran its funcs, as a context derived from the caller's itself is.
// One P: a goroutine that end starts does not run before the check that follows it.
func TestStreamCallerContextWithAfterFuncEndsTheStreamsContextAtOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	cfg, _, err := config.Parse("afterfunc.yaml", []byte(`
profiles:
  afterfunc:
    breaker: {consecutive_failures: 5}
    bulkhead: {max_concurrent: 4}
services:
  test.v1.AfterFuncCaller:
    profile: afterfunc
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, sinked := range []bool{false, true} {
		var opts []interceptors.Option
		if sinked {
			opts = append(opts, interceptors.WithObserver(observe.SinkFunc(func(observe.Event) {})))
		}
		s, err := interceptors.New(cfg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var derived context.Context
		var release context.CancelFunc
		streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			derived, release = context.WithCancel(ctx) // as grpc's stream does
			return &endedStream{ctx: derived}, nil
		}
		caller := newAfterFuncCtx()
		cs, err := s.Stream()(caller, &grpc.StreamDesc{ServerStreams: true}, nil, "/test.v1.AfterFuncCaller/Watch", streamer)
		if err != nil {
			t.Fatalf("observed %v: open: %v", sinked, err)
		}
		runtime.Gosched() // a fresh time slice for end and the check
		caller.end()
		got := derived.Err()
		release()
		if err := cs.RecvMsg(new(struct{})); err != io.EOF {
			t.Errorf("observed %v: RecvMsg = %v, want io.EOF", sinked, err)
		}
		s.Close()
		if got != context.Canceled {
			t.Errorf("observed %v: the stream's context right after the caller's ended: Err = %v, want %v", sinked, got, context.Canceled)
		}
	}
}
