package hedge_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const delay = 10 * time.Millisecond

var (
	ok          = act{}
	hang        = act{hang: true}
	hold        = act{hold: true}
	unavailable = act{code: grpccodes.Unavailable}
)

// TestUnary scripts each attempt of one Compare call and drives the fake clock through the
// hedging delays: steps[i] is the attempt that must have reached the server before the clock
// moves by the delay for the i-th time.
func TestUnary(t *testing.T) {
	tests := []struct {
		name         string
		max          int
		tokens       int // -1: no budget
		acts         map[int]act
		steps        []int
		wantAttempts int
		wantWinner   int // 0: every attempt failed
		wantCode     grpccodes.Code
		wantReasons  []string
		wantCanceled []int // attempts the server saw canceled
		wantAsked    int   // Withdraw calls
	}{
		{name: "first answers before the delay", tokens: -1, acts: map[int]act{1: ok},
			wantAttempts: 1, wantWinner: 1},
		{name: "hedge wins and the first is canceled", tokens: -1, acts: map[int]act{1: hang, 2: ok}, steps: []int{1},
			wantAttempts: 2, wantWinner: 2, wantReasons: []string{"delay"}, wantCanceled: []int{1}},
		{name: "first wins after the hedge is sent", tokens: -1, acts: map[int]act{1: {wait: 2}, 2: hang}, steps: []int{1},
			wantAttempts: 2, wantWinner: 1, wantReasons: []string{"delay"}, wantCanceled: []int{2}},
		{name: "fatal answer wins at once", tokens: -1, acts: map[int]act{1: hang, 2: {code: grpccodes.InvalidArgument}}, steps: []int{1},
			wantAttempts: 2, wantWinner: 2, wantCode: grpccodes.InvalidArgument, wantReasons: []string{"delay"}, wantCanceled: []int{1}},
		{name: "fatal first answer ends the call", tokens: -1, acts: map[int]act{1: {code: grpccodes.Internal}},
			wantAttempts: 1, wantWinner: 1, wantCode: grpccodes.Internal},
		{name: "a retryable failure alone ends the call, for the retry loop", max: 3, tokens: -1, acts: map[int]act{1: unavailable},
			wantAttempts: 1, wantCode: grpccodes.Unavailable},
		{name: "a failure while a hedge runs: the hedge answers", max: 3, tokens: -1,
			acts: map[int]act{1: {wait: 2, code: grpccodes.Unavailable}, 2: {hold: true}}, steps: []int{1},
			wantAttempts: 2, wantWinner: 2, wantReasons: []string{"delay"}},
		{name: "every attempt fails: last error", max: 3, tokens: -1, acts: map[int]act{1: {wait: 3, code: grpccodes.Unavailable}, 2: {wait: 3, code: grpccodes.Unavailable}, 3: unavailable}, steps: []int{1, 2},
			wantAttempts: 3, wantCode: grpccodes.Unavailable, wantReasons: []string{"delay", "delay"}},
		{name: "failures stop at max attempts", max: 2, tokens: -1, acts: map[int]act{1: {wait: 2, code: grpccodes.Unavailable}, 2: unavailable}, steps: []int{1},
			wantAttempts: 2, wantCode: grpccodes.Unavailable, wantReasons: []string{"delay"}},
		{name: "budget refuses the hedge", tokens: 0, acts: map[int]act{1: hold}, steps: []int{1},
			wantAttempts: 1, wantWinner: 1, wantAsked: 1},
		{name: "a failure asks nothing of the budget", tokens: 1, acts: map[int]act{1: unavailable},
			wantAttempts: 1, wantCode: grpccodes.Unavailable, wantAsked: 0},
		{name: "budget allows one of two hedges", max: 3, tokens: 1, acts: map[int]act{1: hang, 2: hold}, steps: []int{1, 2},
			wantAttempts: 2, wantWinner: 2, wantReasons: []string{"delay"}, wantCanceled: []int{1}, wantAsked: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []hedge.Option
			var b *budget
			if tt.tokens >= 0 {
				b = newBudget(tt.tokens)
				opts = append(opts, hedge.WithBudget(b))
			}
			s := newSetup(t, hedge.Config{MaxAttempts: tt.max, Delay: delay}, opts...)
			st := newStub(tt.acts)
			srv := testkit.Start(t, &testkit.Server{CompareF: st.compare})
			client := kycv1.NewFaceMatchServiceClient(s.dial(t, srv))

			type result struct {
				resp *kycv1.CompareResponse
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := client.Compare(context.Background(), &kycv1.CompareRequest{})
				done <- result{resp, err}
			}()
			for _, n := range tt.steps {
				<-st.arrival(n)
				s.clk.BlockUntil(1)
				s.clk.Advance(delay)
			}
			if b != nil {
				eventually(t, func() bool { return b.asked.Load() >= int64(tt.wantAsked) })
			}
			// Every attempt that will reach the server has been sent by now (by the steps).
			st.releaseHeld(t, tt.wantAttempts)
			r := <-done
			st.settle(t)

			if got := status.Code(r.err); got != tt.wantCode {
				t.Fatalf("code = %v, want %v (%v)", got, tt.wantCode, r.err)
			}
			if tt.wantCode == grpccodes.OK && r.resp.GetSimilarity() != float32(tt.wantWinner)/10 {
				t.Fatalf("reply from attempt %v, want %d", r.resp.GetSimilarity()*10, tt.wantWinner)
			}
			if got := srv.Calls(testkit.MethodCompare); got != tt.wantAttempts {
				t.Fatalf("attempts = %d, want %d", got, tt.wantAttempts)
			}
			if got := s.reasons(); !slices.Equal(got, tt.wantReasons) {
				t.Fatalf("hedge reasons = %v, want %v", got, tt.wantReasons)
			}
			wantWon := tt.wantWinner
			if wantWon == 1 {
				wantWon = 0 // HedgeWon is only for a hedge
			}
			if got := s.winner(t); got != wantWon {
				t.Fatalf("HedgeWon attempt = %d, want %d", got, wantWon)
			}
			if got := st.canceledAttempts(); !slices.Equal(got, tt.wantCanceled) {
				t.Fatalf("server saw canceled %v, want %v", got, tt.wantCanceled)
			}
			if b != nil && b.asked.Load() != int64(tt.wantAsked) {
				t.Fatalf("budget asked %d times, want %d", b.asked.Load(), tt.wantAsked)
			}
			// Each attempt, the first included (the policy is alone: no retry loop reports
			// it), is finished once, losers as canceled, each with its own number.
			fin := s.rec.Events(observe.AttemptFinished)
			if len(fin) != tt.wantAttempts {
				t.Fatalf("%d AttemptFinished events, want %d (one per attempt)", len(fin), tt.wantAttempts)
			}
			seen := map[int]bool{}
			for _, e := range fin {
				if e.Attempt < 1 || e.Attempt > tt.wantAttempts || seen[e.Attempt] {
					t.Fatalf("AttemptFinished for attempt %d: want each of 1..%d once", e.Attempt, tt.wantAttempts)
				}
				seen[e.Attempt] = true
				if (e.Attempt > 1) != (e.Reason == observe.ReasonHedgeDelay) {
					t.Fatalf("attempt %d finished with reason %q: hedges say %q, the first nothing", e.Attempt, e.Reason, observe.ReasonHedgeDelay)
				}
				if e.Policy != observe.PolicyHedge || e.Method != testkit.MethodCompare || e.Service != "kyc.v1.FaceMatchService" {
					t.Fatalf("event fields: %+v", e)
				}
				if slices.Contains(tt.wantCanceled, e.Attempt) && (e.Class != codes.Canceled || e.Code != grpccodes.Canceled) {
					t.Fatalf("loser %d finished as %v/%v, want canceled", e.Attempt, e.Class, e.Code)
				}
			}
			for i, md := range srv.Metadata(testkit.MethodCompare) {
				got := md.Get(hedge.PreviousAttemptsKey)
				if n := len(got); n > 1 || (n == 1 && (got[0] < "1" || got[0] > "4")) {
					t.Fatalf("call %d: %s = %v", i, hedge.PreviousAttemptsKey, got)
				}
			}
			if n := s.clk.Timers(); n != 0 {
				t.Fatalf("%d timers left armed", n)
			}
		})
	}
}

