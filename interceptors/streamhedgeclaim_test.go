package interceptors_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// TestGivenUpHedgedStreamReportsEachRequestOnce: a client stream through a retry loop over a
// hedging policy, every attempt of which hangs, reports each request that went out (attempt 1
// and every hedge with a HedgeSent) by exactly one AttemptFinished, whether its caller gives
// it up while a RecvMsg waits after a hedge went out (the hedging policy reports the round), or
// before it reads, and reads after the end with the clock past the hedging delay (the loop
// reports the round: attempt.Round.Claim, and no hedge goes out).
func TestGivenUpHedgedStreamReportsEachRequestOnce(t *testing.T) {
	for _, tt := range []struct {
		name      string
		reading   bool // the caller's RecvMsg waits when it gives up
		wantHedge int
	}{
		{"given up while reading", true, 1},
		{"given up before reading", false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Unix(1700000000, 0))
				rec := &testkit.Recorder{}
				cfg := &config.Config{
					Profiles: map[string]config.Profile{"p": {
						Retry: &retry.Config{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond,
							Multiplier: 1, Jitter: retry.JitterNone, Idempotent: true},
						Hedge: &hedge.Config{MaxAttempts: 2, Delay: 20 * time.Millisecond, Idempotent: true},
					}},
					Services: map[string]config.Service{queuedStreamSvc: {Profile: "p"}},
				}
				s, err := interceptors.New(cfg, interceptors.WithClock(clk), interceptors.WithObserver(rec))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				streamer := plannedStreamer(clk, func(int) (time.Duration, error) { return -1, nil })
				caller, giveUp := context.WithCancel(context.Background())
				defer giveUp()
				cs, err := s.Stream()(caller, &grpc.StreamDesc{ClientStreams: true}, nil, "/"+queuedStreamSvc+"/Check", streamer)
				if err != nil {
					t.Fatal(err)
				}
				if err := cs.SendMsg(&emptypb.Empty{}); err != nil {
					t.Fatal(err)
				}
				if err := cs.CloseSend(); err != nil {
					t.Fatal(err)
				}
				recv := func() { _ = cs.RecvMsg(new(emptypb.Empty)) }
				if tt.reading {
					done := make(chan struct{})
					go func() { recv(); close(done) }()
					synctest.Wait()
					clk.Advance(50 * time.Millisecond) // past the hedging delay
					synctest.Wait()
					giveUp()
					<-done
				} else {
					giveUp()
					synctest.Wait() // the stream's end, seen while nobody reads
					clk.Advance(50 * time.Millisecond)
					recv()
				}
				synctest.Wait()
				sent := map[int]int{1: 1}
				for _, e := range rec.Events(observe.HedgeSent) {
					sent[e.Attempt]++
				}
				finished := map[int]int{}
				for _, e := range rec.Events(observe.AttemptFinished) {
					finished[e.Attempt]++
				}
				if len(sent) != 1+tt.wantHedge {
					t.Errorf("requests sent by attempt: %v; want attempt 1 and %d hedges", sent, tt.wantHedge)
				}
				for k, n := range sent {
					if n != 1 || finished[k] != 1 {
						t.Errorf("attempt %d: sent %d times, %d AttemptFinished; want 1 and 1", k, n, finished[k])
					}
				}
				for k, n := range finished {
					if sent[k] == 0 {
						t.Errorf("attempt %d: %d AttemptFinished and never sent", k, n)
					}
				}
			})
		})
	}
}
