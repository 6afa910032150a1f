package hedge_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// check drains every frame of a Check stream, then runs the act of its attempt (so that the
// attempt "arrives" once the client has closed its side) and answers Score attempt/10.
func (s *stub) check(_ int, st kycv1.LivenessService_CheckServer) error {
	for {
		if _, err := st.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
	}
	n, err := s.handle(st.Context())
	if err != nil {
		return err
	}
	return st.SendAndClose(&kycv1.CheckResponse{Score: float32(n) / 10})
}

// TestStream hedges the client-streaming liveness Check: hedges replay every frame, in order,
// and the first reply wins.
func TestStream(t *testing.T) {
	tests := []struct {
		name         string
		frames       int
		size         int // bytes per frame
		replay       int // Config.ReplayBufferBytes
		acts         map[int]act
		steps        []int
		wantAttempts int
		wantWinner   int
		wantCode     grpccodes.Code
		wantReasons  []string
		wantCanceled []int
	}{
		{name: "first answers", frames: 5, size: 100, acts: map[int]act{1: ok},
			wantAttempts: 1, wantWinner: 1},
		{name: "hedge wins after the delay", frames: 5, size: 100, acts: map[int]act{1: hang, 2: ok}, steps: []int{1},
			wantAttempts: 2, wantWinner: 2, wantReasons: []string{"delay"}, wantCanceled: []int{1}},
		{name: "a failure after the hedge went: the hedge answers", frames: 5, size: 100,
			acts: map[int]act{1: {wait: 2, code: grpccodes.Unavailable}, 2: {hold: true}}, steps: []int{1},
			wantAttempts: 2, wantWinner: 2, wantReasons: []string{"delay"}},
		{name: "over the replay buffer: not hedged", frames: 3, size: 100 << 10, acts: map[int]act{1: unavailable, 2: ok},
			wantAttempts: 1, wantCode: grpccodes.Unavailable},
		{name: "over a configured replay buffer: not hedged", frames: 5, size: 100, replay: 300, acts: map[int]act{1: unavailable, 2: ok},
			wantAttempts: 1, wantCode: grpccodes.Unavailable},
		{name: "replay buffer off: not hedged", frames: 1, size: 1, replay: -1, acts: map[int]act{1: unavailable, 2: ok},
			wantAttempts: 1, wantCode: grpccodes.Unavailable},
		{name: "within a larger configured replay buffer: hedged", frames: 3, size: 100 << 10, replay: 1 << 20,
			acts: map[int]act{1: hang, 2: ok}, steps: []int{1},
			wantAttempts: 2, wantWinner: 2, wantReasons: []string{"delay"}, wantCanceled: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t, hedge.Config{Delay: delay, ReplayBufferBytes: tt.replay})
			st := newStub(tt.acts)
			srv := testkit.Start(t, &testkit.Server{CheckF: st.check})
			client := kycv1.NewLivenessServiceClient(s.dial(t, srv))
			type result struct {
				resp *kycv1.CheckResponse
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := func() (*kycv1.CheckResponse, error) {
					cs, err := client.Check(context.Background())
					if err != nil {
						return nil, err
					}
					for i := range tt.frames {
						if err := cs.Send(&kycv1.CheckRequest{Index: uint32(i), Image: make([]byte, tt.size)}); err != nil {
							return nil, err
						}
					}
					return cs.CloseAndRecv()
				}()
				done <- result{resp, err}
			}()
			for _, n := range tt.steps {
				<-st.arrival(n)
				s.clk.BlockUntil(1)
				s.clk.Advance(delay)
			}
			// As in TestUnary: a hedge that answered at once could win before the attempt that
			// waits for it is scheduled, which would then see a cancellation instead of answering.
			st.releaseHeld(t, tt.wantAttempts)
			r := <-done
			st.settle(t)
			if got := status.Code(r.err); got != tt.wantCode {
				t.Fatalf("code = %v, want %v (%v)", got, tt.wantCode, r.err)
			}
			if tt.wantCode == grpccodes.OK && r.resp.GetScore() != float32(tt.wantWinner)/10 {
				t.Fatalf("reply from attempt %v, want %d", r.resp.GetScore()*10, tt.wantWinner)
			}
			if got := srv.Calls(testkit.MethodCheck); got != tt.wantAttempts {
				t.Fatalf("attempts = %d, want %d", got, tt.wantAttempts)
			}
			want := make([]uint32, tt.frames)
			for i := range want {
				want[i] = uint32(i)
			}
			for i, f := range srv.Frames() {
				if !slices.Equal(f, want) {
					t.Fatalf("call %d received frames %v, want %v", i+1, f, want)
				}
			}
			if got := s.reasons(); !slices.Equal(got, tt.wantReasons) {
				t.Fatalf("hedge reasons = %v, want %v", got, tt.wantReasons)
			}
			if got := st.canceledAttempts(); !slices.Equal(got, tt.wantCanceled) {
				t.Fatalf("server saw canceled %v, want %v", got, tt.wantCanceled)
			}
			if tt.wantWinner > 1 && s.winner(t) != tt.wantWinner {
				t.Fatalf("HedgeWon = %d, want %d", s.winner(t), tt.wantWinner)
			}
			if s.clk.Timers() != 0 {
				t.Fatal("timer left armed")
			}
		})
	}
}