// TestDelayExact: the hedge goes exactly when the delay has passed, not a nanosecond before;
// its events carry the right fields, and only it carries grpc-previous-rpc-attempts.
func TestDelayExact(t *testing.T) {
	s := newSetup(t, hedge.Config{Delay: 50 * time.Millisecond})
	st := newStub(map[int]act{1: hang, 2: ok})
	srv := testkit.Start(t, &testkit.Server{CompareF: st.compare})
	client := kycv1.NewFaceMatchServiceClient(s.dial(t, srv))
	done := make(chan error, 1)
	start := s.clk.Now()
	go func() {
		_, err := client.Compare(context.Background(), &kycv1.CompareRequest{})
		done <- err
	}()
	<-st.arrival(1)
	s.clk.BlockUntil(1)
	s.clk.Advance(50*time.Millisecond - time.Nanosecond)
	if s.clk.Timers() != 1 || s.rec.Count(observe.HedgeSent) != 0 || srv.Calls(testkit.MethodCompare) != 1 {
		t.Fatalf("hedged before the delay: timers %d, events %d", s.clk.Timers(), s.rec.Count(observe.HedgeSent))
	}
	s.clk.Advance(time.Nanosecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st.settle(t)
	sent := s.rec.Events(observe.HedgeSent)
	if len(sent) != 1 || sent[0].Attempt != 2 || sent[0].Delay != 50*time.Millisecond || sent[0].Reason != observe.ReasonHedgeDelay ||
		!sent[0].Time.Equal(start.Add(50*time.Millisecond)) || sent[0].Policy != observe.PolicyHedge {
		t.Fatalf("HedgeSent = %+v", sent)
	}
	won := s.rec.Events(observe.HedgeWon)
	if len(won) != 1 || won[0].Attempt != 2 || won[0].Code != grpccodes.OK || won[0].Class != codes.Success || won[0].Duration != 50*time.Millisecond {
		t.Fatalf("HedgeWon = %+v", won)
	}
	byAttempt := map[int]observe.Event{}
	for _, e := range s.rec.Events(observe.AttemptFinished) {
		byAttempt[e.Attempt] = e
	}
	if e := byAttempt[1]; e.Class != codes.Canceled || e.Duration != 50*time.Millisecond || e.Policy != observe.PolicyHedge {
		t.Fatalf("attempt 1 finished = %+v, want canceled after 50ms (the policy alone reports it)", e)
	}
	if e := byAttempt[2]; e.Class != codes.Success || e.Code != grpccodes.OK || e.Duration != 0 {
		t.Fatalf("attempt 2 finished = %+v", e)
	}
	mds := srv.Metadata(testkit.MethodCompare)
	if len(mds) != 2 || len(mds[0].Get(hedge.PreviousAttemptsKey)) != 0 || !slices.Equal(mds[1].Get(hedge.PreviousAttemptsKey), []string{"1"}) {
		t.Fatalf("metadata = %v", mds)
	}
	if got := st.canceledAttempts(); !slices.Equal(got, []int{1}) {
		t.Fatalf("server saw canceled %v, want [1]", got)
	}
}

// TestEligibility: which calls may be hedged. An ineligible call makes one attempt and arms no
// timer.
func TestEligibility(t *testing.T) {
	tests := []struct {
		name       string
		idempotent bool // Config.Idempotent
		method     string
		opts       []grpc.CallOption
		want       bool
	}{
		{name: "NO_SIDE_EFFECTS method", method: testkit.MethodCompare, want: true},
		{name: "method without idempotency option", method: testkit.MethodVerify, want: false},
		{name: "Config.Idempotent", idempotent: true, method: testkit.MethodVerify, want: true},
		{name: "per-call WithIdempotent(true)", method: testkit.MethodVerify, opts: []grpc.CallOption{hedge.WithIdempotent(true)}, want: true},
		{name: "per-call WithIdempotent(false)", method: testkit.MethodCompare, opts: []grpc.CallOption{hedge.WithIdempotent(false)}, want: false},
		{name: "per-call Disable", method: testkit.MethodCompare, opts: []grpc.CallOption{hedge.Disable()}, want: false},
		{name: "Disable beats Config.Idempotent", idempotent: true, method: testkit.MethodVerify, opts: []grpc.CallOption{hedge.Disable()}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t, hedge.Config{Delay: delay, Idempotent: tt.idempotent})
			acts := map[int]act{1: hang, 2: ok}
			if !tt.want {
				acts[1] = hold
			}
			st := newStub(acts)
			srv := testkit.Start(t, &testkit.Server{CompareF: st.compare, VerifyF: st.verify})
			cc := s.dial(t, srv)
			done := make(chan error, 1)
			go func() {
				var err error
				if tt.method == testkit.MethodVerify {
					_, err = kycv1.NewKYCServiceClient(cc).Verify(context.Background(), &kycv1.VerifyRequest{VerificationId: "v-1"}, tt.opts...)
				} else {
					_, err = kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, tt.opts...)
				}
				done <- err
			}()
			<-st.arrival(1)
			if tt.want {
				s.clk.BlockUntil(1)
				s.clk.Advance(delay)
			} else if n := s.clk.Timers(); n != 0 {
				t.Fatalf("%d timers armed for an ineligible call", n)
			}
			close(st.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			st.settle(t)
			want := 1
			if tt.want {
				want = 2
			}
			if got := srv.Calls(tt.method); got != want {
				t.Fatalf("attempts = %d, want %d", got, want)
			}
			if !tt.want && len(s.rec.Events()) != 0 {
				t.Fatalf("events for an unhedged call: %v", s.rec.Events())
			}
		})
	}
}

