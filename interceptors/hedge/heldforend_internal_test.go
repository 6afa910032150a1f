package hedge

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	callend "github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A hedge due within retry.MinAttemptTime of its round's per-attempt end (attempt.Round.End),
// which the attempt's context does not carry, is held back until endGrace past the end, not
// refused for good: the retry loop lifts the end when it spares the attempt (per_attempt_cut:
// overtaken), and cancels the attempt's context when it cuts it. Each test runs a unary call
// and a client stream's reply phase, which share the rule (startLocked).

// heldKinds are the two paths of a call with a Round: a unary call, and a client stream's
// hedged reply phase.
var heldKinds = []string{"unary", "stream"}

// heldCall is one call of the held tests while it runs.
type heldCall struct {
	p      *Policy
	clk    *clocktest.Fake
	rec    *testkit.Recorder
	budget *countingBudget
	a      *allowance // the method's
	before int64      // the allowance once the call began, in milli-hedges
	hedges atomic.Int32
	done   chan error // the call's error
}

// startHeld starts a call of kind through a policy of up to 3 attempts due d apart, on a fake
// clock made in the caller's bubble, that tells its events to a recorder and draws its hedges
// from a counting budget. The call runs on ctx with round among its call options; its hedges
// wait for their context to end, and so does attempt 1, which also waits for release when it
// is not nil: a stall that heeds no cancel until the test lets it go. It returns once attempt
// 1 waits and the hedging timer is armed.
func startHeld(t *testing.T, kind string, ctx context.Context, clk *clocktest.Fake, d time.Duration, round *attempt.Round, release <-chan struct{}) *heldCall {
	t.Helper()
	h := &heldCall{clk: clk, rec: &testkit.Recorder{}, budget: &countingBudget{}, done: make(chan error, 1)}
	p, err := New(Config{MaxAttempts: 3, Delay: d, Idempotent: true}, WithClock(clk), WithObserver(h.rec), WithBudget(h.budget))
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	isHedge := func(ctx context.Context) bool {
		md, _ := metadata.FromOutgoingContext(ctx)
		return len(md.Get(PreviousAttemptsKey)) > 0
	}
	switch kind {
	case "unary":
		h.a = p.method(compare).hedges
		invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			if isHedge(ctx) {
				h.hedges.Add(1)
			} else if release != nil {
				<-release
				return status.FromContextError(ctx.Err()).Err()
			}
			<-ctx.Done()
			return status.FromContextError(ctx.Err()).Err()
		}
		go func() {
			h.done <- p.Unary()(ctx, compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker, round)
		}()
	case "stream":
		h.a = p.method(testkit.MethodCheck).hedges
		streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			st := testkit.NewScriptedStream(ctx, true)
			if isHedge(ctx) {
				h.hedges.Add(1)
			} else if release != nil {
				return &releasedStream{ScriptedStream: st, release: release}, nil
			}
			return st, nil
		}
		cs, err := p.Stream()(ctx, &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer, round)
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.SendMsg(&kycv1.CheckRequest{}); err != nil {
			t.Fatal(err)
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		go func() { h.done <- cs.RecvMsg(&kycv1.CheckResponse{}) }()
	default:
		t.Fatalf("no call of kind %q", kind)
	}
	synctest.Wait() // attempt 1 waits, the hedging timer is armed
	h.before = h.a.milli.Load()
	if n := clk.Timers(); n != 1 {
		t.Fatalf("%d timers armed once attempt 1 runs, want the hedge's", n)
	}
	return h
}

// releasedStream is a stream whose RecvMsg waits for release, and not for its context: a
// stall that heeds no cancel until the test lets it go.
type releasedStream struct {
	*testkit.ScriptedStream
	release <-chan struct{}
}

func (s *releasedStream) RecvMsg(any) error {
	<-s.release
	return status.FromContextError(s.Context().Err()).Err()
}

// advance moves the clock on by d and waits until the bubble's goroutines are all blocked.
func (h *heldCall) advance(d time.Duration) {
	h.clk.Advance(d)
	synctest.Wait()
}

// want fails t unless n hedges were sent when, each told (HedgeSent), drawn from the retry
// budget and paid from the method's allowance once, and armed timers are armed.
func (h *heldCall) want(t *testing.T, when string, n, armed int) {
	t.Helper()
	sent, told, drawn, paid := h.hedges.Load(), h.rec.Count(observe.HedgeSent), h.budget.asked.Load(), (h.before-h.a.milli.Load())/1000
	if int(sent) != n || told != n || int(drawn) != n || int(paid) != n {
		t.Fatalf("%s: %d hedges sent, %d HedgeSent, %d retry-budget tokens and %d of the allowance taken; want %d of each", when, sent, told, drawn, paid, n)
	}
	if got := h.clk.Timers(); got != armed {
		t.Fatalf("%s: %d timers armed, want %d", when, got, armed)
	}
}

