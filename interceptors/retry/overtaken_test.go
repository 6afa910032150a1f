package retry_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const overtakenMethod = "/test.v1.Svc/Do"

// newCutPolicy is a retry policy on a fake clock with a 1s per-attempt timeout that cuts as
// cut says, 3 attempts, 100ms sleeps that a driver advances, and the attempts' codes recorded.
// The driver is returned too, for a call's own observer.
func newCutPolicy(t *testing.T, cut retry.Cut) (*retry.Policy, *clocktest.Fake, *testkit.Recorder, *driver) {
	t.Helper()
	clk := clocktest.New(time.Now())
	rec := &testkit.Recorder{}
	drv := newDriver(t, clk, 0)
	p, err := retry.New(retry.Config{PerAttemptTimeout: time.Second, PerAttemptCut: cut, Idempotent: true, Jitter: retry.JitterNone},
		retry.WithClock(clk), retry.WithObserver(observe.Multi(rec, drv)))
	if err != nil {
		t.Fatal(err)
	}
	return p, clk, rec, drv
}

// codesOf returns the codes of the AttemptFinished events of rec, in order.
func codesOf(rec *testkit.Recorder) []grpccodes.Code {
	var got []grpccodes.Code
	for _, e := range rec.Events(observe.AttemptFinished) {
		got = append(got, e.Code)
	}
	return got
}

// TestSlowServiceIsNotCut: an attempt that runs past its timeout while the service answered
// no later attempt is the service's pace, not a stall: under CutOvertaken it runs on and its
// answer is the call's; under CutAlways it is cut and retried.
func TestSlowServiceIsNotCut(t *testing.T) {
	for _, tt := range []struct {
		cut      retry.Cut
		attempts int
		codes    []grpccodes.Code
	}{
		{retry.CutOvertaken, 1, []grpccodes.Code{grpccodes.OK}},
		{retry.CutAlways, 2, []grpccodes.Code{grpccodes.DeadlineExceeded, grpccodes.OK}},
	} {
		t.Run(string(tt.cut), func(t *testing.T) {
			p, clk, rec, _ := newCutPolicy(t, tt.cut)
			calls := 0
			err := p.Do(context.Background(), overtakenMethod, func(ctx context.Context) error {
				calls++
				if calls == 1 {
					clk.Advance(3 * time.Second) // the service answers after 3s
				}
				return ctx.Err()
			})
			if err != nil || calls != tt.attempts {
				t.Fatalf("Do = %v after %d attempts, want nil after %d", err, calls, tt.attempts)
			}
			if got := codesOf(rec); !slices.Equal(got, tt.codes) {
				t.Fatalf("attempts ended %v, want %v", got, tt.codes)
			}
		})
	}
}

