package retry

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
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
