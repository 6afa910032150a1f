package bulkhead_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestAcquireConnEndsAtConnClose: a direct caller's AcquireConn waiting for a slot (the one
// slot held elsewhere, MaxWait an hour on a fake clock nothing advances) when its ClientConn
// shuts down returns at once with ErrConnClosing (Canceled, the interceptors' words), not a
// BULKHEAD_FULL rejection (no Rejected event); it holds no slot and leaves the queue, so the
// held slot, given back, is free for the next taker. Acquire, given no ClientConn, has no way
// to learn of the shutdown and waits its hour. In both modes.
func TestAcquireConnEndsAtConnClose(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  bulkhead.Config
	}{
		{"fixed", bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Hour}},
		{"adaptive", bulkhead.Config{MaxConcurrent: 1, MaxWait: time.Hour, Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			rec := &testkit.Recorder{}
			b, err := bulkhead.New("kyc.v1.FaceMatchService", tt.cfg, bulkhead.WithClock(clk), bulkhead.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			cc, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			if !b.TryAcquire() { // the slot, held by another call
				t.Fatal("TryAcquire on an empty bulkhead failed")
			}
			err = testkit.ConnWait{
				What: "AcquireConn waiting for a slot", Over: "its 1h wait was over",
				Call:   func() error { return b.AcquireConn(context.Background(), cc) },
				Parked: func() { clk.BlockUntil(1) }, // queued, on its MaxWait's timer
				Unpark: func() { clk.Advance(2 * time.Hour) },
			}.Start().CloseConn(t, cc)
			const want = "bulkhead: the client connection is closing (ClientConn.Close during the wait for a slot)"
			if !errors.Is(err, bulkhead.ErrConnClosing) || status.Code(err) != grpccodes.Canceled || status.Convert(err).Message() != want {
				t.Fatalf("AcquireConn = %v, want bulkhead.ErrConnClosing: Canceled, %q", err, want)
			}
			if n := rec.Count(observe.Rejected); n != 0 {
				t.Errorf("%d Rejected events, want none: nothing was refused", n)
			}
			if in, free := b.InFlight(), b.Available(); in != 1 || free != 0 {
				t.Errorf("InFlight = %d, Available = %d with the held slot alone, want 1 and 0", in, free)
			}
			if n := clk.Timers(); n != 0 {
				t.Errorf("%d timers left on the fake clock, want 0", n)
			}
			b.Release() // the holder's call ends
			if !b.TryAcquire() {
				t.Fatal("the freed slot went to nobody's TryAcquire: the queue still holds the AcquireConn that ended")
			}
			b.Release()
			if n := b.InFlight(); n != 0 {
				t.Errorf("InFlight = %d, want 0", n)
			}
		})
	}
}
