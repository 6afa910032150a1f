package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// suiteStream is a scripted gRPC client stream for the full-suite stream tests: its context
// is a child of the one it was opened with, ended when the stream ends (as gRPC's is). RecvMsg
// returns msgs replies, then end (io.EOF, or a status); with hang, RecvMsg waits for the
// context instead. SendMsg returns sendErr when set.
type suiteStream struct {
	ctx     context.Context
	cancel  context.CancelFunc
	msgs    int
	end     error
	sendErr error
	hang    bool
	panics  bool // RecvMsg panics (an interceptor below the suite, say)
	mu      sync.Mutex
	got     int
}

func (s *suiteStream) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (s *suiteStream) Trailer() metadata.MD         { return nil }
func (s *suiteStream) CloseSend() error             { return nil }
func (s *suiteStream) Context() context.Context     { return s.ctx }
func (s *suiteStream) SendMsg(any) error {
	if s.sendErr != nil {
		s.cancel()
		return s.sendErr
	}
	if s.ctx.Err() != nil {
		return io.EOF
	}
	return nil
}

func (s *suiteStream) RecvMsg(any) error {
	if s.panics {
		panic("recv")
	}
	if s.ctx.Err() != nil {
		return status.Error(grpccodes.Unavailable, "transport closed")
	}
	if s.hang {
		<-s.ctx.Done()
		return status.FromContextError(s.ctx.Err()).Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got < s.msgs {
		s.got++
		return nil
	}
	s.cancel()
	return s.end
}

// fullStreamCfg is every policy on for bulwark.test.Lister: retry, hedge, a breaker that opens
// on one failure and admits one half-open probe, an adaptive throttle, a rate limiter, a
// bulkhead, a deadline and a fallback.
func fullStreamCfg(failures int, adaptive, noRetry bool) *config.Config {
	cfg := &config.Config{
		Budget: 8 * time.Second,
		Profiles: map[string]config.Profile{"p": {
			Retry: &retry.Config{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
				Jitter: retry.JitterNone, Idempotent: true,
				Throttle: retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.1}},
			Hedge:            &hedge.Config{MaxAttempts: 2, Delay: time.Second, Idempotent: true},
			Breaker:          &breaker.Config{ConsecutiveFailures: failures, RecoveryTimeout: time.Second, HalfOpenMaxCalls: 1},
			AdaptiveThrottle: &throttle.Config{MinRequests: 50},
			Bulkhead:         &bulkhead.Config{MaxConcurrent: 4},
			RateLimit:        &ratelimit.Config{Rate: 1000, Burst: 100},
			Deadline:         &deadline.Config{Default: 5 * time.Second},
			Fallback:         &fallback.Config{},
		}},
		Services: map[string]config.Service{"bulwark.test.Lister": {Profile: "p"}},
	}
	if noRetry {
		p := cfg.Profiles["p"]
		p.Retry = nil
		cfg.Profiles["p"] = p
	}
	if adaptive {
		p := cfg.Profiles["p"]
		p.Bulkhead = &bulkhead.Config{MaxConcurrent: 8, MaxWait: time.Second,
			Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, MinLimit: 2, LatencyThreshold: time.Second}}
		p.RateLimit = &ratelimit.Config{Rate: 1000, Burst: 100, MaxWait: time.Second}
		cfg.Profiles["p"] = p
	}
	return cfg
}

