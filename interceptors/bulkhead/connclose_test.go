package bulkhead_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestWaitEndsAtConnClose: a call (or a stream's open) waiting in the bulkhead's queue (its
// one slot held elsewhere, MaxWait an hour on a fake clock nothing advances) when its
// ClientConn shuts down returns at once, Canceled with the words of a closing ClientConn and
// of the wait for a slot, not a BULKHEAD_FULL rejection (no Rejected event): it keeps no
// slot and leaves the queue empty, so the slot held is free once given back. It used to wait
// out its whole MaxWait.
func TestWaitEndsAtConnClose(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "unary", true: "stream"}[stream], func(t *testing.T) {
			clk := clocktest.New(time.Now())
			rec := &testkit.Recorder{}
			b, err := bulkhead.New("kyc.v1.FaceMatchService", bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Hour},
				bulkhead.WithClock(clk), bulkhead.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			srv := testkit.Start(t, &testkit.Server{})
			cc := srv.Dial(t, grpc.WithUnaryInterceptor(b.Unary()), grpc.WithStreamInterceptor(b.Stream()))
			if !b.TryAcquire() { // the slot, held by another call
				t.Fatal("TryAcquire on an empty bulkhead failed")
			}
			err = testkit.ConnWait{
				What: "the call waiting for a slot", Over: "its 1h wait was over",
				Call:   testkit.CompareOrCheck(context.Background(), cc, stream),
				Parked: func() { clk.BlockUntil(1) }, // parked in the queue, on its MaxWait's timer
				Unpark: func() { clk.Advance(2 * time.Hour) },
			}.Start().CloseConn(t, cc)
			if status.Code(err) != grpccodes.Canceled || !strings.Contains(status.Convert(err).Message(), "client connection is closing") ||
				!strings.Contains(status.Convert(err).Message(), "slot") {
				t.Fatalf("err = %v, want Canceled, the client connection is closing during the wait for a slot", err)
			}
			if n := rec.Count(observe.Rejected); n != 0 {
				t.Errorf("%d Rejected events, want none: nothing was refused", n)
			}
			if n := b.InFlight(); n != 1 {
				t.Errorf("InFlight = %d with the held slot alone, want 1", n)
			}
			b.Release() // the holder's call ends
			if !b.TryAcquire() {
				t.Fatal("the freed slot went to nobody's TryAcquire: the queue still holds the call that ended")
			}
			b.Release()
			if n := b.InFlight(); n != 0 {
				t.Errorf("InFlight = %d, want 0", n)
			}
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers left on the fake clock, want 0", n)
			}
		})
	}
}
