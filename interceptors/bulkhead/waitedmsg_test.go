package bulkhead_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"google.golang.org/grpc/status"
)

// A saturated bulkhead and a slow one read differently: a call that found no free slot and
// could not wait is refused "bulkhead full", one that queued until its wait ran out (MaxWait,
// or its deadline when sooner) says it waited. Both keep the reason BULKHEAD_FULL (and its
// event), the code and ErrFull, so metrics and alerts keyed by the reason count both.
func TestRejectionSaysWhetherItWaited(t *testing.T) {
	const (
		full   = "bulwark: bulkhead rejected call to " + svc + ": bulkhead full"
		waited = full + ": no slot came free while the call waited (max_wait, or its deadline when sooner)"
	)
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		for _, tt := range []struct {
			name     string
			maxWait  time.Duration
			deadline time.Duration // 0: none; <0: passed already
			want     string
		}{
			{name: "no wait configured", want: full},
			{name: "deadline passed before the call", maxWait: time.Second, deadline: -1, want: full},
			{name: "max_wait ran out", maxWait: time.Second, want: waited},
			{name: "deadline ran out while queued", maxWait: time.Second, deadline: 200 * time.Millisecond, want: waited},
		} {
			t.Run(tt.name, func(t *testing.T) {
				clk := clocktest.New(time.Time{})
				rec := &testkit.Recorder{}
				b, err := newBulkhead(svc, bulkhead.Config{MaxConcurrent: 1, MaxWait: tt.maxWait}, bulkhead.WithClock(clk), bulkhead.WithObserver(rec))
				if err != nil {
					t.Fatal(err)
				}
				if !b.TryAcquire() {
					t.Fatal("TryAcquire on an empty bulkhead failed")
				}
				defer b.Release()
				ctx := context.Background()
				timers := 1
				switch {
				case tt.deadline < 0:
					var cancel context.CancelFunc
					ctx, cancel = clock.WithDeadline(ctx, clk, clk.Now().Add(-time.Second))
					defer cancel()
				case tt.deadline > 0:
					var cancel context.CancelFunc
					ctx, cancel = clock.WithTimeout(ctx, clk, tt.deadline)
					defer cancel()
					timers = 2 // the context's own timer and the wait's
				}
				done := make(chan error, 1)
				go func() { done <- b.Acquire(ctx) }()
				if tt.want == waited {
					clk.BlockUntil(timers)
					clk.Advance(tt.maxWait)
				}
				err = within.Recv(t, done, "Acquire did not return")
				if err == nil || err.Error() != tt.want {
					t.Fatalf("Acquire = %v, want %q", err, tt.want)
				}
				checkRejection(t, err) // ErrFull, ResourceExhausted, ErrorInfo BULKHEAD_FULL
				if msg := status.Convert(err).Message(); msg != tt.want {
					t.Errorf("status message = %q, want %q", msg, tt.want)
				}
				if ev := rec.Events(); len(ev) != 1 || ev[0].Reason != bulkhead.ReasonFull {
					t.Errorf("events = %+v, want one rejection with reason %s", ev, bulkhead.ReasonFull)
				}
			})
		}
	})
}