// TestFullSuiteStreamEnds runs each way a stream can end through the full suite, the breaker
// half-open, and checks that each policy sees the stream's end once: the bulkhead slot is
// given back, the half-open probe is reported once with the class of the stream's end (its
// slot free again when the end is ignored), the throttle counts one request per attempt, the
// observer reports one CallFinished and attempts numbered from 1, nothing after CallFinished,
// and no timer is left on the fake clock.
func TestFullSuiteStreamEnds(t *testing.T) {
	const method = "/bulwark.test.Lister/List"
	unavailable := status.Error(grpccodes.Unavailable, "down")
	type script struct {
		msgs    int
		end     error
		sendErr error
		hang    bool
		panics  bool
		openErr error
	}
	// sendRecvOne sends a request, closes the send side and reads one reply.
	sendRecvOne := func(t *testing.T, _ *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
		mustSend(t, cs)
		_ = cs.CloseSend()
		mustRecv(t, cs)
	}
	// sendDrain sends a request, closes the send side and reads until RecvMsg fails.
	sendDrain := func(t *testing.T, _ *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
		mustSend(t, cs)
		_ = cs.CloseSend()
		for cs.RecvMsg(new(kycv1.CheckResponse)) == nil {
		}
	}
	tests := []struct {
		name    string
		desc    grpc.StreamDesc
		scripts []script // by attempt; the last for any further one
		// run drives the stream; cancel ends the caller's context.
		run       func(t *testing.T, f *ssFix, cs grpc.ClientStream, cancel context.CancelFunc)
		wantCall  bool // a CallFinished is due (false: the caller abandoned the stream)
		wantCode  grpccodes.Code
		wantProbe string // "success", "failure", "ignored"
		wantAtts  int
		retries   bool           // the case needs the retry step
		closed    bool           // the breaker stays closed (5 failures to trip) instead of half-open
		drive     bool           // move the fake clock whenever the bubble waits on it
		wantBr    *breaker.Stats // the breaker's outcomes, when not the one probe of wantProbe
	}{
		{
			name: "server stream to io.EOF", desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{msgs: 2, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.CloseSend()
				for range 2 {
					if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != nil {
						t.Fatalf("RecvMsg = %v", err)
					}
				}
				mustRecvEOF(t, cs)
			},
			wantCall: true, wantCode: grpccodes.OK, wantProbe: "success", wantAtts: 1,
		},
		{
			name: "server error on RecvMsg after a message", desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{msgs: 1, end: unavailable}}, run: sendDrain,
			wantCall: true, wantCode: grpccodes.Unavailable, wantProbe: "failure", wantAtts: 1,
		},
		{
			name: "error on SendMsg", desc: grpc.StreamDesc{ServerStreams: true, ClientStreams: true},
			scripts: []script{{sendErr: status.Error(grpccodes.Internal, "send broke")}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
				if err := cs.SendMsg(&kycv1.CheckRequest{}); err == nil || errors.Is(err, io.EOF) {
					t.Fatalf("SendMsg = %v, want an error", err)
				}
			},
			wantCall: true, wantCode: grpccodes.Internal, wantProbe: "failure", wantAtts: 1,
		},
		{
			name: "caller cancels mid-stream", desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{hang: true}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, cancel context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.CloseSend()
				go func() { time.Sleep(time.Millisecond); cancel() }()
				if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Canceled {
					t.Fatalf("RecvMsg = %v, want Canceled", err)
				}
			},
			wantCall: true, wantCode: grpccodes.Canceled, wantProbe: "ignored", wantAtts: 1,
		},
		{
			name: "caller drops the stream unread", desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{msgs: 3, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, cancel context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.RecvMsg(new(kycv1.CheckResponse))
				cancel()
			},
			wantProbe: "ignored", wantAtts: 1,
		},
		{
			name: "panic between SendMsg and RecvMsg", desc: grpc.StreamDesc{ServerStreams: true, ClientStreams: true},
			scripts: []script{{msgs: 1, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, cancel context.CancelFunc) {
				defer func() { _ = recover(); cancel() }()
				mustSend(t, cs)
				panic("caller's code")
			},
			wantProbe: "ignored", wantAtts: 1,
		},
		{
			name: "Header then no RecvMsg", desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{msgs: 1, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, cancel context.CancelFunc) {
				mustSend(t, cs)
				if _, err := cs.Header(); err != nil {
					t.Fatalf("Header = %v", err)
				}
				cancel()
			},
			wantProbe: "ignored", wantAtts: 1,
		},
		{
			name: "CloseSend then io.EOF", desc: grpc.StreamDesc{ServerStreams: true, ClientStreams: true},
			scripts: []script{{end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
				_ = cs.CloseSend()
				mustRecvEOF(t, cs)
			},
			wantCall: true, wantCode: grpccodes.OK, wantProbe: "success", wantAtts: 1,
		},
		{
			name: "client stream's one reply", desc: grpc.StreamDesc{ClientStreams: true},
			scripts: []script{{msgs: 1, end: io.EOF}}, run: sendRecvOne,
			wantCall: true, wantCode: grpccodes.OK, wantProbe: "success", wantAtts: 1,
		},
		{
			name: "server error before a reply, retried", retries: true, desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{end: unavailable}, {msgs: 1, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.CloseSend()
				mustRecv(t, cs)
				mustRecvEOF(t, cs)
			},
			closed: true, drive: true, wantCall: true, wantCode: grpccodes.OK, wantAtts: 2,
			wantBr: &breaker.Stats{Calls: 2, Successes: 1, Failures: 1},
		},
		{
			name: "client stream retried after a failure", retries: true, desc: grpc.StreamDesc{ClientStreams: true},
			scripts: []script{{end: unavailable}, {msgs: 1, end: io.EOF}}, run: sendRecvOne,
			closed: true, drive: true, wantCall: true, wantCode: grpccodes.OK, wantAtts: 2,
			wantBr: &breaker.Stats{Calls: 2, Successes: 1, Failures: 1},
		},
		{
			name: "client stream hedged", desc: grpc.StreamDesc{ClientStreams: true},
			scripts: []script{{hang: true}, {msgs: 1, end: io.EOF}}, run: sendRecvOne,
			closed: true, drive: true, wantCall: true, wantCode: grpccodes.OK, wantAtts: 2,
			wantBr: &breaker.Stats{Calls: 2, Successes: 1, Ignored: 1},
		},
		{
			name: "half-open probe fails, retry refused", retries: true, desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{end: unavailable}, {msgs: 1, end: io.EOF}}, run: sendDrain,
			// The retry is attempt 2, refused by the breaker the probe reopened; the
			// fallback answers in its place.
			drive: true, wantCall: true, wantCode: grpccodes.Unavailable, wantProbe: "failure", wantAtts: 2,
		},
		{
			name: "caller cancels during the retry's backoff", retries: true, desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{end: unavailable}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, cancel context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.CloseSend()
				got := make(chan error, 1)
				go func() { got <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
				synctest.Wait() // RecvMsg sleeps on the fake clock before attempt 2
				if n := f.bh.InFlight(); n != 0 {
					t.Errorf("bulkhead holds %d slots during the backoff sleep", n)
				}
				cancel()
				if err := <-got; status.Code(err) != grpccodes.Unavailable {
					t.Errorf("RecvMsg = %v, want the attempt's Unavailable", err)
				}
			},
			// The retry returns the last attempt's error when the caller cancels (see retry's
			// doc), as for a unary call.
			closed: true, wantCall: true, wantCode: grpccodes.Unavailable, wantAtts: 1,
			wantBr: &breaker.Stats{Calls: 1, Failures: 1},
		},
		{
			name: "call deadline passes mid-stream", desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{hang: true}}, run: sendDrain,
			drive: true, wantCall: true, wantCode: grpccodes.DeadlineExceeded, wantProbe: "failure", wantAtts: 1,
		},
		{
			name: "client stream's reply, then RecvMsg again", desc: grpc.StreamDesc{ClientStreams: true},
			scripts: []script{{msgs: 1, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.CloseSend()
				mustRecv(t, cs)
				_ = cs.RecvMsg(new(kycv1.CheckResponse))
				_ = cs.SendMsg(&kycv1.CheckRequest{})
			},
			wantCall: true, wantCode: grpccodes.OK, wantProbe: "success", wantAtts: 1,
		},
		{
			name: "Header then RecvMsg to io.EOF", desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{msgs: 1, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.CloseSend()
				if _, err := cs.Header(); err != nil {
					t.Fatalf("Header = %v", err)
				}
				for cs.RecvMsg(new(kycv1.CheckResponse)) == nil {
				}
			},
			wantCall: true, wantCode: grpccodes.OK, wantProbe: "success", wantAtts: 1,
		},
		{
			name: "client stream dropped after the send side", desc: grpc.StreamDesc{ClientStreams: true},
			scripts: []script{{msgs: 1, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, cancel context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.CloseSend()
				cancel()
			},
			wantProbe: "ignored", wantAtts: 1,
		},
		{
			name: "half-open probe hangs, hedge refused", desc: grpc.StreamDesc{ClientStreams: true},
			scripts: []script{{hang: true}, {msgs: 1, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.CloseSend()
				_ = cs.RecvMsg(new(kycv1.CheckResponse))
			},
			// The refused hedge is attempt 2 (see observe.Rejected).
			drive: true, wantCall: true, wantCode: grpccodes.DeadlineExceeded, wantProbe: "failure", wantAtts: 2,
		},
		{
			name: "open fails, retried", retries: true, desc: grpc.StreamDesc{ClientStreams: true},
			scripts: []script{{openErr: unavailable}, {msgs: 1, end: io.EOF}}, run: sendRecvOne,
			closed: true, drive: true, wantCall: true, wantCode: grpccodes.OK, wantAtts: 2,
			wantBr: &breaker.Stats{Calls: 2, Successes: 1, Failures: 1},
		},
		{
			name: "RecvMsg below the suite panics", desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{panics: true}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, cancel context.CancelFunc) {
				defer func() {
					if v := recover(); v == nil {
						t.Error("no panic from RecvMsg")
					}
					cancel()
				}()
				mustSend(t, cs)
				_ = cs.CloseSend()
				_ = cs.RecvMsg(new(kycv1.CheckResponse))
			},
			// A call that panics ends without CallFinished (see the package doc).
			wantProbe: "ignored", wantAtts: -1,
		},
		{
			name: "gRPC ends the committed stream unread", desc: grpc.StreamDesc{ServerStreams: true},
			scripts: []script{{msgs: 3, end: io.EOF}},
			run: func(t *testing.T, f *ssFix, cs grpc.ClientStream, _ context.CancelFunc) {
				mustSend(t, cs)
				_ = cs.CloseSend()
				mustRecv(t, cs)
				_ = cs.Context() // commits the stream: its context is watched from now on
				f.last.cancel()  // the connection closes while nobody reads
				synctest.Wait()
				if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Unavailable {
					t.Fatalf("RecvMsg = %v, want Unavailable", err)
				}
			},
			// Ended unread: no CallFinished, and no outcome for the breaker (see
			// internal/streamend and the package doc).
			wantProbe: "ignored", wantAtts: 1,
		},
	}
	for _, variant := range []string{"static", "adaptive", "noretry"} {
		adaptive, noRetry := variant == "adaptive", variant == "noretry"
		for _, tt := range tests {
			if noRetry && tt.retries {
				continue
			}
			t.Run(variant+"/"+tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					clk := clocktest.New(time.Time{})
					rec := &testkit.Recorder{}
					failures := 1
					if tt.closed {
						failures = 5
					}
					s, err := interceptors.New(fullStreamCfg(failures, adaptive, noRetry), interceptors.WithObserver(rec), interceptors.WithClock(clk),
						interceptors.WithRand(func() float64 { return 0.5 }),
						interceptors.WithFallback(method, fallback.Message(&kycv1.CheckResponse{Score: 0.5})))
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					var opened int
					fx := &ssFix{}
					var mu sync.Mutex
					streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
						mu.Lock()
						defer mu.Unlock()
						sc := tt.scripts[min(opened, len(tt.scripts)-1)]
						opened++
						if sc.openErr != nil {
							return nil, sc.openErr
						}
						sctx, cancel := context.WithCancel(ctx)
						st := &suiteStream{ctx: sctx, cancel: cancel, msgs: sc.msgs, end: sc.end, sendErr: sc.sendErr, hang: sc.hang, panics: sc.panics}
						fx.last = st
						return st, nil
					}
					// Trip the breaker with one failed stream, then let it half-open.
					fail := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
						sctx, cancel := context.WithCancel(ctx)
						return &suiteStream{ctx: sctx, cancel: cancel, end: unavailable}, nil
					}
					cs, err := s.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, method, fail, retry.Disable(), hedge.Disable())
					if err != nil {
						t.Fatal(err)
					}
					_ = cs.CloseSend()
					for cs.RecvMsg(new(kycv1.CheckResponse)) == nil {
					}
					synctest.Wait()
					br, ok := s.Breakers().Lookup("bulwark.test.Lister")
					if !ok {
						t.Fatal("no breaker")
					}
					if st, want := br.State(), map[bool]breaker.State{false: breaker.Open, true: breaker.Closed}[tt.closed]; st != want {
						t.Fatalf("breaker %v after a failure, want %v", st, want)
					}
					clk.Advance(2 * time.Second)
					th := s.Throttles()["bulwark.test.Lister"]
					bh := s.Bulkheads()["bulwark.test.Lister"]
					fx.bh, fx.br = bh, br
					var budget *retry.RetryBudget
					var tokens0 float64
					if rp, ok := interceptors.Object(s, "retry", "bulwark.test.Lister").(*retry.Policy); ok {
						budget = rp.Budget("bulwark.test.Lister")
						tokens0 = budget.Tokens()
					}
					before := br.Stats()
					req0, _ := th.Counts()
					rec.Reset()

					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					open := func() grpc.ClientStream {
						cs, err := s.Stream()(ctx, &tt.desc, nil, method, streamer)
						if err != nil {
							t.Errorf("open: %v", err)
							return nil
						}
						return cs
					}
					if tt.drive {
						done := make(chan struct{})
						go func() {
							defer close(done)
							if cs := open(); cs != nil {
								tt.run(t, fx, cs, cancel)
							}
						}()
					drive:
						for {
							synctest.Wait()
							select {
							case <-done:
								break drive
							default:
								clk.AdvanceWhenWaiting()
							}
						}
					} else if cs := open(); cs != nil {
						tt.run(t, fx, cs, cancel)
					}
					synctest.Wait()
					cancel()
					synctest.Wait()

					var problems []string
					if n := bh.InFlight(); n != 0 {
						problems = append(problems, fmt.Sprintf("bulkhead holds %d slots", n))
					}
					after := br.Stats()
					d := breaker.Stats{Calls: after.Calls - before.Calls, Successes: after.Successes - before.Successes,
						Failures: after.Failures - before.Failures, Ignored: after.Ignored - before.Ignored}
					var want breaker.Stats
					if tt.wantBr != nil {
						want = *tt.wantBr
					}
					switch tt.wantProbe {
					case "success":
						want = breaker.Stats{Calls: 1, Successes: 1}
					case "failure":
						want = breaker.Stats{Calls: 1, Failures: 1}
					case "ignored":
						want = breaker.Stats{Calls: 1, Ignored: 1}
					}
					if d != want {
						problems = append(problems, fmt.Sprintf("breaker saw %+v, want %+v", d, want))
					}
					if tt.wantProbe == "ignored" {
						if st := br.State(); st != breaker.HalfOpen {
							problems = append(problems, fmt.Sprintf("breaker %v after an ignored probe, want half_open", st))
						} else if p, err := br.Allow(); err != nil {
							problems = append(problems, fmt.Sprintf("probe slot not returned: %v", err))
						} else {
							p.Done(context.Canceled)
						}
					}
					// The throttle counts each attempt that reached the service once; a cancelled
					// one counts as nothing (see throttle.Record).
					wantReq := int64(opened)
					if tt.wantProbe == "ignored" {
						wantReq = 0
					} else if tt.wantBr != nil {
						wantReq = int64(tt.wantBr.Successes + tt.wantBr.Failures)
					}
					if req1, _ := th.Counts(); req1-req0 != wantReq {
						problems = append(problems, fmt.Sprintf("throttle counted %d requests for %d attempts, want %d", req1-req0, opened, wantReq))
					}
					// The retry budget (a token bucket) sees each attempt's outcome once: a success
					// gives back 0.1 token, a failure takes 1, a hedge takes 1 (given back when a
					// policy below refuses it), and a cancelled or refused attempt does nothing.
					refusedHedges := 0
					for _, e := range rec.Events(observe.AttemptFinished) {
						if e.Attempt > 1 && e.Reason == observe.ReasonHedgeDelay && e.Class == codes.Rejected {
							refusedHedges++
						}
					}
					wantTokens := tokens0 + 0.1*float64(want.Successes) - float64(want.Failures) - float64(rec.Count(observe.HedgeSent)-refusedHedges)
					wantTokens = min(max(wantTokens, 0), 10)
					if budget == nil {
						// No retry step: no retry budget.
					} else if got := budget.Tokens(); math.Abs(got-wantTokens) > 1e-9 {
						problems = append(problems, fmt.Sprintf("retry budget holds %.3f tokens, want %.3f (was %.3f)", got, wantTokens, tokens0))
					}
					evs := rec.Events()
					calls := rec.Events(observe.CallFinished)
					if tt.wantCall {
						// A failure the fallback answered reads OK.
						served := len(calls) == 1 && tt.wantCode != grpccodes.OK && calls[0].Code == grpccodes.OK && rec.Count(observe.FallbackServed) == 1
						if len(calls) != 1 {
							problems = append(problems, fmt.Sprintf("%d CallFinished, want 1", len(calls)))
						} else if calls[0].Code != tt.wantCode && !served {
							problems = append(problems, fmt.Sprintf("CallFinished code %v, want %v", calls[0].Code, tt.wantCode))
						}
						if len(evs) > 0 && evs[len(evs)-1].Kind != observe.CallFinished {
							problems = append(problems, fmt.Sprintf("event after CallFinished: %+v", evs[len(evs)-1]))
						}
					} else if len(calls) != 0 {
						problems = append(problems, fmt.Sprintf("CallFinished %+v for an abandoned stream, want none", calls))
					}
					atts := rec.Events(observe.AttemptFinished)
					if tt.wantAtts >= 0 && len(atts) != tt.wantAtts {
						problems = append(problems, fmt.Sprintf("%d AttemptFinished, want %d", len(atts), tt.wantAtts))
					}
					// Attempts end in any order (a hedge may answer first), each numbered once.
					seen := make(map[int]bool)
					for _, a := range atts {
						if a.Attempt < 1 || a.Attempt > len(atts) || seen[a.Attempt] {
							problems = append(problems, fmt.Sprintf("AttemptFinished numbered %d twice or out of [1, %d]", a.Attempt, len(atts)))
						}
						seen[a.Attempt] = true
					}
					if n := clk.Timers(); n != 0 {
						problems = append(problems, fmt.Sprintf("%d fake-clock timers pending", n))
					}
					if len(problems) > 0 {
						t.Fatalf("%s\nevents:%s", strings.Join(problems, "\n"), eventLines(evs))
					} else if testing.Verbose() {
						t.Logf("events:%s", eventLines(evs))
					}
				})
			})
		}
	}
}

