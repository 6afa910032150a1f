package breaker

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
)

// A half-open probe whose error makes the classifier panic is given back, as a canceled
// call's is, before the panic goes on: the next call may probe at once instead of every call
// being refused until HalfOpenMaxWait. Unary calls, streams that fail to open and streams
// that end with such an error alike.
func TestClassifierPanicGivesTheProbeBack(t *testing.T) {
	panicking := testkit.PanickingStatus()
	for _, path := range []struct {
		name string
		call func(b *Breaker)
	}{
		{"unary", func(b *Breaker) {
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return panicking }
			_ = b.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker)
		}},
		{"stream open", func(b *Breaker) {
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return nil, panicking
			}
			_, _ = b.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCompare, streamer)
		}},
		{"stream end", func(b *Breaker) {
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return recvErrStream{err: panicking}, nil
			}
			cs, err := b.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCompare, streamer)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			_ = cs.RecvMsg(nil)
		}},
	} {
		t.Run(path.name, func(t *testing.T) {
			b, clk, _ := newTest(t, stuckCfg)
			trip(t, b, clk)
			clk.Advance(time.Second)
			func() {
				defer func() {
					if p := recover(); p == nil {
						t.Fatal("no panic reached the caller")
					}
				}()
				path.call(b)
			}()
			p, err := b.Allow()
			if err != nil {
				t.Fatalf("next probe: %v (state %v)", err, b.State())
			}
			p.Done(nil)
			if s := b.State(); s != Closed {
				t.Fatalf("state %v after a successful probe, want closed", s)
			}
		})
	}
}

// recvErrStream is a stream whose every RecvMsg fails with err.
type recvErrStream struct {
	grpc.ClientStream
	err error
}

func (s recvErrStream) RecvMsg(any) error { return s.err }
func (s recvErrStream) CloseSend() error  { return nil }

// The same for Permit.Done, the breaker's API without gRPC.
func TestDoneClassifierPanicGivesTheProbeBack(t *testing.T) {
	b, clk, _ := newTest(t, stuckCfg)
	trip(t, b, clk)
	clk.Advance(time.Second)
	probe, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Fatal("no panic reached the caller")
			}
		}()
		probe.Done(testkit.PanickingStatus())
	}()
	if _, err := b.Allow(); err != nil {
		t.Fatalf("next probe: %v (state %v)", err, b.State())
	}
}
