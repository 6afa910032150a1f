package retry_test

import (
	"context"
	"io"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// headerAttempt is an attempt stream of a client-streaming call, as gRPC's behaves: with
// header set, its Header returns it and its RecvMsg, once gate (if any) is closed, the one
// reply, or err when set (the server failed the call after sending its header); without, the
// server ended it at once, with no header: its context has ended, Header returns nil, nil,
// SendMsg io.EOF, and RecvMsg, once gate (if any) is closed, the attempt's status err.
type headerAttempt struct {
	ctx    context.Context
	header metadata.MD
	err    error
	gate   chan struct{}
	sent   atomic.Int32 // messages accepted
	recvs  atomic.Int32 // RecvMsg calls
}

func newHeaderAttempt(ctx context.Context, header metadata.MD, err error, gate chan struct{}) *headerAttempt {
	a := &headerAttempt{ctx: ctx, header: header, err: err, gate: gate}
	if header == nil {
		ended, cancel := context.WithCancel(ctx)
		cancel()
		a.ctx = ended
	}
	return a
}

func (a *headerAttempt) Header() (metadata.MD, error) { return a.header, nil }
func (a *headerAttempt) Trailer() metadata.MD         { return nil }
func (a *headerAttempt) CloseSend() error             { return nil }
func (a *headerAttempt) Context() context.Context     { return a.ctx }

func (a *headerAttempt) SendMsg(any) error {
	if a.header == nil {
		return io.EOF
	}
	a.sent.Add(1)
	return nil
}

func (a *headerAttempt) RecvMsg(any) error {
	a.recvs.Add(1)
	if a.gate != nil {
		<-a.gate
	}
	return a.err
}

// headerStreams opens the attempts of a retry stream of p from script, by attempt (1-based),
// for a client-streaming call unless desc says otherwise.
type headerStreams struct {
	desc   *grpc.StreamDesc
	script []func(ctx context.Context) *headerAttempt
	opened []*headerAttempt
}

func (h *headerStreams) open(t *testing.T, p *retry.Policy) grpc.ClientStream {
	t.Helper()
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		a := h.script[len(h.opened)](ctx)
		h.opened = append(h.opened, a)
		return a, nil
	}
	desc := h.desc
	if desc == nil {
		desc = &grpc.StreamDesc{ClientStreams: true}
	}
	cs, err := p.Stream()(context.Background(), desc, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// inBubble runs f in a goroutine of the caller's synctest bubble, moving clk to its next timer
// whenever every goroutine of the bubble is blocked (a backoff sleep), until f has returned.
func inBubble(clk *clocktest.Fake, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	for {
		synctest.Wait()
		select {
		case <-done:
			return
		default:
			clk.AdvanceWhenWaiting()
		}
	}
}

// TestStreamHeaderRetries: before the stream commits, Header handles an attempt that ended
// without a header as grpc-go's own retries do (its Header runs under withRetry): when the
// policy retries the attempt's status, Header opens the next attempt, replays what was sent,
// and returns that attempt's header; when it does not, Header returns nil, nil, the stream is
// over, and RecvMsg returns the status. It used to return nil, nil in both cases, and the
// retried attempt's header took a second Header call, after a RecvMsg.
func TestStreamHeaderRetries(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "refused")
	want := metadata.Pairs("attempt", "2")
	t.Run("retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true}, retry.WithClock(clk), retry.WithRand(seq(0.5)))
			if err != nil {
				t.Fatal(err)
			}
			h := &headerStreams{script: []func(context.Context) *headerAttempt{
				func(ctx context.Context) *headerAttempt { return newHeaderAttempt(ctx, nil, unavailable, nil) },
				func(ctx context.Context) *headerAttempt { return newHeaderAttempt(ctx, want, nil, nil) },
			}}
			cs := h.open(t, p)
			if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
				t.Fatal(err)
			}
			if err := cs.CloseSend(); err != nil {
				t.Fatal(err)
			}
			var (
				md   metadata.MD
				herr error
			)
			inBubble(clk, func() { md, herr = cs.Header() })
			if herr != nil || attemptInHeader(md) != "2" {
				t.Fatalf("Header = %v, %v; want attempt 2's header", md, herr)
			}
			if got := len(h.opened); got != 2 {
				t.Fatalf("%d attempts opened, want 2", got)
			}
			if got := h.opened[1].sent.Load(); got != 1 {
				t.Fatalf("attempt 2 got %d messages, want the 1 sent, replayed", got)
			}
			if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != nil {
				t.Fatalf("RecvMsg = %v, want attempt 2's reply", err)
			}
			if got := h.opened[0].recvs.Load(); got != 1 {
				t.Fatalf("attempt 1 received %d times, want once (its status)", got)
			}
		})
	})
	t.Run("not retried", func(t *testing.T) {
		invalid := status.Error(grpccodes.InvalidArgument, "bad frame")
		p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true})
		if err != nil {
			t.Fatal(err)
		}
		h := &headerStreams{script: []func(context.Context) *headerAttempt{
			func(ctx context.Context) *headerAttempt { return newHeaderAttempt(ctx, nil, invalid, nil) },
		}}
		cs := h.open(t, p)
		if md, err := cs.Header(); md != nil || err != nil {
			t.Fatalf("Header = %v, %v; want nil, nil (the status is RecvMsg's), as gRPC's", md, err)
		}
		if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.InvalidArgument {
			t.Fatalf("RecvMsg = %v, want attempt 1's InvalidArgument", err)
		}
		if got := len(h.opened); got != 1 {
			t.Fatalf("%d attempts opened, want 1", got)
		}
	})
	t.Run("ended well", func(t *testing.T) {
		// A server stream the server ended at once with OK, no header and no message.
		p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true})
		if err != nil {
			t.Fatal(err)
		}
		h := &headerStreams{desc: &grpc.StreamDesc{ServerStreams: true}, script: []func(context.Context) *headerAttempt{
			func(ctx context.Context) *headerAttempt { return newHeaderAttempt(ctx, nil, io.EOF, nil) },
		}}
		cs := h.open(t, p)
		if md, err := cs.Header(); md != nil || err != nil {
			t.Fatalf("Header = %v, %v; want nil, nil", md, err)
		}
		for range 2 {
			if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != io.EOF {
				t.Fatalf("RecvMsg = %v, want io.EOF", err)
			}
		}
		if cs.Context().Err() == nil {
			t.Fatal("the stream's context is live after its end")
		}
		if got := len(h.opened); got != 1 {
			t.Fatalf("%d attempts opened, want 1", got)
		}
	})
}

