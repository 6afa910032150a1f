package stress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// The test-only streaming service: the stubs have no server-streaming or bidi method.
const (
	streamService = "stress.v1.StreamService"
	methodWatch   = "/" + streamService + "/Watch" // one request, n replies
	methodChat    = "/" + streamService + "/Chat"  // a reply to each request, in turn

	// mdReplyGap asks Watch to space its replies by so many milliseconds.
	mdReplyGap = "stress-reply-gap-ms"
)

// backend is what the run changes and asks of a service: the stubs', and streamSvc's.
type backend interface {
	Attempts(method, requestID string) int
	SetFaults(stub.Faults) error
	OutageFor(time.Duration)
	Up()
	Stop()
}

// streamSvc serves Watch and Chat over its own bufconn listener, with faults drawn as the
// stubs draw theirs: a share of failing attempts per code, latency, outages. A request whose
// image is empty is a business error (FACE_NOT_DETECTED), as the stubs' business inputs are.
type streamSvc struct {
	srv *grpc.Server

	mu       sync.Mutex
	rng      *rand.Rand
	faults   stub.Faults
	outage   time.Time // down until
	attempts map[string]int
}

func startStreamSvc(seed uint64, lis net.Listener) *streamSvc {
	s := &streamSvc{rng: rand.New(rand.NewPCG(seed, 7)), faults: stub.DefaultMildFaults(), attempts: map[string]int{}}
	s.srv = grpc.NewServer()
	s.srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: streamService,
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{
			{StreamName: "Watch", ServerStreams: true, Handler: s.watch},
			{StreamName: "Chat", ServerStreams: true, ClientStreams: true, Handler: s.chat},
		},
	}, struct{}{})
	go func() { _ = s.srv.Serve(lis) }()
	return s
}

func (s *streamSvc) Attempts(method, id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[method+" "+id]
}

func (s *streamSvc) SetFaults(f stub.Faults) error {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	return nil
}

func (s *streamSvc) OutageFor(d time.Duration) {
	s.mu.Lock()
	s.outage = time.Now().Add(d)
	s.mu.Unlock()
}

func (s *streamSvc) Up() {
	s.mu.Lock()
	s.outage = time.Time{}
	s.mu.Unlock()
}

func (s *streamSvc) Stop() { s.srv.Stop() }

// begin counts an attempt and draws its fault: after the latency, the error it fails with, or
// nil.
func (s *streamSvc) begin(ctx context.Context, method string) error {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(stub.MDRequestID); len(v) > 0 {
			id = v[0]
		}
	}
	s.mu.Lock()
	s.attempts[method+" "+id]++
	down := time.Now().Before(s.outage)
	f := s.faults
	draw := s.rng.Float64()
	s.mu.Unlock()
	if down {
		return status.Error(grpccodes.Unavailable, "stress: outage")
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	for c, r := range f.Fail {
		if draw < r {
			return status.Error(c, "stress: injected "+c.String())
		}
		draw -= r
	}
	return nil
}

func businessErr() error {
	st, err := status.New(grpccodes.InvalidArgument, "no face in the frame").WithDetails(
		&errdetails.ErrorInfo{Reason: stub.ReasonFaceNotDetected, Domain: "stress.example"})
	if err != nil {
		return status.Error(grpccodes.Internal, err.Error())
	}
	return st.Err()
}

func (s *streamSvc) watch(_ any, ss grpc.ServerStream) error {
	req := new(kycv1.CheckRequest)
	if err := ss.RecvMsg(req); err != nil {
		return err
	}
	if err := s.begin(ss.Context(), methodWatch); err != nil {
		return err
	}
	if len(req.GetImage()) == 0 {
		return businessErr()
	}
	var gap time.Duration
	if md, ok := metadata.FromIncomingContext(ss.Context()); ok {
		if v := md.Get(mdReplyGap); len(v) > 0 {
			ms, _ := strconv.Atoi(v[0])
			gap = time.Duration(ms) * time.Millisecond
		}
	}
	for i := range req.GetIndex() {
		if i > 0 && gap > 0 {
			t := time.NewTimer(gap)
			select {
			case <-t.C:
			case <-ss.Context().Done():
				t.Stop()
				return status.FromContextError(ss.Context().Err()).Err()
			}
		}
		if err := ss.SendMsg(&kycv1.CheckResponse{FramesAnalyzed: i}); err != nil {
			return err
		}
	}
	return nil
}

