package hedge_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// slowAttempt is an attempt stream whose header and reply never come: Header and RecvMsg wait
// for its context to end, and Header then returns nil, nil, as gRPC's does for a stream that
// ended without a header.
type slowAttempt struct{ *testkit.ScriptedStream }

func (a slowAttempt) Header() (metadata.MD, error) {
	<-a.Context().Done()
	return nil, nil
}

func (a slowAttempt) RecvMsg(any) error {
	<-a.Context().Done()
	return status.FromContextError(a.Context().Err()).Err()
}

// fastAttempt is an attempt stream that answers at once, with header.
type fastAttempt struct {
	*testkit.ScriptedStream
	header metadata.MD
}

func (a fastAttempt) Header() (metadata.MD, error) { return a.header, nil }

// TestStreamHeaderUnderRetryGetsTheWinners: a client stream hedged inside a retry loop (the
// suite's arrangement), whose caller waits for the header while CloseAndRecv runs. Attempt 1
// is slow; its hedge answers, with a header, and wins; attempt 1, canceled, ends without a
// header. Header returns the winner's header: it used to return attempt 1's nil, nil.
func TestStreamHeaderUnderRetryGetsTheWinners(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Now())
		headerOfTheWinner(t, clk, hedgedStream(t, clk, true))
	})
}

// TestStreamHeaderGetsTheWinners: as TestStreamHeaderUnderRetryGetsTheWinners, with the
// hedging policy alone: a Header waiting on attempt 1 while a hedge wins the reply phase
// returns the winner's header, not attempt 1's nil, nil (canceled without a header).
func TestStreamHeaderGetsTheWinners(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Now())
		headerOfTheWinner(t, clk, hedgedStream(t, clk, false))
	})
}

// headerOfTheWinner opens a client stream through open over attempts of which the first is
// slow and its hedges answer at once with a header; sends, closes the send side and calls
// RecvMsg and Header at once, each on a goroutine of its own (in a synctest bubble, with
// clk the policies' clock), lets the hedge delay pass, and checks that RecvMsg gets the
// hedge's reply and Header the hedge's header.
func headerOfTheWinner(t *testing.T, clk *clocktest.Fake, open func(bottom grpc.Streamer) (grpc.ClientStream, error)) {
	t.Helper()
	headerOfTheWinnerOver(t, clk, open, func(ctx context.Context) grpc.ClientStream {
		return slowAttempt{testkit.NewScriptedStream(ctx, false)}
	})
}

// headerOfTheWinnerOver is headerOfTheWinner with attempt 1 opened by first, which is slow to
// reply. RecvMsg starts the reply phase before Header is called.
func headerOfTheWinnerOver(t *testing.T, clk *clocktest.Fake, open func(bottom grpc.Streamer) (grpc.ClientStream, error), first func(context.Context) grpc.ClientStream) {
	t.Helper()
	want := metadata.Pairs("attempt", "2")
	bottom := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(hedge.PreviousAttemptsKey)) > 0 {
			return fastAttempt{testkit.NewScriptedStream(ctx, false), want}, nil
		}
		return first(ctx), nil
	}
	cs := sentAndClosed(t, open, bottom)
	recvErr := make(chan error, 1)
	go func() { recvErr <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
	synctest.Wait() // the reply phase waits for the hedge delay
	var (
		md   metadata.MD
		herr error
	)
	headerDone := make(chan struct{})
	go func() {
		defer close(headerDone)
		md, herr = cs.Header()
	}()
	synctest.Wait() // both wait for attempt 1 (or, Header, for the reply phase)
	clk.Advance(delay)
	<-headerDone
	if err := <-recvErr; err != nil {
		t.Fatalf("RecvMsg = %v, want the hedge's reply", err)
	}
	if herr != nil || attemptInHeader(md) != "2" {
		t.Fatalf("Header = %v, %v; want the winning hedge's header", md, herr)
	}
}

// headedAttempt is an attempt stream that sends its header at once and its reply when gate is
// closed, or ends with its context (canceled: it lost) when gate is nil.
type headedAttempt struct {
	*testkit.ScriptedStream
	header metadata.MD
	gate   chan struct{}
}

func (a *headedAttempt) Header() (metadata.MD, error) { return a.header, nil }