// TestStreamHeaderAndRecvMsgTakeTurns: before the stream commits, a Header and a RecvMsg
// running together on an attempt that ended without a header retry it once between them,
// whichever started first: the other waits, and goes on with the attempt the retry opened.
// Header returns that attempt's header, RecvMsg its reply, and the failed attempt's status is
// received once.
func TestStreamHeaderAndRecvMsgTakeTurns(t *testing.T) {
	for _, headerFirst := range []bool{false, true} {
		name := "RecvMsg first"
		if headerFirst {
			name = "Header first"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Now())
				p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true}, retry.WithClock(clk), retry.WithRand(seq(0.5)))
				if err != nil {
					t.Fatal(err)
				}
				gate := make(chan struct{})
				want := metadata.Pairs("attempt", "2")
				h := &headerStreams{script: []func(context.Context) *headerAttempt{
					func(ctx context.Context) *headerAttempt {
						return newHeaderAttempt(ctx, nil, status.Error(grpccodes.Unavailable, "refused"), gate)
					},
					func(ctx context.Context) *headerAttempt { return newHeaderAttempt(ctx, want, nil, nil) },
				}}
				cs := h.open(t, p)
				if err := cs.CloseSend(); err != nil {
					t.Fatal(err)
				}
				var (
					md   metadata.MD
					herr error
				)
				recvErr := make(chan error, 1)
				headerDone := make(chan struct{})
				recv := func() { recvErr <- cs.RecvMsg(new(kycv1.CheckResponse)) }
				header := func() {
					defer close(headerDone)
					md, herr = cs.Header()
				}
				first, second := recv, header
				if headerFirst {
					first, second = header, recv
				}
				go first()
				synctest.Wait() // the first receives attempt 1's status, held at the gate
				go second()
				synctest.Wait() // the second waits for it
				close(gate)
				inBubble(clk, func() {
					<-headerDone
					if err := <-recvErr; err != nil {
						t.Errorf("RecvMsg = %v, want attempt 2's reply", err)
					}
				})
				if herr != nil || attemptInHeader(md) != "2" {
					t.Fatalf("Header = %v, %v; want attempt 2's header", md, herr)
				}
				if got := len(h.opened); got != 2 {
					t.Fatalf("%d attempts opened, want 2", got)
				}
				if got := h.opened[0].recvs.Load(); got != 1 {
					t.Fatalf("attempt 1 received %d times, want once", got)
				}
			})
		})
	}
}

