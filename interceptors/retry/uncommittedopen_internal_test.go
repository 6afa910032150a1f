package retry

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// failingStream is an attempt of a stream whose every receive fails Unavailable.
type failingStream struct{ ctx context.Context }

func (f failingStream) Header() (metadata.MD, error) { return nil, nil }
func (f failingStream) Trailer() metadata.MD         { return nil }
func (f failingStream) CloseSend() error             { return nil }
func (f failingStream) Context() context.Context     { return f.ctx }
func (f failingStream) SendMsg(any) error            { return nil }
func (f failingStream) RecvMsg(any) error            { return status.Error(grpccodes.Unavailable, "down") }

// A stream's retry that the ratio budget counted, after whose backoff the stream is found
// committed only as the retry's attempt is opened (the caller's send outgrew the replay buffer
// just after the loop's own look), is never made: it is uncounted, as one the stream was found
// committed for at that look is.
func TestStreamRetryCommittedAtItsOpenIsUncounted(t *testing.T) {
	p, err := New(Config{
		MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Multiplier: 1,
		Jitter: JitterNone, Idempotent: true,
		Throttle: RetryBudgetConfig{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	hooked := 0
	testHookBeforeRetryOpen = func(s *retryStream) {
		hooked++
		s.mu.Lock()
		s.commitLocked()
		s.mu.Unlock()
	}
	t.Cleanup(func() { testHookBeforeRetryOpen = nil })
	opened := 0
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		opened++
		return failingStream{ctx}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := p.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, "/test.v1.S/Do", streamer)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(nil); status.Code(err) != grpccodes.Unavailable || opened != 1 || hooked != 1 {
		t.Fatalf("RecvMsg = %v after %d attempts opened, the hook run %d times; want the first attempt's Unavailable, 1 opened, the hook run once", err, opened, hooked)
	}
	if _, retries := p.Budget("test.v1.S").counted(); retries != 0 {
		t.Errorf("the ratio budget counts %d retries after a stream whose retry was never opened; want 0", retries)
	}
}
