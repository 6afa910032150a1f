package hedge

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// panickingStream is a stream whose RecvMsg panics with "boom".
type panickingStream struct{ *testkit.ScriptedStream }

func (panickingStream) RecvMsg(any) error { panic("boom") }

// sendPanickingStream is a stream whose SendMsg panics with "boom".
type sendPanickingStream struct{ *testkit.ScriptedStream }

func (sendPanickingStream) SendMsg(any) error { panic("boom") }

// openPanicking opens a client stream of a hedging policy whose attempts are wrap's streams,
// under a context the test cancels at its end, and returns it with attempt 1's context.
func openPanicking(t *testing.T, wrap func(*testkit.ScriptedStream) grpc.ClientStream) (grpc.ClientStream, func() context.Context) {
	t.Helper()
	p, _ := hedged(t, Config{})
	caller, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var opened context.Context
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opened = ctx
		return wrap(testkit.NewScriptedStream(ctx, false)), nil
	}
	cs, err := p.Stream()(caller, &grpc.StreamDesc{ClientStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	return cs, func() context.Context {
		if opened == nil || opened == caller {
			t.Fatal("the stream was not hedged: the streamer got the caller's context")
		}
		return opened
	}
}

// panicsAndReleases runs call, which must panic with attempt 1's "boom" (what: the method
// that panics), then checks that cs released what it held for hedging: attempt 1's context
// and the replay buffer.
func panicsAndReleases(t *testing.T, cs grpc.ClientStream, opened func() context.Context, what string, call func()) {
	t.Helper()
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want attempt 1's panic", v)
			}
		}()
		call()
	}()
	if opened().Err() == nil {
		t.Errorf("attempt 1's context is still live after its %s panicked", what)
	}
	s := streamOf(t, cs)
	s.mu.Lock()
	kept := len(s.buf.Msgs())
	s.mu.Unlock()
	if kept != 0 {
		t.Errorf("%d sent messages still kept for replay after attempt 1's %s panicked", kept, what)
	}
}

// When attempt 1's RecvMsg panics on the path that sends no hedge (the caller receives before
// closing the send side), the panic reaches the caller and the stream releases what it held
// for hedging, as the hedged path does: attempt 1's context, which would otherwise stay among
// the caller's context's children until that context ends, and the replay buffer.
func TestStreamRecvPanicUnhedgedReleases(t *testing.T) {
	cs, opened := openPanicking(t, func(s *testkit.ScriptedStream) grpc.ClientStream { return panickingStream{s} })
	if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
		t.Fatal(err)
	}
	panicsAndReleases(t, cs, opened, "RecvMsg", func() {
		_ = cs.RecvMsg(&kycv1.CheckResponse{}) // the send side is open: no hedge
	})
}

// When attempt 1's SendMsg panics, the panic reaches the caller and the stream releases what
// it held for hedging, as for a panic of its RecvMsg: attempt 1's context and the replay
// buffer.
func TestStreamSendPanicReleases(t *testing.T) {
	cs, opened := openPanicking(t, func(s *testkit.ScriptedStream) grpc.ClientStream { return sendPanickingStream{s} })
	panicsAndReleases(t, cs, opened, "SendMsg", func() { _ = cs.SendMsg(&kycv1.CheckRequest{Index: 0}) })
}

// headerPanickingStream is a stream whose Header panics with "boom".
type headerPanickingStream struct{ *testkit.ScriptedStream }

func (headerPanickingStream) Header() (metadata.MD, error) { panic("boom") }

// trailerPanickingStream is a stream whose Trailer panics with "boom".
type trailerPanickingStream struct{ *testkit.ScriptedStream }

func (trailerPanickingStream) Trailer() metadata.MD { panic("boom") }

// closeSendPanickingStream is a stream whose CloseSend panics with "boom".
type closeSendPanickingStream struct{ *testkit.ScriptedStream }

func (closeSendPanickingStream) CloseSend() error { panic("boom") }

// failedTrailerPanickingStream is a stream that fails with Unavailable and whose Trailer,
// which the hedged reply phase reads for the server's pushback, panics with "boom".
type failedTrailerPanickingStream struct{ *testkit.ScriptedStream }

func (failedTrailerPanickingStream) RecvMsg(any) error {
	return status.Error(grpccodes.Unavailable, "down")
}

func (failedTrailerPanickingStream) Trailer() metadata.MD { panic("boom") }

// When attempt 1's Header, Trailer or CloseSend panics, the panic reaches the caller and the
// stream releases what it held for hedging, as for a panic of its SendMsg or RecvMsg: attempt
// 1's context and the replay buffer. So does a panic of attempt 1's Trailer read by the
// hedged reply phase after its receive failed, once the phase has stopped its hedges.
func TestStreamMetadataPanicReleases(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*testkit.ScriptedStream) grpc.ClientStream
		call func(grpc.ClientStream)
	}{
		{"Header", func(s *testkit.ScriptedStream) grpc.ClientStream { return headerPanickingStream{s} },
			func(cs grpc.ClientStream) { _, _ = cs.Header() }},
		{"Trailer", func(s *testkit.ScriptedStream) grpc.ClientStream { return trailerPanickingStream{s} },
			func(cs grpc.ClientStream) { _ = cs.Trailer() }},
		{"CloseSend", func(s *testkit.ScriptedStream) grpc.ClientStream { return closeSendPanickingStream{s} },
			func(cs grpc.ClientStream) { _ = cs.CloseSend() }},
		{"RecvMsgTrailer", func(s *testkit.ScriptedStream) grpc.ClientStream { return failedTrailerPanickingStream{s} },
			func(cs grpc.ClientStream) {
				if err := cs.CloseSend(); err != nil { // the send side is closed: the reply phase is hedged
					t.Fatal(err)
				}
				_ = cs.RecvMsg(&kycv1.CheckResponse{})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, opened := openPanicking(t, tc.wrap)
			if err := cs.SendMsg(&kycv1.CheckRequest{Index: 0}); err != nil {
				t.Fatal(err)
			}
			panicsAndReleases(t, cs, opened, tc.name, func() { tc.call(cs) })
		})
	}
}

// A hedge of a client stream whose Trailer panics, read on the hedge's goroutine once its
// receive returned, makes the caller's RecvMsg panic, as a panic of the hedge's receive does,
// once attempt 1 has been canceled and the stream released; the panic used to be raised in
// the hedge's goroutine, which killed the process.
func TestStreamHedgeTrailerPanicReachesTheCaller(t *testing.T) {
	const d = 10 * time.Millisecond
	p, clk := hedged(t, Config{MaxAttempts: 2, Delay: d})
	var (
		mu     sync.Mutex
		opened []context.Context
	)
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, ctx)
		if len(opened) == 1 {
			return testkit.NewScriptedStream(ctx, true), nil // attempt 1 answers only when canceled
		}
		return trailerPanickingStream{testkit.NewScriptedStream(ctx, false)}, nil
	}
	_, recovered := receiveOne(t, context.Background(), p, streamer)
	clk.BlockUntil(1)
	clk.Advance(d)
	if v := <-recovered; v != "boom" {
		t.Fatalf("recovered %v, want the hedge's panic", v)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(opened) != 2 {
		t.Fatalf("%d attempts opened, want 2", len(opened))
	}
	if opened[0].Err() == nil {
		t.Error("attempt 1's context is still live after the hedge's Trailer panicked")
	}
}