// TestStreamHeaderRetriesOverGRPC: over gRPC, a Check stream whose first attempt the server
// fails at once (no header, a trailers-only Unavailable) gets the second attempt's header from
// one Header call, and its reply.
func TestStreamHeaderRetriesOverGRPC(t *testing.T) {
	s := newSetup(t, retry.Config{Jitter: retry.JitterNone}, 0)
	srv := testkit.Start(t, &testkit.Server{CheckF: func(call int, st kycv1.LivenessService_CheckServer) error {
		if call == 1 {
			return status.Error(grpccodes.Unavailable, "GPU restarting")
		}
		if err := st.SendHeader(metadata.Pairs("attempt", "2")); err != nil {
			return err
		}
		return testkit.DrainCheck(st, 0.9)
	}})
	cs := checkSent(t, s, srv)
	md, err := cs.Header()
	if err != nil || attemptInHeader(md) != "2" {
		t.Fatalf("Header = %v, %v; want the second attempt's header", md, err)
	}
	resp, err := cs.CloseAndRecv()
	s.drv.stop()
	if err != nil || resp.GetFramesAnalyzed() != 1 {
		t.Fatalf("CloseAndRecv = %v, %v; want the second attempt's reply of 1 frame", resp, err)
	}
	if got := srv.Frames(); len(got) != 2 {
		t.Fatalf("%d attempts reached the server, want 2", len(got))
	}
}

// TestStreamHeaderCommits: a header the caller has read commits the stream to its attempt, as
// grpc-go's Header does (gRFC A6 commits on response headers): the caller never gets one
// attempt's header and another's messages. The server sends attempt 1's header, then fails
// the call with Unavailable; attempt 2 would answer. A caller that read attempt 1's header
// gets its Unavailable, with one attempt sent and reported; one that did not read it gets
// attempt 2's reply (the stream had not committed: no message had arrived). Over gRPC.
func TestStreamHeaderCommits(t *testing.T) {
	for _, read := range []bool{true, false} {
		name := "header read"
		if !read {
			name = "header not read"
		}
		t.Run(name, func(t *testing.T) {
			s := newSetup(t, retry.Config{Jitter: retry.JitterNone}, 0)
			srv := testkit.Start(t, &testkit.Server{CheckF: func(call int, st kycv1.LivenessService_CheckServer) error {
				if err := st.SendHeader(metadata.Pairs("attempt", strconv.Itoa(call))); err != nil {
					return err
				}
				if call == 1 {
					return status.Error(grpccodes.Unavailable, "GPU restarting")
				}
				return testkit.DrainCheck(st, 0.9)
			}})
			cs := checkSent(t, s, srv)
			if read {
				md, err := cs.Header()
				if err != nil || attemptInHeader(md) != "1" {
					t.Fatalf("Header = %v, %v; want attempt 1's header", md, err)
				}
			}
			resp, err := cs.CloseAndRecv()
			s.drv.stop()
			wantAttempts, wantCodes := 2, []grpccodes.Code{grpccodes.Unavailable, grpccodes.OK}
			if read {
				wantAttempts, wantCodes = 1, []grpccodes.Code{grpccodes.Unavailable}
				if status.Code(err) != grpccodes.Unavailable {
					t.Fatalf("CloseAndRecv = %v, %v; want attempt 1's Unavailable", resp, err)
				}
			} else if err != nil || resp.GetFramesAnalyzed() != 1 {
				t.Fatalf("CloseAndRecv = %v, %v; want attempt 2's reply", resp, err)
			}
			if got := len(srv.Frames()); got != wantAttempts {
				t.Fatalf("%d attempts reached the server, want %d", got, wantAttempts)
			}
			var codes []grpccodes.Code
			for _, e := range s.rec.Events(observe.AttemptFinished) {
				codes = append(codes, e.Code)
			}
			if !slices.Equal(codes, wantCodes) {
				t.Fatalf("AttemptFinished codes = %v, want %v", codes, wantCodes)
			}
			if got := s.rec.Count(observe.RetryScheduled); got != wantAttempts-1 {
				t.Fatalf("%d RetryScheduled, want %d", got, wantAttempts-1)
			}
		})
	}
}

