package streamend

import (
	"context"
	"testing"
	"testing/synctest"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// headerlessStream is a fakeStream whose response has no header, as gRPC's is when the server
// ends the stream at once: Header ends the stream's context and returns nil, nil, and the
// stream's status is for RecvMsg to return.
type headerlessStream struct{ *fakeStream }

func (h headerlessStream) Header() (metadata.MD, error) {
	h.finish()
	return nil, nil
}

// TestHeaderEndsTheStreamBeforeRecv: the caller reads the header of a stream the server failed
// at once, then RecvMsg. gRPC ended the stream's context in Header; the stream's end is still
// RecvMsg's, with the status (the breaker's failure, the suite's CallFinished), not a Transport
// end that counts as nothing, whether or not the context's callback ran before RecvMsg. A
// caller that gives up after Header ends the stream with its context (Caller).
func TestHeaderEndsTheStreamBeforeRecv(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	for _, giveUp := range []bool{false, true} {
		t.Run(map[bool]string{false: "then RecvMsg", true: "then the caller cancels"}[giveUp], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				caller, cancel := context.WithCancel(context.Background())
				defer cancel()
				f := newFake(caller)
				w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, headerlessStream{f})
				r := newRecorder()
				w.OnEnd(r.f)
				if md, err := w.Header(); md != nil || err != nil {
					t.Fatalf("Header = %v, %v", md, err)
				}
				synctest.Wait() // the context's callback has run
				if e, ended := w.Ended(); ended {
					t.Fatalf("ended (%+v) by Header, before the status was read", e)
				}
				var want End
				if giveUp {
					cancel()
					synctest.Wait()
					want = End{Err: context.Canceled, Cause: Caller}
				} else {
					f.recv <- unavailable
					if err := w.RecvMsg(nil); err != unavailable {
						t.Fatalf("RecvMsg = %v", err)
					}
					want = End{Err: unavailable, Cause: Recv}
				}
				if e := r.snapshot(); len(e) != 1 || e[0] != want {
					t.Fatalf("ends = %+v, want [%+v]", e, want)
				}
			})
		})
	}
}