// TestOvertakenAttemptIsCut: under CutOvertaken, an attempt is cut at its timeout, and
// retried, only when the service answered an attempt of the same method that started after
// it, in under half the timeout; a failure, a slow answer, an answer to an attempt that
// started before it, or to one of another method overtake nothing.
func TestOvertakenAttemptIsCut(t *testing.T) {
	for _, tt := range []struct {
		name   string
		before bool          // the other attempt starts before the watched one (and is answered after it starts)
		method string        // the other attempt's method
		takes  time.Duration // how long the other attempt takes
		err    error         // the other attempt's outcome
		cut    bool
	}{
		{name: "answered", method: overtakenMethod, cut: true},
		{name: "business answer", method: overtakenMethod, err: status.Error(grpccodes.InvalidArgument, "unreadable"), cut: true},
		{name: "answered just under half the timeout", method: overtakenMethod, takes: 499 * time.Millisecond, cut: true},
		{name: "answered at half the timeout", method: overtakenMethod, takes: 500 * time.Millisecond},
		{name: "failed fast", method: overtakenMethod, err: status.Error(grpccodes.Unavailable, "down")},
		{name: "started before", method: overtakenMethod, before: true},
		{name: "another method", method: "/test.v1.Svc/Other"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, clk, _, drv := newCutPolicy(t, retry.CutOvertaken)
			watched := &testkit.Recorder{} // the events of the watched call
			other := func(ctx context.Context) error {
				clk.Advance(tt.takes)
				return tt.err
			}
			release := make(chan struct{})
			started := make(chan struct{})
			otherStarted := make(chan struct{})
			otherDone := make(chan error, 1)
			if tt.before {
				go func() {
					otherDone <- p.Do(context.Background(), tt.method, func(ctx context.Context) error {
						close(otherStarted)
						<-started
						return other(ctx)
					}, retry.WithMax(1))
				}()
				<-otherStarted
				clk.Advance(10 * time.Millisecond)
			}
			type result struct {
				err   error
				calls int
			}
			done := make(chan result, 1)
			go func() {
				calls := 0
				err := p.Do(context.Background(), overtakenMethod, func(ctx context.Context) error {
					calls++
					if calls > 1 {
						return nil
					}
					close(started)
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-release:
						return nil
					}
				}, retry.WithCallObserver(observe.Multi(watched, drv)))
				done <- result{err, calls}
			}()
			<-started
			if tt.before {
				if err := <-otherDone; !errors.Is(err, tt.err) && status.Code(err) != status.Code(tt.err) {
					t.Fatalf("the other call = %v", err)
				}
			} else {
				clk.Advance(10 * time.Millisecond)
				_ = p.Do(context.Background(), tt.method, other, retry.WithMax(1))
			}
			clk.Set(clk.Now().Add(time.Second)) // past the watched attempt's timeout
			close(release)
			r := <-done
			wantCalls := 1
			if tt.cut {
				wantCalls = 2
			}
			if r.err != nil || r.calls != wantCalls {
				t.Fatalf("watched call = %v after %d attempts, want nil after %d", r.err, r.calls, wantCalls)
			}
			want := []grpccodes.Code{grpccodes.OK}
			if tt.cut {
				want = []grpccodes.Code{grpccodes.DeadlineExceeded, grpccodes.OK}
			}
			if got := codesOf(watched); !slices.Equal(got, want) {
				t.Fatalf("watched call's attempts ended %v, want %v", got, want)
			}
		})
	}
}

// lateStream is a client stream's attempt that the service answers when answer closes, or
// that ends with its context (a per-attempt timeout's cut, say).
type lateStream struct {
	*testkit.ScriptedStream
	answer <-chan struct{}
}

func (s lateStream) RecvMsg(m any) error {
	if err := s.Context().Err(); err != nil { // ended before the answer came
		return status.FromContextError(err).Err()
	}
	select {
	case <-s.Context().Done():
		return status.FromContextError(s.Context().Err()).Err()
	case <-s.answer:
		return s.ScriptedStream.RecvMsg(m)
	}
}

// TestStreamSlowServiceIsNotCut: a client stream's attempt that reaches its timeout, no reply
// read, runs on under CutOvertaken while the service answered no later attempt, and its late
// reply is the stream's; it is cut and retried when a later stream of the method was answered
// in the meantime, and under CutAlways.
func TestStreamSlowServiceIsNotCut(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cut       retry.Cut
		overtaken bool
		opens     int32
	}{
		{"slow for everyone", retry.CutOvertaken, false, 1},
		{"overtaken", retry.CutOvertaken, true, 2},
		{"cut always", retry.CutAlways, false, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Now())
				p, err := retry.New(retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second, PerAttemptCut: tt.cut, Idempotent: true},
					retry.WithClock(clk), retry.WithRand(seq(0.5)))
				if err != nil {
					t.Fatal(err)
				}
				cs, answer, opens := lateStreamToItsTimeout(t, p, clk, tt.overtaken)
				synctest.Wait()
				close(answer) // the service answers every attempt from now on
				if err := testkit.CloseAndRecvInBubble(cs, clk, &kycv1.CheckRequest{Index: 1}, new(kycv1.CheckResponse)); err != nil {
					t.Fatalf("CloseAndRecv = %v after %d attempts", err, opens.Load())
				}
				if n := opens.Load(); n != tt.opens {
					t.Fatalf("%d attempts, want %d", n, tt.opens)
				}
			})
		})
	}
}

