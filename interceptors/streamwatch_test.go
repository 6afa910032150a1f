package interceptors_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// replyStream is a client-streaming grpc.ClientStream that answers its one reply; its context
// is the one it was opened with, as gRPC's is derived from it.
type replyStream struct {
	ctx     context.Context
	replied bool
}

func (f *replyStream) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (f *replyStream) Trailer() metadata.MD         { return nil }
func (f *replyStream) CloseSend() error             { return nil }
func (f *replyStream) Context() context.Context     { return f.ctx }
func (f *replyStream) SendMsg(any) error            { return nil }
func (f *replyStream) RecvMsg(any) error {
	if f.replied {
		return io.EOF
	}
	f.replied = true
	return nil
}

// TestSuiteStreamWatchedOnce checks that a stream through a suite with a retry step, a
// deadline (the call budget) and an observer is watched by one streamend wrapper, over the
// retry's stream, which the retry step, the deadline and the suite's observer share; and that
// the observer still sees the stream's one attempt and its end.
func TestSuiteStreamWatchedOnce(t *testing.T) {
	rec := &testkit.Recorder{}
	s, err := interceptors.New(threeProfiles(), interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		return &replyStream{ctx: ctx}, nil
	}
	desc := &grpc.StreamDesc{ClientStreams: true}
	cs, err := s.Stream()(context.Background(), desc, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	var layers []string
	for c := cs; ; {
		layers = append(layers, fmt.Sprintf("%T", c))
		w, ok := c.(*streamend.Stream)
		if !ok {
			break
		}
		c = w.ClientStream
	}
	if len(layers) != 2 || layers[0] != "*streamend.Stream" || layers[1] == "*streamend.Stream" {
		t.Errorf("the stream the caller holds is %v, want one *streamend.Stream over the retry's stream", layers)
	}
	if err := cs.SendMsg(&kycv1.CheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(new(kycv1.CheckResponse)); err != nil {
		t.Fatal(err)
	}
	if evs := rec.Events(observe.CallFinished); len(evs) != 1 || evs[0].Code != grpccodes.OK || evs[0].Attempt != 1 {
		t.Errorf("CallFinished events %+v, want one OK of 1 attempt", evs)
	}
	if evs := rec.Events(observe.AttemptFinished); len(evs) != 1 || evs[0].Code != grpccodes.OK {
		t.Errorf("AttemptFinished events %+v, want one OK", evs)
	}
}
