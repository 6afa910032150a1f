package retry_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// syncFireClock is a fake clock whose AfterFunc funcs run in the Advance that reaches them
// (clocktest.Fake's SyncAfterFunc): a per-attempt timeout fires in the test's goroutine.
type syncFireClock struct{ *clocktest.Fake }

func (c syncFireClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.SyncAfterFunc(d, f)
}

// derivingStream is an attempt's stream that derives its context from the attempt's, as
// grpc's does, and fails RecvMsg with the error its attempt is given.
type derivingStream struct {
	grpc.ClientStream
	ctx     context.Context
	release context.CancelFunc
	err     error
}

func (s *derivingStream) Context() context.Context     { return s.ctx }
func (s *derivingStream) SendMsg(any) error            { return nil }
func (s *derivingStream) CloseSend() error             { return nil }
func (s *derivingStream) RecvMsg(any) error            { return s.err }
func (s *derivingStream) Header() (metadata.MD, error) { return nil, nil }
func (s *derivingStream) Trailer() metadata.MD         { return nil }

// A stream attempt with a per-attempt timeout: the contexts the layers below derive from its
// context (grpc's stream's) were canceled by a goroutine that context.AfterFunc started when
// the attempt ended, not when it ended: right after its timer fired, after the retry moved on
// from it, after the stream ended, they were still live. They must be done at once, with the
// attempt's own error: DeadlineExceeded for an attempt that timed out, Canceled for one the
// stream let go. One P: a goroutine that the end starts does not run before the check.
func TestStreamAttemptContextEndsDerivedContextsAtOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	unavailable := status.Error(grpccodes.Unavailable, "down")
	invalid := status.Error(grpccodes.InvalidArgument, "bad")
	for _, tc := range []struct {
		name string
		errs []error // RecvMsg's error, per attempt
		// timeout: advance the clock to attempt 1's timeout before RecvMsg.
		timeout bool
	}{
		{"timed-out", []error{invalid}, true},
		{"retried", []error{unavailable, invalid}, false},
		{"stream-ended", []error{invalid}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := syncFireClock{clocktest.New(time.Unix(1_700_000_000, 0))}
			var (
				mu       sync.Mutex
				attempts []context.Context // each attempt's context
				streams  []*derivingStream
				atEnd    []error // at each AttemptFinished: that attempt's derived context's Err
			)
			d := newDriver(t, clk.Fake, 0) // the backoff sleep before a retry
			sink := observe.SinkFunc(func(e observe.Event) {
				d.Observe(e)
				if e.Kind != observe.AttemptFinished {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				atEnd = append(atEnd, streams[e.Attempt-1].ctx.Err())
			})
			p, err := retry.New(retry.Config{MaxAttempts: 3, PerAttemptTimeout: time.Second, Idempotent: true},
				retry.WithClock(clk), retry.WithRand(seq(0)), retry.WithObserver(sink))
			if err != nil {
				t.Fatal(err)
			}
			streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				mu.Lock()
				defer mu.Unlock()
				d, release := context.WithCancel(ctx) // as grpc's stream does
				s := &derivingStream{ctx: d, release: release, err: tc.errs[len(streams)]}
				attempts = append(attempts, ctx)
				streams = append(streams, s)
				return s, nil
			}
			caller, cancel := context.WithCancel(context.Background())
			defer cancel()
			cs, err := p.Stream()(caller, &grpc.StreamDesc{ServerStreams: true}, nil, "/test.v1.AttemptCtx/Watch", streamer)
			if err != nil {
				t.Fatal(err)
			}
			runtime.Gosched() // a fresh time slice for the end and the checks
			if tc.timeout {
				clk.Advance(time.Second)
				got, want := streams[0].ctx.Err(), attempts[0].Err()
				cancel() // no retry: RecvMsg ends the stream
				if want != context.DeadlineExceeded {
					t.Errorf("the attempt's context right after its timeout: Err = %v, want %v", want, context.DeadlineExceeded)
				}
				if got != want {
					t.Errorf("a context derived from the attempt's right after its timeout: Err = %v, want %v", got, want)
				}
			}
			rerr := cs.RecvMsg(new(struct{}))
			mu.Lock()
			var last error
			if n := len(streams); n > 0 {
				last = streams[n-1].ctx.Err()
			}
			for _, s := range streams {
				s.release()
			}
			mu.Unlock()
			if status.Code(rerr) != grpccodes.InvalidArgument {
				t.Errorf("RecvMsg = %v, want InvalidArgument", rerr)
			}
			if len(streams) != len(tc.errs) {
				t.Fatalf("%d attempts, want %d", len(streams), len(tc.errs))
			}
			wantLast := context.Canceled
			if tc.timeout {
				wantLast = context.DeadlineExceeded // the attempt's own, which stays
			}
			if last != wantLast {
				t.Errorf("the last attempt's derived context right after RecvMsg ended the stream: Err = %v, want %v", last, wantLast)
			}
			if !tc.timeout {
				for i, err := range atEnd[:len(atEnd)-1] { // the last attempt ends with the stream, after its event
					if err != context.Canceled {
						t.Errorf("attempt %d's derived context when the attempt was reported finished: Err = %v, want %v", i+1, err, context.Canceled)
					}
				}
			}
		})
	}
}