// TestOvertakenTimeoutTellsTheRoundItsEnd: under CutOvertaken, whose timeout the attempt's
// context does not carry, a hedging policy below learns the timeout's end from the attempt's
// Round, and that it no longer holds once the timer spared the attempt; the server sees no
// deadline of the timeout's.
func TestOvertakenTimeoutTellsTheRoundItsEnd(t *testing.T) {
	s := newSetup(t, retry.Config{PerAttemptTimeout: time.Second, PerAttemptCut: retry.CutOvertaken}, -1)
	srv := testkit.Start(t, &testkit.Server{})
	start := s.clk.Now()
	var atStart, afterTimeout time.Time
	var hasDeadline bool
	below := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		for _, o := range opts {
			if r, ok := o.(*attempt.Round); ok {
				atStart = r.End()
				s.clk.Advance(2 * time.Second) // past the timeout: nobody overtook the attempt
				afterTimeout = r.End()
			}
		}
		_, hasDeadline = ctx.Deadline()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	var info retry.Info
	if _, err := kycv1.NewFaceMatchServiceClient(s.dial(t, srv, below)).Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info)); err != nil || info.Attempts != 1 {
		t.Fatalf("Compare = %v after %d attempts, want the first attempt's answer", err, info.Attempts)
	}
	if want := start.Add(time.Second); !atStart.Equal(want) || !afterTimeout.IsZero() || hasDeadline {
		t.Fatalf("round's end %v at the start (want %v), %v once spared (want none); deadline on the attempt: %v", atStart, want, afterTimeout, hasDeadline)
	}
}

// TestExplainOfOvertakenCut: Explain says which attempts the per-attempt timeout cuts when it
// does not cut them all.
func TestExplainOfOvertakenCut(t *testing.T) {
	got := retry.Normalize(retry.Config{MaxAttempts: 2, PerAttemptTimeout: time.Second, PerAttemptCut: retry.CutOvertaken}).Explain()
	if !strings.Contains(got, "per attempt 1s (cut when overtaken)") {
		t.Fatalf("Explain() = %q, want \"per attempt 1s (cut when overtaken)\"", got)
	}
	if got := retry.Normalize(retry.Config{MaxAttempts: 2, PerAttemptTimeout: time.Second}).Explain(); strings.Contains(got, "overtaken") {
		t.Fatalf("Explain() = %q: a timeout that cuts every attempt says nothing of overtaking", got)
	}
}

// TestPooledCutTimerAcrossAttemptsAndCalls: through the interceptor, the timer a call's pooled
// state keeps serves its attempts and later calls in turn: an attempt overtaken by another
// call's answer is cut at its timeout and retried, the retry answers, and the calls after
// it, whose attempts answer before their timeout, are neither cut nor left with a timer that
// fires.
func TestPooledCutTimerAcrossAttemptsAndCalls(t *testing.T) {
	s := newSetup(t, retry.Config{PerAttemptTimeout: time.Second, PerAttemptCut: retry.CutOvertaken, Jitter: retry.JitterNone}, 0)
	srv, hung := hangingServer(t)
	client := kycv1.NewFaceMatchServiceClient(s.dial(t, srv))
	if attempts, err := overtakenCall(t, s, client, hung); err != nil || attempts != 2 {
		t.Fatalf("the overtaken call = %v after %d attempts, want its retry's answer", err, attempts)
	}
	for range 20 {
		var info retry.Info
		if _, err := client.Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info)); err != nil || info.Attempts != 1 {
			t.Fatalf("a later call = %v after %d attempts", err, info.Attempts)
		}
	}
	if n := s.clk.Timers(); n != 0 {
		t.Fatalf("%d timers left armed", n)
	}
}