// running fails t when the call has returned.
func (h *heldCall) running(t *testing.T, when string) {
	t.Helper()
	select {
	case err := <-h.done:
		t.Fatalf("%s: the call returned (%v), want attempt 1 to go on", when, err)
	default:
	}
}

// endRound returns the Round of a call's first attempt, started at start, that its retry
// loop told its per-attempt timeout ends at end (attempt.Round.SetEnd).
func endRound(start, end time.Time) *attempt.Round {
	r := new(attempt.Round)
	r.Reset(0, start, nil)
	r.SetEnd(end)
	return r
}

// heldBeforeEnd starts a call of kind (startHeld) whose round's per-attempt end is 1ms after
// its first hedge is due, d after its start, and moves its clock to that hedge: held back, the
// timer set to look again past the end. It returns the call and its round.
func heldBeforeEnd(t *testing.T, kind string, ctx context.Context, d time.Duration, release <-chan struct{}) (*heldCall, *attempt.Round) {
	t.Helper()
	clk := clocktest.New(time.Now())
	start := clk.Now()
	round := endRound(start, start.Add(d+time.Millisecond))
	h := startHeld(t, kind, ctx, clk, d, round, release)
	h.advance(d)
	h.want(t, "due 1ms before the end", 0, 1) // the timer looks again past the end
	return h, round
}

// TestHedgeHeldForThePerAttemptEndGoesOnceTheEndIsLifted: a hedge due 1ms before its round's
// per-attempt end is held back, and goes endGrace past the end, once the retry loop has lifted
// the end (it spared the attempt: the service is slow for every caller). It is one hedge,
// told once, paid once from the allowance and the retry budget; it is numbered 2, its Delay
// runs from attempt 1's start, and the next hedge is due a delay after it, as usual. The call
// was closed to hedges for good, and the spared attempt ran on to the call's end unhedged.
func TestHedgeHeldForThePerAttemptEndGoesOnceTheEndIsLifted(t *testing.T) {
	for _, kind := range heldKinds {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const d = time.Hour
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				h, round := heldBeforeEnd(t, kind, ctx, d, nil)
				h.advance(time.Millisecond)
				round.SetEnd(time.Time{}) // the retry loop's timer spares the attempt at its end
				h.advance(endGrace - time.Nanosecond)
				h.want(t, "just before endGrace past the end", 0, 1)
				h.advance(time.Nanosecond)
				h.want(t, "endGrace past the lifted end", 1, 1) // the next hedge's timer
				sent := h.rec.Events(observe.HedgeSent)
				if e := sent[0]; e.Attempt != 2 || e.Delay != d+time.Millisecond+endGrace {
					t.Fatalf("HedgeSent {Attempt %d Delay %v}, want {2 %v}", e.Attempt, e.Delay, d+time.Millisecond+endGrace)
				}
				h.advance(d - time.Nanosecond)
				h.want(t, "a delay less 1ns after the held hedge", 1, 1)
				h.advance(time.Nanosecond)
				h.want(t, "a delay after the held hedge", 2, 0) // MaxAttempts sent
				h.running(t, "after both hedges")
				cancel()
				if err := <-h.done; status.Code(err) != grpccodes.Canceled {
					t.Fatalf("the call = %v, want Canceled: its caller canceled it", err)
				}
			})
		})
	}
}

