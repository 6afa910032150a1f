package hedge

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// wonPanicking is an observer that counts the HedgeWon events it is given and panics with
// "observer boom" on each.
type wonPanicking struct{ won atomic.Int32 }

func (o *wonPanicking) Observe(e observe.Event) {
	if e.Kind == observe.HedgeWon {
		o.won.Add(1)
		panic("observer boom")
	}
}

// hedgeWinsAndPanics lets the hedge go out after d on clk (the call waits on its timer), and
// checks that the panic the caller recovered (recovered) is the observer's, raised on the
// call's one HedgeWon.
func (o *wonPanicking) hedgeWinsAndPanics(t *testing.T, clk *clocktest.Fake, d time.Duration, recovered <-chan any) {
	t.Helper()
	clk.BlockUntil(1)
	clk.Advance(d)
	if v := <-recovered; v != "observer boom" {
		t.Fatalf("recovered %v, want the observer's panic", v)
	}
	if n := o.won.Load(); n != 1 {
		t.Fatalf("%d HedgeWon events, want 1", n)
	}
}

// winningAttempt is an attempt stream that answers at once with Score 0.2 and the trailer
// attempt: 2, then ends: a later RecvMsg returns io.EOF, as gRPC's does once a
// client-streaming call has its reply.
type winningAttempt struct {
	*testkit.ScriptedStream
	answered atomic.Bool
}

func (a *winningAttempt) RecvMsg(m any) error {
	if a.answered.Swap(true) {
		return io.EOF
	}
	m.(*kycv1.CheckResponse).Score = 0.2
	return a.ScriptedStream.RecvMsg(m)
}

func (a *winningAttempt) Trailer() metadata.MD { return metadata.Pairs("attempt", "2") }

// An observer that panics on the HedgeWon of a client stream's reply phase, sent on the
// caller's goroutine once the hedge has won, reaches the caller after the stream has taken
// the winner on: the caller's reply is the winner's, and a caller that recovers the panic and
// goes on reads the winner's stream (its end, io.EOF; its trailer; its context), not attempt
// 1's. Attempt 1's context and the replay buffer are released, the winner's context too (its
// reply is in), no timer stays armed and no further attempt is sent. The panic used to leave
// the caller on attempt 1's canceled stream.
func TestStreamHedgeWonObserverPanicKeepsTheWinner(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	obs := &wonPanicking{}
	p, err := New(Config{MaxAttempts: 3, Delay: d}, WithClock(clk), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	caller, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var (
		mu      sync.Mutex
		opened  []context.Context
		streams []grpc.ClientStream
	)
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, ctx)
		var st grpc.ClientStream = testkit.NewScriptedStream(ctx, true) // attempt 1 answers only when canceled
		if len(opened) > 1 {
			st = &winningAttempt{ScriptedStream: testkit.NewScriptedStream(ctx, false)}
		}
		streams = append(streams, st)
		return st, nil
	}
	reply := &kycv1.CheckResponse{}
	cs, recovered := receiveInto(t, caller, p, streamer, reply)
	obs.hedgeWinsAndPanics(t, clk, d, recovered)
	if got := reply.GetScore(); got != 0.2 {
		t.Errorf("the caller's reply has score %v, want the winner's 0.2", got)
	}
	// The caller goes on after recovering the panic: it reads the winner's stream.
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); !errors.Is(err, io.EOF) {
		t.Errorf("RecvMsg after the panic = %v, want the winner's io.EOF", err)
	}
	if got := cs.Trailer().Get("attempt"); len(got) != 1 || got[0] != "2" {
		t.Errorf("Trailer after the panic = %v, want the winner's", got)
	}
	mu.Lock()
	winner := streams[1]
	first, won := opened[0], opened[1]
	mu.Unlock()
	if cs.Context() != winner.Context() {
		t.Error("Context after the panic is not the winner's stream's")
	}
	if first.Err() == nil {
		t.Error("attempt 1's context is still live after HedgeWon panicked")
	}
	if won.Err() == nil {
		t.Error("the winner's context is still live once its reply is in")
	}
	s := streamOf(t, cs)
	s.mu.Lock()
	kept := len(s.buf.Msgs())
	s.mu.Unlock()
	if kept != 0 {
		t.Errorf("%d sent messages still kept for replay after HedgeWon panicked", kept)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers armed after HedgeWon panicked, want 0", n)
	}
	clk.Advance(2 * d)
	mu.Lock()
	n := len(opened)
	mu.Unlock()
	if n != 2 {
		t.Errorf("%d attempts opened, want 2: an attempt went out after the call was won", n)
	}
}

// An observer that panics on a unary call's HedgeWon, sent on the caller's goroutine once the
// hedge has won, reaches the caller after the call took the winner: the caller's reply is the
// winner's (not attempt 1's late answer), and so are the header and trailer call options.
// Attempt 1 was canceled, no timer stays armed and no further attempt is sent.
func TestHedgeWonObserverPanicKeepsTheWinnersReply(t *testing.T) {
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	obs := &wonPanicking{}
	p, err := New(Config{MaxAttempts: 3, Delay: d}, WithClock(clk), WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	arrived := make(chan int, 3)
	var first context.Context
	invoker := func(ctx context.Context, _ string, _, reply any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		n, sim := 1, float32(0.1)
		if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get(PreviousAttemptsKey)) > 0 {
			n, sim = 2, 0.2
		} else {
			first = ctx
			<-ctx.Done() // canceled as the hedge wins; its answer was on the wire already
		}
		for _, o := range opts {
			switch o := o.(type) {
			case grpc.HeaderCallOption:
				*o.HeaderAddr = metadata.Pairs("attempt", strconv.Itoa(n))
			case grpc.TrailerCallOption:
				*o.TrailerAddr = metadata.Pairs("attempt", strconv.Itoa(n))
			}
		}
		reply.(*kycv1.CompareResponse).Similarity = sim
		arrived <- n
		return nil
	}
	var header, trailer metadata.MD
	reply := &kycv1.CompareResponse{}
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, reply, nil, invoker,
			grpc.Header(&header), grpc.Trailer(&trailer))
	}()
	obs.hedgeWinsAndPanics(t, clk, d, recovered)
	if got := reply.GetSimilarity(); got != 0.2 {
		t.Errorf("the caller's reply has similarity %v, want the winner's 0.2", got)
	}
	for name, md := range map[string]metadata.MD{"header": header, "trailer": trailer} {
		if got := md.Get("attempt"); len(got) != 1 || got[0] != "2" {
			t.Errorf("the caller's %s = %v, want the winner's", name, md)
		}
	}
	if first == nil || first.Err() == nil {
		t.Error("attempt 1's context is still live after HedgeWon panicked")
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers armed after HedgeWon panicked, want 0", n)
	}
	clk.Advance(2 * d)
	if got := len(arrived); got != 2 {
		t.Errorf("%d attempts sent, want 2: an attempt went out after the call was won", got)
	}
}

// receiveInto opens a client stream of MethodCheck through p on streamer, sends one message,
// closes the send side and receives the reply into reply on a goroutine of its own. It returns
// the stream and a channel that gives the panic RecvMsg raised (nil: none) once it has
// returned.
func receiveInto(t *testing.T, ctx context.Context, p *Policy, streamer grpc.Streamer, reply *kycv1.CheckResponse) (grpc.ClientStream, <-chan any) {
	t.Helper()
	cs, err := p.Stream()(ctx, &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_ = cs.RecvMsg(reply)
	}()
	return cs, recovered
}