// TestCutAttemptEndsBelowAsTimedOut: a unary attempt that its per-attempt timeout cuts ends,
// for the policies under the retry loop (a breaker, a throttle, a bulkhead, a hedging policy:
// outcome.Class), as the timeout's DeadlineExceeded, a transient failure, under either cut:
// under CutAlways through its context's deadline, under CutOvertaken, whose cut is the
// context's cancel, through the flag the timer sets first; not as a caller's cancellation,
// which they leave out.
func TestCutAttemptEndsBelowAsTimedOut(t *testing.T) {
	for _, cut := range []retry.Cut{retry.CutAlways, retry.CutOvertaken} {
		t.Run(string(cut), func(t *testing.T) {
			s := newSetup(t, retry.Config{PerAttemptTimeout: time.Second, PerAttemptCut: cut, Jitter: retry.JitterNone}, 0)
			srv, hung := hangingServer(t)
			first := make(chan codes.Class, 1)
			below := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				md, _ := metadata.FromOutgoingContext(ctx)
				if len(md.Get("hang")) == 0 || len(md.Get(xRetryAttempt)) > 0 {
					return invoker(ctx, method, req, reply, cc, opts...)
				}
				child, cancel := context.WithCancel(ctx) // as a hedging policy's attempt's
				defer cancel()
				err := invoker(child, method, req, reply, cc, opts...)
				first <- outcome.Class(child, err, codes.Default())
				return err
			}
			client := kycv1.NewFaceMatchServiceClient(s.dial(t, srv, below))
			if _, err := overtakenCall(t, s, client, hung); err != nil {
				t.Fatalf("the hanging call = %v, want its retry's answer", err)
			}
			got := <-first
			if got != codes.Transient {
				t.Fatalf("the cut attempt ended below as %v, want transient (the timeout's DeadlineExceeded)", got)
			}
		})
	}
}

// hangingServer starts a face-match server that stalls the first attempt of a call sent with
// the metadata "hang" (closing hung when it arrives) until its context ends, and answers
// every other attempt at once.
func hangingServer(t *testing.T) (*testkit.Server, <-chan struct{}) {
	hung := make(chan struct{})
	srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, _ int, req *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("hang")) > 0 && len(md.Get(xRetryAttempt)) == 0 {
			close(hung)
			<-ctx.Done() // the first attempt of the hanging call stalls
			return nil, ctx.Err()
		}
		return okCompare, nil
	}})
	return srv, hung
}

// overtakenCall makes, through client (its policy on s's clock, a 1s per-attempt timeout), a
// call with the metadata "hang", whose first attempt hangingServer stalls; 10ms after that
// attempt arrived, a call of the same method that the server answers at once; then it moves
// the clock to the first attempt's timeout, and returns the attempts the hanging call made and
// its error.
func overtakenCall(t *testing.T, s *setup, client kycv1.FaceMatchServiceClient, hung <-chan struct{}) (int, error) {
	t.Helper()
	type result struct {
		err  error
		info retry.Info
	}
	done := make(chan result, 1)
	go func() {
		var info retry.Info
		ctx := metadata.AppendToOutgoingContext(context.Background(), "hang", "1")
		_, err := client.Compare(ctx, &kycv1.CompareRequest{}, retry.Report(&info))
		done <- result{err, info}
	}()
	<-hung
	s.clk.Advance(10 * time.Millisecond)
	if _, err := client.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil { // overtakes it
		t.Fatal(err)
	}
	s.clk.Advance(time.Second) // the hanging call's first attempt reaches its timeout
	r := <-done
	return r.info.Attempts, r.err
}

// lateStreamToItsTimeout opens a client stream on p (on clk, a 5s per-attempt timeout) whose
// attempts the service answers once answer is closed, and sends its first message; 1s on,
// when overtaken, another stream of the method, which the service answers at once, runs to
// its reply; then the clock moves to the first stream's attempt's timeout. It returns the
// stream, answer, and the count of the stream's attempts opened. Call it inside
// synctest.Test.
func lateStreamToItsTimeout(t *testing.T, p *retry.Policy, clk *clocktest.Fake, overtaken bool) (grpc.ClientStream, chan struct{}, *atomic.Int32) {
	t.Helper()
	answer := make(chan struct{})
	opens := new(atomic.Int32)
	late := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opens.Add(1)
		return lateStream{testkit.NewScriptedStream(ctx, false), answer}, nil
	}
	desc := &grpc.StreamDesc{ClientStreams: true}
	cs, err := p.Stream()(context.Background(), desc, nil, testkit.MethodCheck, late)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if overtaken {
		fast := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			return testkit.NewScriptedStream(ctx, false), nil
		}
		other, err := p.Stream()(context.Background(), desc, nil, testkit.MethodCheck, fast)
		if err != nil {
			t.Fatal(err)
		}
		if err := testkit.CloseAndRecvInBubble(other, clk, &kycv1.CheckRequest{}, new(kycv1.CheckResponse)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(4 * time.Second) // the first stream's attempt reaches its timeout
	return cs, answer, opens
}