// TestHedgeHeldForThePerAttemptEndIsNotSentOnceTheAttemptIsCut: a hedge held back for its
// round's per-attempt end is not sent when the retry loop cuts the attempt at the end (its
// context canceled, the cut flag set): nothing is spent, no timer is left armed, and the call
// ends in the timeout's DeadlineExceeded. So whether attempt 1 returns at the cut, which ends
// the call and stops the timer, or later (a stall that heeds no cancel), when the timer's look
// endGrace past the end closes the call: for the end still told (the retry loop lifts it once
// the attempt has returned), or for the context ended, should the end be lifted with the cut.
func TestHedgeHeldForThePerAttemptEndIsNotSentOnceTheAttemptIsCut(t *testing.T) {
	for _, kind := range heldKinds {
		for _, tc := range []struct {
			name       string
			late, lift bool
		}{
			{name: "returns at the cut"},
			{name: "returns late", late: true},
			{name: "returns late, the end lifted", late: true, lift: true},
		} {
			late := tc.late
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					const d = time.Hour
					var flag atomic.Bool
					ctx, cut := context.WithCancel(callend.WithCutFlag(context.Background(), &flag))
					defer cut()
					var (
						release  chan struct{}
						released = func() {}
					)
					if late {
						release = make(chan struct{})
						released = sync.OnceFunc(func() { close(release) })
						defer released() // a failed check still lets attempt 1 return
					}
					h, round := heldBeforeEnd(t, kind, ctx, d, release)
					h.advance(time.Millisecond)
					flag.Store(true) // the retry loop's timer cuts the attempt at its end
					cut()
					if tc.lift {
						round.SetEnd(time.Time{})
					}
					synctest.Wait()
					if late {
						h.running(t, "at the cut")
						h.want(t, "at the cut", 0, 1) // the timer's look, endGrace on
						h.advance(endGrace)
						h.want(t, "endGrace past the end of the cut attempt", 0, 0)
						h.advance(d)
						h.want(t, "a delay later", 0, 0)
						h.running(t, "a delay after the cut")
						released()
					} else {
						h.want(t, "at the cut", 0, 0)
					}
					if err := <-h.done; status.Code(err) != grpccodes.DeadlineExceeded {
						t.Fatalf("the call = %v, want the timeout's DeadlineExceeded", err)
					}
					h.advance(d)
					h.want(t, "after the call", 0, 0)
				})
			})
		}
	}
}

// TestHedgeHeldForAPerAttemptEndStillToldClosesTheCall: the timer looks again once for a
// round's end, no more. A hedge held back for it that finds the end neither lifted nor the
// attempt cut endGrace past it (the retry loop's timer later than that) closes the call to
// further hedges, as a deadline does: no timer is left to wake up again and again, none went
// out, and attempt 1 goes on as it was.
func TestHedgeHeldForAPerAttemptEndStillToldClosesTheCall(t *testing.T) {
	for _, kind := range heldKinds {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const d = time.Hour
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				h, _ := heldBeforeEnd(t, kind, ctx, d, nil)
				h.advance(time.Millisecond + endGrace)
				h.want(t, "endGrace past an end still told", 0, 0)
				for step := 1; step <= 2; step++ {
					h.advance(d)
					h.want(t, "delays later", 0, 0)
				}
				h.running(t, "once the call was closed to hedges")
				cancel()
				if err := <-h.done; status.Code(err) != grpccodes.Canceled {
					t.Fatalf("the call = %v, want Canceled: its caller canceled it", err)
				}
			})
		})
	}
}

// TestNoHedgeHeldForAPerAttemptEndPastWhichTheDeadlineLeavesNoRoom: a hedge due near its
// round's per-attempt end is not held back when the caller's deadline leaves less than
// retry.MinAttemptTime after the look endGrace past the end: no hedge could go then either,
// and the call closes to hedges at once, no timer left armed. With MinAttemptTime left after
// the look, the hedge is held, and goes once the end is lifted.
func TestNoHedgeHeldForAPerAttemptEndPastWhichTheDeadlineLeavesNoRoom(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration // the deadline past the look
		held  bool
	}{
		{after: retry.MinAttemptTime - time.Nanosecond, held: false},
		{after: retry.MinAttemptTime, held: true},
	} {
		t.Run(tc.after.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const d = time.Hour
				clk := clocktest.New(time.Now())
				start := clk.Now()
				end := start.Add(d + time.Millisecond)
				round := endRound(start, end)
				ctx, cancel := context.WithDeadline(context.Background(), end.Add(endGrace+tc.after))
				defer cancel()
				h := startHeld(t, "unary", ctx, clk, d, round, nil)
				h.advance(d)
				if !tc.held {
					h.want(t, "due 1ms before the end, the deadline near the look", 0, 0)
					round.SetEnd(time.Time{})
					h.advance(time.Millisecond + endGrace)
					h.want(t, "at the look, the end lifted", 0, 0)
				} else {
					h.want(t, "due 1ms before the end, MinAttemptTime left after the look", 0, 1)
					round.SetEnd(time.Time{})
					h.advance(time.Millisecond + endGrace)
					h.want(t, "at the look, the end lifted", 1, 1) // and the next hedge's timer
				}
				if ctx.Err() != nil {
					t.Fatal("the caller's context ended: the test tests nothing")
				}
				h.running(t, "at the look")
				cancel()
				if err := <-h.done; status.Code(err) != grpccodes.Canceled {
					t.Fatalf("the call = %v, want Canceled: its caller canceled it", err)
				}
			})
		})
	}
}
