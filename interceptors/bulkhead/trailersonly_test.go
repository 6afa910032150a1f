package bulkhead_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// TestTrailersOnlyHeaderThenConnClosed: a server-streaming call the server fails before
// sending headers (a trailers-only response), whose caller reads Header (gRPC's returns nil,
// nil) and then neither calls RecvMsg nor cancels its context, but closes the ClientConn,
// which gRPC counts as releasing the stream, gives its slot back.
func TestTrailersOnlyHeaderThenConnClosed(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		srv := testkit.Start(t, &testkit.Server{}, grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			return status.Error(grpccodes.Unavailable, "down") // before any header: trailers-only
		}))
		b, err := newBulkhead("x.v1.Feed", bulkhead.Config{MaxConcurrent: 1})
		if err != nil {
			t.Fatal(err)
		}
		desc := &grpc.StreamDesc{StreamName: "Watch", ServerStreams: true}
		const method = "/x.v1.Feed/Watch"

		cc := srv.Dial(t, grpc.WithStreamInterceptor(b.Stream()))
		s, err := cc.NewStream(context.Background(), desc, method)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.SendMsg(&emptypb.Empty{}) // nil, or io.EOF once the server has ended the stream
		if md, err := s.Header(); md != nil || err != nil {
			t.Fatalf("Header = %v, %v, want nil, nil (trailers-only)", md, err)
		}
		if err := cc.Close(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "slot given back once the ClientConn closed", func() bool { return b.InFlight() == 0 })

		cc2 := srv.Dial(t, grpc.WithStreamInterceptor(b.Stream()))
		s2, err := cc2.NewStream(context.Background(), desc, method)
		if errors.Is(err, bulkhead.ErrFull) {
			t.Fatalf("second stream: %v, want the slot", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		_ = s2.SendMsg(&emptypb.Empty{})
		if err := s2.RecvMsg(&emptypb.Empty{}); status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("second stream RecvMsg = %v, want Unavailable", err)
		}
		if n := b.InFlight(); n != 0 {
			t.Fatalf("InFlight = %d after the second stream ended, want 0", n)
		}
	})
}

// TestUncommittedStreamConnClosed: a client-streaming call whose caller sends a message but
// neither reads the stream (no Header, RecvMsg or Context, so the stream is not committed) nor
// cancels its context, and then closes the ClientConn, which gRPC counts as releasing the
// stream, gives its slot back; as does a second stream on the same ClientConn, which shares its
// watcher.
func TestUncommittedStreamConnClosed(t *testing.T) {
	forModes(t, func(t *testing.T, newBulkhead newFunc) {
		srv := testkit.Start(t, &testkit.Server{}, grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
			<-ss.Context().Done() // until the client goes
			return ss.Context().Err()
		}))
		b, err := newBulkhead("x.v1.Upload", bulkhead.Config{MaxConcurrent: 2})
		if err != nil {
			t.Fatal(err)
		}
		desc := &grpc.StreamDesc{StreamName: "Put", ClientStreams: true}
		const method = "/x.v1.Upload/Put"

		cc := srv.Dial(t, grpc.WithStreamInterceptor(b.Stream()))
		for range 2 {
			s, err := cc.NewStream(context.Background(), desc, method)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SendMsg(&emptypb.Empty{}); err != nil {
				t.Fatalf("SendMsg: %v", err)
			}
		}
		if n := b.InFlight(); n != 2 {
			t.Fatalf("InFlight = %d with two streams open, want 2", n)
		}
		if err := cc.Close(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "both slots given back once the ClientConn closed", func() bool { return b.InFlight() == 0 })
	})
}