func (s *streamSvc) chat(_ any, ss grpc.ServerStream) error {
	for i := 0; ; i++ {
		req := new(kycv1.CheckRequest)
		err := ss.RecvMsg(req)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if i == 0 {
			if err := s.begin(ss.Context(), methodChat); err != nil {
				return err
			}
		}
		if len(req.GetImage()) == 0 {
			return businessErr()
		}
		if err := ss.SendMsg(&kycv1.CheckResponse{FramesAnalyzed: req.GetIndex()}); err != nil {
			return err
		}
	}
}

// invokeWatch asks for n replies and checks that it got them, each once and in order, which it
// counts in read. A slow reader (readDelay) reads the first only that long after it closed
// its send side, and asks the service to space its replies by replyGap.
func invokeWatch(ctx context.Context, conn *grpc.ClientConn, n int, business bool, readDelay, replyGap time.Duration, read *int) error {
	if replyGap > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, mdReplyGap, strconv.Itoa(int(replyGap/time.Millisecond)))
	}
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, methodWatch)
	if err != nil {
		return err
	}
	req := &kycv1.CheckRequest{Index: uint32(n), Image: []byte{1}}
	if business {
		req.Image = nil
	}
	if err := st.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("send: %w", err)
	}
	if err := st.CloseSend(); err != nil {
		return fmt.Errorf("close send: %w", err)
	}
	if readDelay > 0 {
		t := time.NewTimer(readDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	for i := 0; ; i++ {
		*read = i
		var resp kycv1.CheckResponse
		err := st.RecvMsg(&resp)
		if errors.Is(err, io.EOF) {
			if i != n {
				return &replyErr{"watch: " + strconv.Itoa(i) + " replies, want " + strconv.Itoa(n)}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("recv %d: %w", i, err)
		}
		if int(resp.GetFramesAnalyzed()) != i {
			return &replyErr{fmt.Sprintf("watch: reply %d reads %d", i, resp.GetFramesAnalyzed())}
		}
	}
}

// invokeChat sends n requests, reading the reply to each before the next.
func invokeChat(ctx context.Context, conn *grpc.ClientConn, n int, business bool, gap time.Duration) error {
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, methodChat)
	if err != nil {
		return err
	}
	for i := range n {
		if gap > 0 && i > 0 {
			t := time.NewTimer(gap)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		req := &kycv1.CheckRequest{Index: uint32(i), Image: []byte{1}}
		if business && i == n-1 {
			req.Image = nil
		}
		if err := st.SendMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				break // the status is RecvMsg's
			}
			return fmt.Errorf("send %d: %w", i, err)
		}
		var resp kycv1.CheckResponse
		if err := st.RecvMsg(&resp); err != nil {
			if errors.Is(err, io.EOF) {
				return &replyErr{fmt.Sprintf("chat: end of stream after %d of %d requests", i, n)}
			}
			return fmt.Errorf("recv %d: %w", i, err)
		}
		if int(resp.GetFramesAnalyzed()) != i {
			return &replyErr{fmt.Sprintf("chat: reply to request %d reads %d", i, resp.GetFramesAnalyzed())}
		}
	}
	if err := st.CloseSend(); err != nil {
		return fmt.Errorf("close send: %w", err)
	}
	var resp kycv1.CheckResponse
	if err := st.RecvMsg(&resp); !errors.Is(err, io.EOF) {
		if err == nil {
			return &replyErr{"chat: a reply after the last request's"}
		}
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// replyErr is a stream's answer that no policy may produce: a reply missing, repeated or out
// of order.
type replyErr struct{ msg string }

func (e *replyErr) Error() string { return e.msg }

func startStreamBackend(seed uint64) (*streamSvc, *bufconn.Listener) {
	lis := bufconn.Listen(1 << 20)
	return startStreamSvc(seed, lis), lis
}
