package retry

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A retry the ratio budget counted at decide that is never made, because the caller gave up
// during its backoff, is uncounted: it reached no service, and left counted it would refuse
// another call's retry for a whole window.
func TestRetryUnsentAfterTheBackoffIsUncounted(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	p := unsentPolicy(t, WithClock(clk))
	n := 0
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		n++
		return status.Error(grpccodes.Unavailable, "down")
	}
	b := p.Budget("test.v1.S")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Unary()(ctx, "/test.v1.S/Do", nil, nil, nil, invoker) }()
	clk.BlockUntil(1) // the backoff before the retry, counted by now
	if _, retries := b.counted(); retries != 1 {
		t.Fatalf("the ratio budget counts %d retries during the backoff; want 1", retries)
	}
	cancel()
	if err := within.Recv(t, done, "the call's end"); err == nil || n != 1 {
		t.Fatalf("call = %v after %d attempts; want the first attempt's failure", err, n)
	}
	if _, retries := b.counted(); retries != 0 {
		t.Errorf("the ratio budget counts %d retries after the call ended in its backoff; want 0: the retry was never made", retries)
	}
}

// scheduledPanics is an observer that panics on RetryScheduled (a program's observer with a
// bug).
type scheduledPanics struct{}

func (scheduledPanics) Observe(e observe.Event) {
	if e.Kind == observe.RetryScheduled {
		panic("observer")
	}
}

// A retry the ratio budget counted at decide that is never made, because the observer panicked
// on its RetryScheduled, is uncounted, as one whose caller gave up in the backoff is: the panic
// goes on to the caller, the retry reached no service, and left counted it would refuse
// another call's retry for a whole window, at every such panic.
func TestRetryUnsentAfterAPanicIsUncounted(t *testing.T) {
	p := unsentPolicy(t, WithClock(clocktest.New(time.Unix(1000, 0))), WithObserver(scheduledPanics{}))
	n := 0
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		n++
		return status.Error(grpccodes.Unavailable, "down")
	}
	call := func() (panicked any) {
		defer func() { panicked = recover() }()
		_ = p.Unary()(context.Background(), "/test.v1.S/Do", nil, nil, nil, invoker)
		return nil
	}
	if got := call(); got != "observer" || n != 1 {
		t.Fatalf("the call panicked %v after %d attempts; want the observer's panic after the first", got, n)
	}
	if _, retries := p.Budget("test.v1.S").counted(); retries != 0 {
		t.Errorf("the ratio budget counts %d retries after the observer panicked on the only one scheduled; want 0: the retry was never made", retries)
	}
}

// deadlineOnly is a context whose Deadline is at, on a fake clock, and which never ends by
// itself: the deadline is seen only as the loop reads it against its clock.
type deadlineOnly struct {
	context.Context
	at time.Time
}

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.at, true }

// A retry the ratio budget counted at decide whose attempt starts once the call's deadline has
// passed (its backoff's timer fired late, as on a loaded machine) is uncounted: grpc fails such
// an attempt before sending it, so it reached no service, as a retry whose caller left in the
// backoff did not (TestRetryUnsentAfterTheBackoffIsUncounted).
func TestRetryStartedPastTheDeadlineIsUncounted(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	p := unsentPolicy(t, WithClock(clk))
	deadline := clk.Now().Add(1500 * time.Millisecond)
	var started []time.Time
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		started = append(started, clk.Now())
		if len(started) == 1 {
			return status.Error(grpccodes.Unavailable, "down")
		}
		// What grpc answers for an attempt begun past its context's deadline.
		return status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded")
	}
	b := p.Budget("test.v1.S")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Unary()(deadlineOnly{ctx, deadline}, "/test.v1.S/Do", nil, nil, nil, invoker) }()
	clk.BlockUntil(1) // the backoff before the retry, which fits before the deadline
	if _, retries := b.counted(); retries != 1 {
		t.Fatalf("the ratio budget counts %d retries during the backoff; want 1", retries)
	}
	clk.Advance(2 * time.Second) // the backoff's timer fires half a second past the deadline
	if err := within.Recv(t, done, "the call's end"); status.Code(err) != grpccodes.DeadlineExceeded {
		t.Fatalf("call = %v; want the late retry's DeadlineExceeded", err)
	}
	if len(started) != 2 || started[1].Before(deadline) {
		t.Fatalf("attempts started at %v; want a second one at or after the deadline %v", started, deadline)
	}
	if _, retries := b.counted(); retries != 0 {
		t.Errorf("the ratio budget counts %d retries after the only one started past the call's deadline; want 0: grpc never sent it", retries)
	}
}

// unsentPolicy returns a policy of two attempts, a 1s backoff without jitter and a ratio retry
// budget (0.5, 1/s over 10s), with opts.
func unsentPolicy(t *testing.T, opts ...Option) *Policy {
	t.Helper()
	p, err := New(Config{
		MaxAttempts: 2, InitialBackoff: time.Second, MaxBackoff: time.Second, Multiplier: 1,
		Jitter: JitterNone, Idempotent: true,
		Throttle: RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second},
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
