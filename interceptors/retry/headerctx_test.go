package retry_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestStreamHeaderlessEndsContextBeforeHeaderReturns: a stream committed to its attempt (its
// sends outran the replay buffer) whose server then fails it with no header. gRPC's Header
// ends the attempt's context and returns nil, nil; the retry stream's Header must return with
// its own context ended too, as gRPC's stream's is, so that the policies above it
// (internal/streamend) see a stream ended in Header, whose status RecvMsg returns. Its context
// used to end a moment later, from a context.AfterFunc on the attempt's: streamend then took
// the end for gRPC's while nobody read the stream (Transport), and the suite emitted no
// CallFinished, the breaker counted no failure, though the caller read the status.
func TestStreamHeaderlessEndsContextBeforeHeaderReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		unavailable := status.Error(grpccodes.Unavailable, "mid")
		p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true, ReplayBufferBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		var a *lateHeaderless
		streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			a = newLateHeaderless(ctx, unavailable)
			return a, nil
		}
		caller, cancel := context.WithCancel(context.Background())
		defer cancel()
		desc := &grpc.StreamDesc{ClientStreams: true}
		cs, err := p.Stream()(caller, desc, nil, "/kyc.v1.LivenessService/Check", streamer)
		if err != nil {
			t.Fatal(err)
		}
		w := streamend.Watch(caller, desc, cs)
		var ends []streamend.End
		w.OnEnd(func(e streamend.End) { ends = append(ends, e) })
		if err := w.SendMsg(&kycv1.CheckRequest{}); err != nil { // commits: nothing is buffered
			t.Fatal(err)
		}
		_ = cs.Context() // the retry stream's context exists before the attempt ends
		if md, err := w.Header(); md != nil || err != nil {
			t.Fatalf("Header = %v, %v; want nil, nil", md, err)
		}
		synctest.Wait()
		if len(ends) != 0 {
			t.Fatalf("ended by Header, before the status was read: %+v", ends)
		}
		if err := w.RecvMsg(new(kycv1.CheckResponse)); status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("RecvMsg = %v, want Unavailable", err)
		}
		if len(ends) != 1 || ends[0].Cause != streamend.Recv || status.Code(ends[0].Err) != grpccodes.Unavailable {
			t.Fatalf("ends = %+v, want one Recv end with Unavailable", ends)
		}
	})
}

// lateHeaderless is an attempt stream that the server fails, with no header, after the
// stream committed: as gRPC's, its Header ends its context and returns nil, nil, and RecvMsg
// returns the status.
type lateHeaderless struct {
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

func newLateHeaderless(ctx context.Context, err error) *lateHeaderless {
	c, cancel := context.WithCancel(ctx)
	return &lateHeaderless{ctx: c, cancel: cancel, err: err}
}

func (a *lateHeaderless) Header() (metadata.MD, error) { a.cancel(); return nil, nil }
func (a *lateHeaderless) Trailer() metadata.MD         { return nil }
func (a *lateHeaderless) CloseSend() error             { return nil }
func (a *lateHeaderless) Context() context.Context     { return a.ctx }
func (a *lateHeaderless) SendMsg(any) error            { return nil }
func (a *lateHeaderless) RecvMsg(any) error            { a.cancel(); return a.err }
