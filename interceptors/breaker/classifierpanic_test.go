package breaker

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// nilStatusErr is an error type whose GRPCStatus reads its receiver: a typed nil pointer of
// it, returned as an error, makes the classifier's reading of the error panic.
type nilStatusErr struct{ code grpccodes.Code }

func (e *nilStatusErr) Error() string              { return "nil status error" }
func (e *nilStatusErr) GRPCStatus() *status.Status { return status.New(e.code, "") }

// A half-open probe whose error makes the classifier panic is given back, as a canceled
// call's is, before the panic goes on: the next call may probe at once instead of every call
// being refused until HalfOpenMaxWait. Unary calls, streams that fail to open and streams
// that end with such an error alike.
func TestClassifierPanicGivesTheProbeBack(t *testing.T) {
	var typedNil *nilStatusErr
	for _, path := range []struct {
		name string
		call func(b *Breaker)
	}{
		{"unary", func(b *Breaker) {
			invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return typedNil }
			_ = b.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker)
		}},
		{"stream open", func(b *Breaker) {
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return nil, typedNil
			}
			_, _ = b.Stream()(context.Background(), &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCompare, streamer)
		}},
		{"stream end", func(b *Breaker) {
			streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return recvErrStream{err: typedNil}, nil
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
		var typedNil *nilStatusErr
		probe.Done(typedNil)
	}()
	if _, err := b.Allow(); err != nil {
		t.Fatalf("next probe: %v (state %v)", err, b.State())
	}
}