func (a *headedAttempt) RecvMsg(m any) error {
	select {
	case <-a.gate:
		return a.ScriptedStream.RecvMsg(m)
	case <-a.Context().Done():
		return status.FromContextError(a.Context().Err()).Err()
	}
}

// TestStreamHeaderCommitsToAttemptOne: a caller that reads attempt 1's header before
// CloseAndRecv (after CloseSend) has committed the stream to attempt 1, as a retry stream's
// Header commits it: attempt 1 is slow to reply, and the hedge delay passes, but no hedge is
// sent, and the reply is attempt 1's. The old Header left the reply phase hedged: a hedge
// answered, and the caller got attempt 1's header with the hedge's reply. With the hedging
// policy alone, and under a retry loop (the suite's arrangement).
func TestStreamHeaderCommitsToAttemptOne(t *testing.T) {
	for _, underRetry := range []bool{false, true} {
		name := "alone"
		if underRetry {
			name = "under retry"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := clocktest.New(time.Now())
				open := hedgedStream(t, clk, underRetry)
				gate := make(chan struct{})
				var opened atomic.Int32
				bottom := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
					n := opened.Add(1)
					return &headedAttempt{testkit.NewScriptedStream(ctx, false), metadata.Pairs("attempt", strconv.Itoa(int(n))), gate}, nil
				}
				cs := sentAndClosed(t, open, bottom)
				md, err := cs.Header()
				if err != nil || attemptInHeader(md) != "1" {
					t.Fatalf("Header = %v, %v; want attempt 1's header", md, err)
				}
				recvErr := make(chan error, 1)
				go func() { recvErr <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
				synctest.Wait()
				clk.Advance(10 * delay)
				synctest.Wait()
				if got := opened.Load(); got != 1 {
					t.Errorf("%d attempts opened, want attempt 1 alone", got)
				}
				close(gate)
				if err := <-recvErr; err != nil {
					t.Fatalf("RecvMsg = %v, want attempt 1's reply", err)
				}
				if md, err := cs.Header(); err != nil || attemptInHeader(md) != "1" {
					t.Fatalf("Header after the reply = %v, %v; want attempt 1's", md, err)
				}
			})
		})
	}
}

// TestStreamHeaderDuringTheReplyGetsTheWinners: a Header called while the reply phase runs,
// on an attempt 1 that has sent its header but is slow to reply, waits for the phase and
// returns the header of the winner, a hedge, whose reply the caller gets (headerOfTheWinner).
// The old Header returned attempt 1's header at once, which the caller then paired with the
// hedge's reply.
func TestStreamHeaderDuringTheReplyGetsTheWinners(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clocktest.New(time.Now())
		headerOfTheWinnerOver(t, clk, hedgedStream(t, clk, false), func(ctx context.Context) grpc.ClientStream {
			return &headedAttempt{testkit.NewScriptedStream(ctx, false), metadata.Pairs("attempt", "1"), nil}
		})
	})
}

// hedgedStream returns a func that opens a client stream hedged by a policy on clk (delay),
// under a retry loop of 3 attempts if underRetry, over the attempts bottom opens.
func hedgedStream(t *testing.T, clk *clocktest.Fake, underRetry bool) func(bottom grpc.Streamer) (grpc.ClientStream, error) {
	t.Helper()
	hp, err := hedge.New(hedge.Config{Delay: delay}, hedge.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	if !underRetry {
		return func(bottom grpc.Streamer) (grpc.ClientStream, error) {
			return hp.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, bottom)
		}
	}
	rp, err := retry.New(retry.Config{MaxAttempts: 3}, retry.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	return func(bottom grpc.Streamer) (grpc.ClientStream, error) {
		hedged := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return hp.Stream()(ctx, desc, cc, method, bottom, opts...)
		}
		return rp.Stream()(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, hedged)
	}
}

// sentAndClosed opens a client stream with open over the attempts bottom opens, sends it one
// frame and closes its send side.
func sentAndClosed(t *testing.T, open func(bottom grpc.Streamer) (grpc.ClientStream, error), bottom grpc.Streamer) grpc.ClientStream {
	t.Helper()
	cs, err := open(bottom)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
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
