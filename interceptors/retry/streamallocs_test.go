package retry

import (
	"context"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// okStream is a client stream that takes every message and answers the one reply: one value
// serves every stream, so that what a stream costs is the retry's own.
type okStream struct {
	grpc.ClientStream
	ctx   context.Context
	sends int
}

func (s *okStream) Context() context.Context { return s.ctx }
func (s *okStream) SendMsg(any) error        { s.sends++; return nil }
func (s *okStream) CloseSend() error         { return nil }
func (s *okStream) RecvMsg(any) error        { return nil }

// TestStreamAllocs pins what a successful client stream (kyc.v1.LivenessService/Check: n
// messages sent, the send side closed, one reply) allocates through the retry stream
// interceptor, per stream and per message, over a stream below it that allocates nothing:
// with no per-attempt timeout, and with one (the ml profile's).
func TestStreamAllocs(t *testing.T) {
	ctx := context.Background()
	below := &okStream{ctx: ctx}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return below, nil
	}
	desc := &grpc.StreamDesc{ClientStreams: true}
	msgs := make([]*kycv1.CheckRequest, 32)
	for i := range msgs {
		msgs[i] = &kycv1.CheckRequest{Index: uint32(i), Image: make([]byte, 64)}
	}
	reply := new(kycv1.CheckResponse)
	opts := []grpc.CallOption{grpc.WaitForReady(false)}
	allocs := func(ic grpc.StreamClientInterceptor, n int) float64 {
		run := func() {
			cs, err := ic(ctx, desc, nil, "/kyc.v1.LivenessService/Check", streamer, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs[:n] {
				if err := cs.SendMsg(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := cs.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if err := cs.RecvMsg(reply); err != nil {
				t.Fatal(err)
			}
		}
		for range 300 { // Fills the pools and the runtime's caches.
			run()
		}
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		got := testing.AllocsPerRun(100, run)
		for range 2 {
			got = min(got, testing.AllocsPerRun(100, run))
		}
		return got
	}
	for _, tc := range []struct {
		name      string
		cfg       Config
		perStream float64
	}{
		// The retryStream, the attempt's context (a context.WithCancelCause: its cancelCtx
		// and cancel func), streamend.Watch's wrapper (7 when Watch also made its func and a
		// context.AfterFunc on the caller's context, which never ends here).
		{"retry", Config{MaxAttempts: 4}, 4},
		// And the per-attempt timeout: its timer and its func (the first attempt's context and
		// flag are the stream's own).
		{"retry+per-attempt-timeout", Config{MaxAttempts: 4, PerAttemptTimeout: 3 * time.Second}, 6},
	} {
		p, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		ic := p.Stream()
		below.sends = 0
		one, eight, many := allocs(ic, 1), allocs(ic, 8), allocs(ic, 32)
		if one > tc.perStream {
			t.Errorf("%s: a stream of one message costs %v allocations, want at most %v", tc.name, one, tc.perStream)
		}
		// The first 8 messages are kept in the stream (attempt.ReplayInline); past them the
		// slice of kept messages doubles: 16, 32.
		if eight > one || many > one+2 {
			t.Errorf("%s: streams of 8 and 32 messages cost %v and %v allocations, want %v and at most %v: none per message but the slice's doublings past 8", tc.name, eight, many, one, one+2)
		}
		if want := 101 * (1 + 8 + 32); below.sends < want {
			t.Errorf("%s: %d messages sent below, want at least %d", tc.name, below.sends, want)
		}
	}
}

// answered is the header of answeredStream: one value, no allocation.
var answered = metadata.MD{}

// answeredStream is a server stream's attempt that has its header and one reply at once, then
// its clean end; one value serves every stream.
type answeredStream struct {
	grpc.ClientStream
	ctx   context.Context
	recvs int
}

func (s *answeredStream) Context() context.Context     { return s.ctx }
func (s *answeredStream) SendMsg(any) error            { return nil }
func (s *answeredStream) CloseSend() error             { return nil }
func (s *answeredStream) Header() (metadata.MD, error) { return answered, nil }
func (s *answeredStream) RecvMsg(any) error {
	if s.recvs++; s.recvs%2 == 0 {
		return io.EOF
	}
	return nil
}

// TestServerStreamAllocs pins what a server stream (a request, the send side closed, one reply,
// the clean end) allocates through the retry stream interceptor, and the goroutines it starts,
// over a stream below that allocates nothing: with a per-attempt timeout, its timer and func,
// and the goroutine that watches the attempt's header for the timer (one allocation: the go
// statement's closure; its g is the runtime's, reused once the goroutine has ended, which each
// run waits for, as the suite's TestStreamAllocs does).
func TestServerStreamAllocs(t *testing.T) {
	ctx := context.Background()
	below := &answeredStream{ctx: ctx}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return below, nil
	}
	desc := &grpc.StreamDesc{ServerStreams: true}
	req, reply := &kycv1.CheckRequest{Index: 1}, new(kycv1.CheckResponse)
	for _, tc := range []struct {
		name       string
		cfg        Config
		perStream  float64
		goroutines uint64
	}{
		// The stream's context and its watch, read once the stream commits (internal/streamend),
		// make a server stream cost more than a client stream; its end ends that context, as
		// gRPC's does, and that context's watcher runs in a goroutine of its own.
		{"retry", Config{MaxAttempts: 4}, 15, 1},
		// 17 and 1 before the header watcher.
		{"retry+per-attempt-timeout", Config{MaxAttempts: 4, PerAttemptTimeout: 3 * time.Second}, 18, 2},
	} {
		p, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		ic := p.Stream()
		run := func() {
			live := runtime.NumGoroutine()
			cs, err := ic(ctx, desc, nil, "/kyc.v1.LivenessService/Check", streamer)
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.SendMsg(req); err != nil {
				t.Fatal(err)
			}
			if err := cs.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if err := cs.RecvMsg(reply); err != nil {
				t.Fatal(err)
			}
			if err := cs.RecvMsg(reply); err != io.EOF {
				t.Fatalf("RecvMsg = %v, want io.EOF", err)
			}
			// A bounded wait for the goroutines the stream started: one that never ends is a
			// leak, which goleak reports.
			for i := 0; i < 1000 && runtime.NumGoroutine() > live; i++ {
				runtime.Gosched()
			}
		}
		for range 300 {
			run()
		}
		started := goroutinesCreated()
		got := func() float64 {
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
			return testing.AllocsPerRun(100, run)
		}()
		started = goroutinesCreated() - started
		if got > tc.perStream {
			t.Errorf("%s: a server stream costs %v allocations, want at most %v", tc.name, got, tc.perStream)
		}
		if started/101 != tc.goroutines {
			t.Errorf("%s: a server stream starts %d goroutines (%d for 101 streams), want %d", tc.name, started/101, started, tc.goroutines)
		}
	}
}

// goroutinesCreated is how many goroutines the process has started so far.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
