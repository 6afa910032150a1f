package observe

import (
	"context"
	"testing"
)

// countingCtx counts the Value calls that reach it.
type countingCtx struct {
	context.Context
	values int
}

func (c *countingCtx) Value(key any) any {
	c.values++
	return c.Context.Value(key)
}

// TestCallSinkFromAsksTheContextOnlyOnceCallSinksExist checks that CallSinkFrom does not walk
// a context's values before any WithCallSink, and finds a call sink after one, however many
// layers lie above it.
func TestCallSinkFromAsksTheContextOnlyOnceCallSinksExist(t *testing.T) {
	was := callSinks.Load()
	t.Cleanup(func() { callSinks.Store(was) })
	callSinks.Store(false)

	ctx := &countingCtx{Context: context.Background()}
	if s := CallSinkFrom(ctx); s != nil || ctx.values != 0 {
		t.Fatalf("before any WithCallSink: CallSinkFrom = %v after %d Value calls, want nil after 0", s, ctx.values)
	}
	if got := WithCallSink(ctx, nil); got != context.Context(ctx) || callSinks.Load() {
		t.Fatalf("WithCallSink with a nil sink: changed the context or set callSinks (%v)", callSinks.Load())
	}

	var got []Kind
	sink := SinkFunc(func(e Event) { got = append(got, e.Kind) })
	withSink := WithCallSink(context.Background(), sink)
	if s := CallSinkFrom(ctx); s != nil || ctx.values != 1 {
		t.Fatalf("after a WithCallSink elsewhere: CallSinkFrom = %v after %d Value calls, want nil after 1", s, ctx.values)
	}
	deeper := withSink
	for i := range 5 {
		deeper = context.WithValue(deeper, countingKey(i), i)
	}
	s := CallSinkFrom(deeper)
	if s == nil {
		t.Fatal("CallSinkFrom lost the call sink five layers up")
	}
	s.Observe(Event{Kind: CallFinished})
	if len(got) != 1 || got[0] != CallFinished {
		t.Fatalf("the sink found got %v, want [CallFinished]", got)
	}
}

type countingKey int