// TestCallerCancel: the caller's cancellation ends every attempt at once, and the call returns
// the caller's error.
func TestCallerCancel(t *testing.T) {
	s := newSetup(t, hedge.Config{MaxAttempts: 3, Delay: delay})
	st := newStub(map[int]act{1: hang, 2: hang, 3: hang})
	srv := testkit.Start(t, &testkit.Server{CompareF: st.compare})
	client := kycv1.NewFaceMatchServiceClient(s.dial(t, srv))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := client.Compare(ctx, &kycv1.CompareRequest{})
		done <- err
	}()
	<-st.arrival(1)
	s.clk.BlockUntil(1)
	s.clk.Advance(delay)
	<-st.arrival(2)
	cancel()
	err := <-done
	if status.Code(err) != grpccodes.Canceled {
		t.Fatalf("err = %v, want Canceled", err)
	}
	st.settle(t)
	if got := st.canceledAttempts(); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("server saw canceled %v, want [1 2]", got)
	}
	if srv.Calls(testkit.MethodCompare) != 2 || s.clk.Timers() != 0 || s.rec.Count(observe.HedgeWon) != 0 {
		t.Fatalf("calls %d, timers %d, HedgeWon %d", srv.Calls(testkit.MethodCompare), s.clk.Timers(), s.rec.Count(observe.HedgeWon))
	}
}