// fakeStream is a grpc.ClientStream that only knows its identity.
type fakeStream struct{ grpc.ClientStream }

// TestStreamPassThrough: streams that are not hedged are the streamer's own, untouched.
func TestStreamPassThrough(t *testing.T) {
	tests := []struct {
		name string
		desc grpc.StreamDesc
		opts []grpc.CallOption
	}{
		{name: "server streaming", desc: grpc.StreamDesc{ServerStreams: true}},
		{name: "bidirectional", desc: grpc.StreamDesc{ServerStreams: true, ClientStreams: true}},
		{name: "client streaming, disabled", desc: grpc.StreamDesc{ClientStreams: true}, opts: []grpc.CallOption{hedge.Disable()}},
		{name: "client streaming, not idempotent", desc: grpc.StreamDesc{ClientStreams: true}, opts: []grpc.CallOption{hedge.WithIdempotent(false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t, hedge.Config{})
			want := &fakeStream{}
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return want, nil
			}
			got, err := s.p.Stream()(context.Background(), &tt.desc, nil, testkit.MethodCheck, streamer, tt.opts...)
			if err != nil || got != grpc.ClientStream(want) {
				t.Fatalf("stream %T (%v), want the streamer's own", got, err)
			}
			if len(s.rec.Events()) != 0 {
				t.Fatal("events for a pass-through stream")
			}
		})
	}
}

// TestStreamEvents: a hedged stream's attempts are reported like a unary call's.
func TestStreamEvents(t *testing.T) {
	s := newSetup(t, hedge.Config{Delay: delay})
	st := newStub(map[int]act{1: hang, 2: ok})
	srv := testkit.Start(t, &testkit.Server{CheckF: st.check})
	cs, err := kycv1.NewLivenessServiceClient(s.dial(t, srv)).Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Send(&kycv1.CheckRequest{Index: 0}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := cs.CloseAndRecv()
		done <- err
	}()
	<-st.arrival(1)
	s.clk.BlockUntil(1)
	s.clk.Advance(delay)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st.settle(t)
	// Both attempts are reported, the winning hedge and the canceled first one.
	// (The winner cancels the first attempt before its own event is sent: either may come first.)
	fin := s.rec.Events(observe.AttemptFinished)
	if len(fin) == 2 && fin[0].Attempt == 1 {
		fin[0], fin[1] = fin[1], fin[0]
	}
	if len(fin) != 2 || fin[0].Attempt != 2 || fin[0].Code != grpccodes.OK ||
		fin[0].Method != testkit.MethodCheck || fin[0].Policy != observe.PolicyHedge ||
		fin[1].Attempt != 1 || fin[1].Code != grpccodes.Canceled {
		t.Fatalf("AttemptFinished = %+v", fin)
	}
	if !slices.Equal(srv.Metadata(testkit.MethodCheck)[1].Get(hedge.PreviousAttemptsKey), []string{"1"}) {
		t.Fatal("the stream's hedge lacks grpc-previous-rpc-attempts")
	}
	if cs.Trailer() == nil {
		t.Fatal("no trailer from the winner")
	}
}

// TestStreamOpenPanicReleasesTheContext: when the streamer panics as a hedged stream opens,
// the panic reaches the caller and the context made for attempt 1 is released with it,
// instead of staying among the caller's context's children until that context ends.
func TestStreamOpenPanicReleasesTheContext(t *testing.T) {
	s := newSetup(t, hedge.Config{})
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	var opened context.Context
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opened = ctx
		panic("boom")
	}
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want the streamer's panic", v)
			}
		}()
		_, _ = s.p.Stream()(caller, &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	}()
	if opened == nil || opened == caller {
		t.Fatal("the stream was not hedged: the streamer got the caller's context")
	}
	if opened.Err() == nil {
		t.Fatal("attempt 1's context is still live after the streamer panicked")
	}
}
