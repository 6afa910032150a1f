package bulkhead_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/gatewatch"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// streamWatchLog is a gatewatch.Watcher that logs what it is told.
type streamWatchLog struct{ log []string }

func (w *streamWatchLog) GateWaiting(n int) { w.log = append(w.log, fmt.Sprint("waiting ", n)) }
func (w *streamWatchLog) GateLeft(n int)    { w.log = append(w.log, fmt.Sprint("left ", n)) }

// TestStreamTellsTheWatchOfItsWait: a stream opened through a bulkhead's own Stream
// interceptor (no suite) whose last call option is a gatewatch.Watch (a hedge of a hedging
// policy chained above) tells the watch that it waits for a slot, and that it has left the
// queue however the wait ends: granted a slot (given back at 50ms), refused (the max wait of
// 100ms passed) or canceled by its caller (at 50ms). A bulkhead that lets no stream wait
// (MaxWait 0) tells nothing.
func TestStreamTellsTheWatchOfItsWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxWait time.Duration
		end     string // at 50ms: "release" the slot held, "cancel" the stream's context, or "" nothing
		code    grpccodes.Code
		want    []string
	}{
		{"granted", time.Second, "release", grpccodes.OK, []string{"waiting 2", "left 2", "open"}},
		{"refused", 100 * time.Millisecond, "", grpccodes.ResourceExhausted, []string{"waiting 2", "left 2"}},
		{"canceled", time.Second, "cancel", grpccodes.Canceled, []string{"waiting 2", "left 2"}},
		{"instant", 0, "", grpccodes.ResourceExhausted, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Unix(1700000000, 0))
				bh, err := bulkhead.New(svc, bulkhead.Config{MaxConcurrent: 1, MaxWait: tc.maxWait}, bulkhead.WithClock(clk))
				if err != nil {
					t.Fatal(err)
				}
				if !bh.TryAcquire() { // another call holds the one slot
					t.Fatal("TryAcquire of an empty bulkhead failed")
				}
				w := &streamWatchLog{}
				var x gatewatch.Watch
				x.Set(w, 2)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				open := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
					w.log = append(w.log, "open")
					return nil, status.Error(grpccodes.Unavailable, "no stream in this test")
				}
				done := make(chan error, 1)
				go func() {
					_, err := bh.Stream()(ctx, &grpc.StreamDesc{ClientStreams: true}, nil, "/"+svc+"/Match", open, &x)
					done <- err
				}()
				for range 5 {
					synctest.Wait()
					clk.Advance(10 * time.Millisecond)
				}
				synctest.Wait()
				switch tc.end {
				case "release":
					bh.Release()
				case "cancel":
					cancel()
				}
				for range 10 {
					synctest.Wait()
					clk.Advance(10 * time.Millisecond)
				}
				err = <-done
				if tc.end == "release" {
					if status.Code(err) != grpccodes.Unavailable {
						t.Fatalf("the stream: %v, want the streamer's Unavailable", err)
					}
				} else if status.Code(err) != tc.code {
					t.Fatalf("the stream: %v, want %v", err, tc.code)
				}
				held := 1 // the other call's slot
				if tc.end == "release" {
					held = 0 // given back, and the stream's own with its failed open
				}
				if n := bh.InFlight(); n != held {
					t.Errorf("InFlight = %d once the stream returned, want %d", n, held)
				}
				if !slices.Equal(w.log, tc.want) {
					t.Errorf("log %q, want %q", w.log, tc.want)
				}
			})
		})
	}
}