// TestCallOptionsOfWinner: header and trailer call options get the winning hedge's metadata,
// and the attempts never write the caller's variables concurrently (run with -race).
func TestCallOptionsOfWinner(t *testing.T) {
	s := newSetup(t, hedge.Config{Delay: delay})
	st := newStub(map[int]act{1: hang, 2: ok})
	srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, call int, req *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		n := attemptOf(ctx)
		_ = grpc.SetHeader(ctx, metadata.Pairs("attempt", string(rune('0'+n))))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("attempt", string(rune('0'+n))))
		return st.compare(ctx, call, req)
	}})
	client := kycv1.NewFaceMatchServiceClient(s.dial(t, srv))
	var header, trailer metadata.MD
	done := make(chan error, 1)
	go func() {
		_, err := client.Compare(context.Background(), &kycv1.CompareRequest{}, grpc.Header(&header), grpc.Trailer(&trailer))
		done <- err
	}()
	<-st.arrival(1)
	s.clk.BlockUntil(1)
	s.clk.Advance(delay)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st.settle(t)
	if !slices.Equal(header.Get("attempt"), []string{"2"}) || !slices.Equal(trailer.Get("attempt"), []string{"2"}) {
		t.Fatalf("header %v, trailer %v: want the winner's (2)", header, trailer)
	}
}

func TestNewDefaultsAndErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     hedge.Config
		want    hedge.Config
		wantErr bool
	}{
		{name: "empty", want: hedge.Config{MaxAttempts: 2, Delay: 100 * time.Millisecond, Percentile: 0.95, MedianMultiple: 3, MinDelay: time.Millisecond, Window: 500, MinSamples: 50, ReplayBufferBytes: hedge.DefaultReplayBufferBytes}},
		{name: "fixed", cfg: hedge.Config{Delay: 30 * time.Millisecond}, want: hedge.Config{MaxAttempts: 2, Delay: 30 * time.Millisecond, MinDelay: time.Millisecond, Window: 500, MinSamples: 50, ReplayBufferBytes: hedge.DefaultReplayBufferBytes}},
		{name: "small window", cfg: hedge.Config{Window: 20, Percentile: 0.9}, want: hedge.Config{MaxAttempts: 2, Delay: 100 * time.Millisecond, Percentile: 0.9, MedianMultiple: 3, MinDelay: time.Millisecond, Window: 20, MinSamples: 20, ReplayBufferBytes: hedge.DefaultReplayBufferBytes}},
		{name: "max below default min", cfg: hedge.Config{MaxDelay: 500 * time.Microsecond}, want: hedge.Config{MaxAttempts: 2, Delay: 100 * time.Millisecond, Percentile: 0.95, MedianMultiple: 3, MinDelay: 500 * time.Microsecond, MaxDelay: 500 * time.Microsecond, Window: 500, MinSamples: 50, ReplayBufferBytes: hedge.DefaultReplayBufferBytes}},
		{name: "invalid", cfg: hedge.Config{MaxAttempts: 6}, wantErr: true},
		{name: "min samples above default window", cfg: hedge.Config{MinSamples: 600}, wantErr: true},
		{name: "replay buffer kept as set", cfg: hedge.Config{Delay: 30 * time.Millisecond, ReplayBufferBytes: -1}, want: hedge.Config{MaxAttempts: 2, Delay: 30 * time.Millisecond, MinDelay: time.Millisecond, Window: 500, MinSamples: 50, ReplayBufferBytes: -1}},
		{name: "replay buffer above 1 GiB", cfg: hedge.Config{ReplayBufferBytes: 2 << 30}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := hedge.New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && p.Config() != tt.want {
				t.Fatalf("config = %+v, want %+v", p.Config(), tt.want)
			}
		})
	}
	if _, err := hedge.UnaryClientInterceptor(hedge.Config{Window: 5}); err == nil {
		t.Fatal("UnaryClientInterceptor accepted window 5")
	}
}

// TestOptionShape: construction options are not call options; call options are.
func TestOptionShape(t *testing.T) {
	if _, ok := any(hedge.WithClock(nil)).(grpc.CallOption); ok {
		t.Fatal("hedge.Option is a grpc.CallOption: passing one to a call would compile")
	}
	for _, o := range []any{hedge.Disable(), hedge.WithIdempotent(true), hedge.WithCallObserver(nil)} {
		if _, ok := o.(grpc.CallOption); !ok {
			t.Fatalf("%T is not a grpc.CallOption", o)
		}
	}
}

// TestBudgetTypedNil: a nil *retry.RetryBudget-like pointer given to WithBudget means no budget,
// not a panic.
func TestBudgetTypedNil(t *testing.T) {
	var b *budget
	s := newSetup(t, hedge.Config{Delay: delay}, hedge.WithBudget(b))
	if err := stalledFirst(s); err != nil || s.rec.Count(observe.HedgeSent) != 1 {
		t.Fatalf("err %v, hedges %d", err, s.rec.Count(observe.HedgeSent))
	}
}

// metadataIn turns outgoing metadata into incoming, for invokers that read it like a server.
func metadataIn(ctx context.Context) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	return metadata.NewIncomingContext(ctx, md)
}

var errSentinel = errors.New("sentinel")

// TestNotProtoReply: a reply that is not a proto message cannot be copied from a hedge, so the
// call is not hedged.
func TestNotProtoReply(t *testing.T) {
	s := newSetup(t, hedge.Config{Delay: delay})
	calls := 0
	var reply struct{}
	err := s.p.Unary()(context.Background(), testkit.MethodCompare, nil, &reply, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			calls++
			return errSentinel
		})
	if !errors.Is(err, errSentinel) || calls != 1 || s.clk.Timers() != 0 {
		t.Fatalf("err %v, calls %d", err, calls)
	}
}