// TestStreamHeaderCommitsDuringTheBackoff: a RecvMsg's attempt failed after its header, and the
// stream sleeps its backoff before attempt 2; a Header read meanwhile returns attempt 1's
// header and commits the stream, which then ends with attempt 1's failure: attempt 2 is never
// opened, and the failure is reported once.
func TestStreamHeaderCommitsDuringTheBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Now())
		rec := &testkit.Recorder{}
		p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true}, retry.WithClock(clk), retry.WithRand(seq(0.5)), retry.WithObserver(rec))
		if err != nil {
			t.Fatal(err)
		}
		unavailable := status.Error(grpccodes.Unavailable, "GPU restarting")
		h := &headerStreams{script: []func(context.Context) *headerAttempt{
			func(ctx context.Context) *headerAttempt {
				return newHeaderAttempt(ctx, metadata.Pairs("attempt", "1"), unavailable, nil)
			},
			func(ctx context.Context) *headerAttempt {
				return newHeaderAttempt(ctx, metadata.Pairs("attempt", "2"), nil, nil)
			},
		}}
		cs := h.open(t, p)
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		recvErr := make(chan error, 1)
		go func() { recvErr <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
		synctest.Wait() // RecvMsg got attempt 1's failure and sleeps its backoff
		if got := rec.Count(observe.RetryScheduled); got != 1 {
			t.Fatalf("%d RetryScheduled before Header, want 1 (the backoff under way)", got)
		}
		md, err := cs.Header()
		if err != nil || attemptInHeader(md) != "1" {
			t.Fatalf("Header = %v, %v; want attempt 1's header", md, err)
		}
		clk.Advance(time.Minute)
		if err := <-recvErr; status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("RecvMsg = %v, want attempt 1's Unavailable", err)
		}
		if got := len(h.opened); got != 1 {
			t.Fatalf("%d attempts opened, want 1", got)
		}
		if got := rec.Count(observe.AttemptFinished); got != 1 {
			t.Fatalf("%d AttemptFinished, want 1", got)
		}
		if err := cs.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("second RecvMsg = %v, want the stream's end again", err)
		}
		if cs.Context().Err() == nil {
			t.Fatal("the stream's context is live after its end")
		}
		if clk.Timers() != 0 {
			t.Fatal("a timer is left armed")
		}
	})
}

// checkSent opens a Check stream to srv through s's policy and sends it frame 0; a send that
// meets the attempt's end (io.EOF) is kept for the replay, as the package says.
func checkSent(t *testing.T, s *setup, srv *testkit.Server) kycv1.LivenessService_CheckClient {
	t.Helper()
	cs, err := kycv1.NewLivenessServiceClient(s.dial(t, srv)).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Send(&kycv1.CheckRequest{Index: 0}); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return cs
}

// attemptInHeader returns the one "attempt" value of the header md, or "" when it has none or
// more than one.
func attemptInHeader(md metadata.MD) string {
	if v := md.Get("attempt"); len(v) == 1 {
		return v[0]
	}
	return ""
}