// ssFix is what a TestFullSuiteStreamEnds case may look at while it drives its stream.
type ssFix struct {
	bh *bulkhead.Bulkhead
	br *breaker.Breaker
	// last is the attempt stream opened last.
	last *suiteStream
}

func mustSend(t *testing.T, cs grpc.ClientStream) {
	t.Helper()
	if err := cs.SendMsg(&kycv1.CheckRequest{}); err != nil {
		t.Fatalf("SendMsg = %v", err)
	}
}

// mustRecv reads a reply from cs, and fails the test if there is none.
func mustRecv(t *testing.T, cs grpc.ClientStream) {
	t.Helper()
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != nil {
		t.Fatalf("RecvMsg = %v", err)
	}
}

// mustRecvEOF reads from cs, and fails the test unless the stream ends with io.EOF.
func mustRecvEOF(t *testing.T, cs grpc.ClientStream) {
	t.Helper()
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
		t.Fatalf("RecvMsg = %v, want io.EOF", err)
	}
}

// eventLines formats evs, one indented line each, for a failure message.
func eventLines(evs []observe.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %v attempt=%d code=%v class=%v reason=%s policy=%v", e.Kind, e.Attempt, e.Code, e.Class, e.Reason, e.Policy)
	}
	return b.String()
}

// sendHeaderThenWait is a Check server that sends its header, then waits for the stream to
// end and returns its context's error.
func sendHeaderThenWait(st kycv1.LivenessService_CheckServer) error {
	if err := st.SendHeader(metadata.Pairs("k", "v")); err != nil {
		return err
	}
	<-st.Context().Done()
	return st.Context().Err()
}

