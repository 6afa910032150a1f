package outcome

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/goleak"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClass(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancelExpired()
	unavailable := status.Error(grpccodes.Unavailable, "down")
	var flag, unset atomic.Bool
	flag.Store(true)
	cutCtx, cancelCut := context.WithCancel(WithCutFlag(context.Background(), &flag))
	cancelCut()
	notCut, cancelNotCut := context.WithCancel(WithCutFlag(context.Background(), &unset))
	cancelNotCut()
	canceledStatus := status.Error(grpccodes.Canceled, "context canceled")
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want codes.Class
	}{
		{name: "success", ctx: context.Background(), want: codes.Success},
		{name: "success after the caller cancelled", ctx: cancelled, want: codes.Success},
		{name: "classified", ctx: context.Background(), err: unavailable, want: codes.Transient},
		{name: "the caller cancelled: whatever the error", ctx: cancelled, err: unavailable, want: codes.Canceled},
		{name: "the ctx's deadline passed: the error is classified", ctx: expired, err: unavailable, want: codes.Transient},
		{name: "a plain error", ctx: context.Background(), err: errors.New("boom"), want: codes.Default().Classify(errors.New("boom")).Class},
		{name: "cut by a per-attempt timeout: its DeadlineExceeded", ctx: cutCtx, err: canceledStatus, want: codes.Transient},
		{name: "canceled with the cut flag unset: the caller's", ctx: notCut, err: canceledStatus, want: codes.Canceled},
		{name: "a hedge cut with its round: a loser", ctx: Hedge(cutCtx), err: canceledStatus, want: codes.Canceled},
		{name: "a hedge past its round's deadline: a loser", ctx: Hedge(expired), err: unavailable, want: codes.Canceled},
		{name: "a hedge the service answered: its answer", ctx: Hedge(context.Background()), err: unavailable, want: codes.Transient},
		{name: "a hedge that succeeded", ctx: Hedge(cutCtx), want: codes.Success},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Class(tt.ctx, tt.err, codes.Default()); got != tt.want {
				t.Fatalf("Class = %v, want %v", got, tt.want)
			}
		})
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { Class(ctx, unavailable, codes.Default()) }); n != 0 {
		t.Fatalf("Class of a status: %v allocs, want 0", n)
	}
}

type events []observe.Event

func (e *events) Observe(ev observe.Event) { *e = append(*e, ev) }

// countingClock counts the reads of a fake clock.
type countingClock struct {
	*clocktest.Fake
	reads int
}

func (c *countingClock) Now() time.Time { c.reads++; return c.Fake.Now() }

func TestReject(t *testing.T) {
	start := time.Unix(1e9, 0)
	clk := &countingClock{Fake: clocktest.New(start)}
	sentinel := errors.New("full")
	mk := func() *codes.Rejection {
		return &codes.Rejection{Err: sentinel, Code: grpccodes.ResourceExhausted, Reason: "FULL", Policy: "bulkhead", Service: "svc", RetryAfter: time.Second}
	}
	r := mk()
	if err := Reject(nil, clk, "/svc/M", r, 0.5); err != r || clk.reads != 0 {
		t.Fatalf("without a sink: %v (want r itself), %d clock reads (want 0)", err, clk.reads)
	}
	var got events
	err := Reject(&got, clk, "/svc/M", mk(), 0.5)
	if !errors.Is(err, sentinel) || status.Code(err) != grpccodes.ResourceExhausted {
		t.Fatalf("Reject = %v", err)
	}
	want := observe.Event{
		Kind: observe.Rejected, Time: start, Service: "svc", Method: "/svc/M", Policy: "bulkhead",
		Code: grpccodes.ResourceExhausted, Class: codes.Rejected, Reason: "FULL", Delay: time.Second, Value: 0.5,
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("events = %+v, want [%+v]", got, want)
	}
}