// readHeaderThenDrop sends a request on a Check stream, reads its header, and drops the
// stream (cancels its context) unread.
func readHeaderThenDrop(t *testing.T, st kycv1.LivenessService_CheckClient, cancel context.CancelFunc) {
	t.Helper()
	_ = st.Send(&kycv1.CheckRequest{})
	if _, err := st.Header(); err != nil {
		t.Fatalf("Header = %v", err)
	}
	cancel()
}

// TestFullSuiteCheckOverGRPC runs LivenessService.Check, a client stream, through the full
// suite over a real gRPC connection, for the ends that depend on gRPC's own stream: a header
// read first, a response without a header (the server failed at once), the stream dropped
// with its context. Each stream gives its bulkhead slot back, gives the breaker one outcome
// per attempt of the class it ended with (a cancellation: ignored), and reports one
// CallFinished when its caller saw the end.
func TestFullSuiteCheckOverGRPC(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	var clk *clocktest.Fake // the current case's
	// drive runs f, moving clk on by a millisecond at a time until f returns (a retry's
	// backoff sleep).
	drive := func(f func()) {
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
				clk.Advance(time.Millisecond)
			}
		}
	}
	tests := []struct {
		name      string
		server    func(call int, st kycv1.LivenessService_CheckServer) error
		run       func(t *testing.T, st kycv1.LivenessService_CheckClient, cancel context.CancelFunc)
		wantCall  grpccodes.Code // the CallFinished's code
		abandoned bool           // no CallFinished: the caller never saw the end
		wantBr    breaker.Stats
		wantAtts  int
		wantCalls int // of the server's Check
	}{
		{
			name:   "success",
			server: func(_ int, st kycv1.LivenessService_CheckServer) error { return testkit.DrainCheck(st, 0.9) },
			run: func(t *testing.T, st kycv1.LivenessService_CheckClient, _ context.CancelFunc) {
				if err := st.Send(&kycv1.CheckRequest{}); err != nil {
					t.Fatal(err)
				}
				if _, err := st.CloseAndRecv(); err != nil {
					t.Fatal(err)
				}
			},
			wantCall: grpccodes.OK, wantBr: breaker.Stats{Calls: 1, Successes: 1}, wantAtts: 1, wantCalls: 1,
		},
		{
			name: "business error",
			server: func(int, kycv1.LivenessService_CheckServer) error {
				return status.Error(grpccodes.InvalidArgument, "no face")
			},
			run: func(t *testing.T, st kycv1.LivenessService_CheckClient, _ context.CancelFunc) {
				_ = st.Send(&kycv1.CheckRequest{})
				if _, err := st.CloseAndRecv(); status.Code(err) != grpccodes.InvalidArgument {
					t.Fatalf("CloseAndRecv = %v, want InvalidArgument", err)
				}
			},
			wantCall: grpccodes.InvalidArgument, wantBr: breaker.Stats{Calls: 1, Successes: 1}, wantAtts: 1, wantCalls: 1,
		},
		{
			name: "headerless failure retried through Header",
			server: func(call int, st kycv1.LivenessService_CheckServer) error {
				if call == 1 {
					return unavailable
				}
				return testkit.DrainCheck(st, 0.9)
			},
			run: func(t *testing.T, st kycv1.LivenessService_CheckClient, _ context.CancelFunc) {
				_ = st.Send(&kycv1.CheckRequest{})
				_ = st.CloseSend()
				drive(func() {
					if _, err := st.Header(); err != nil {
						t.Errorf("Header = %v", err)
					}
				})
				if err := st.RecvMsg(new(kycv1.CheckResponse)); err != nil {
					t.Fatalf("RecvMsg = %v", err)
				}
			},
			wantCall: grpccodes.OK, wantBr: breaker.Stats{Calls: 2, Successes: 1, Failures: 1}, wantAtts: 2, wantCalls: 2,
		},
		{
			name:      "Header read, then dropped",
			server:    func(_ int, st kycv1.LivenessService_CheckServer) error { return sendHeaderThenWait(st) },
			run:       readHeaderThenDrop,
			abandoned: true, wantBr: breaker.Stats{Calls: 1, Ignored: 1}, wantAtts: 1, wantCalls: 1,
		},
		{
			name: "dropped unread while the server works",
			server: func(_ int, st kycv1.LivenessService_CheckServer) error {
				<-st.Context().Done()
				return st.Context().Err()
			},
			run: func(t *testing.T, st kycv1.LivenessService_CheckClient, cancel context.CancelFunc) {
				_ = st.Send(&kycv1.CheckRequest{})
				cancel()
			},
			abandoned: true, wantBr: breaker.Stats{Calls: 1, Ignored: 1}, wantAtts: 1, wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fullStreamCfg(5, false, false)
			cfg.Services = map[string]config.Service{svcLiveness: {Profile: "p"}}
			p := cfg.Profiles["p"]
			p.Fallback = &fallback.Config{ReplyJSON: `{"score": 0.5}`}
			cfg.Profiles["p"] = p
			clk = clocktest.New(time.Now()) // the deadline step's deadline is real time
			e := newEnv(t, cfg, &testkit.Server{CheckF: tt.server}, interceptors.WithClock(clk),
				interceptors.WithRand(func() float64 { return 0.5 }))
			br, _ := e.suite.Breakers().Lookup(svcLiveness)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st, err := e.live.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if br == nil {
				br, _ = e.suite.Breakers().Lookup(svcLiveness)
			}
			bh := e.suite.Bulkheads()[svcLiveness]
			tt.run(t, st, cancel)
			cancel()
			testkit.Eventually(t, "bulkhead slot held", func() bool { return bh.InFlight() == 0 })
			testkit.Eventually(t, "breaker outcomes missing", func() bool { return br.Stats().Calls >= tt.wantBr.Calls })
			testkit.Eventually(t, "attempts unreported", func() bool { return e.rec.Count(observe.AttemptFinished) >= tt.wantAtts })
			if !tt.abandoned {
				testkit.Eventually(t, "no CallFinished", func() bool { return e.rec.Count(observe.CallFinished) > 0 })
			}
			var problems []string
			got := br.Stats()
			if d := (breaker.Stats{Calls: got.Calls, Successes: got.Successes, Failures: got.Failures, Ignored: got.Ignored}); d != tt.wantBr {
				problems = append(problems, fmt.Sprintf("breaker saw %+v, want %+v", d, tt.wantBr))
			}
			calls := e.rec.Events(observe.CallFinished)
			switch {
			case tt.abandoned && len(calls) != 0:
				problems = append(problems, fmt.Sprintf("CallFinished %+v for an abandoned stream", calls))
			case !tt.abandoned && (len(calls) != 1 || calls[0].Code != tt.wantCall):
				problems = append(problems, fmt.Sprintf("CallFinished %+v, want one %v", calls, tt.wantCall))
			}
			if evs := e.rec.Events(); !tt.abandoned && evs[len(evs)-1].Kind != observe.CallFinished {
				problems = append(problems, fmt.Sprintf("event after CallFinished: %+v", evs[len(evs)-1]))
			}
			if n := e.rec.Count(observe.AttemptFinished); n != tt.wantAtts {
				problems = append(problems, fmt.Sprintf("%d AttemptFinished, want %d", n, tt.wantAtts))
			}
			if n := clk.Timers(); n != 0 {
				problems = append(problems, fmt.Sprintf("%d fake-clock timers pending", n))
			}
			if len(problems) > 0 {
				t.Fatalf("%s\nevents:%s", strings.Join(problems, "\n"), eventLines(e.rec.Events()))
			}
		})
	}
}
