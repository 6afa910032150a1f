package interceptors_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// panicStream is a gRPC client stream whose method named by where panics with where; RecvMsg
// otherwise ends the stream (io.EOF).
type panicStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	where  string
}

func (s *panicStream) at(method string) {
	if s.where == method {
		panic(method)
	}
}

func (s *panicStream) Header() (metadata.MD, error) { s.at("Header"); return metadata.MD{}, nil }
func (s *panicStream) Trailer() metadata.MD         { s.at("Trailer"); return nil }
func (s *panicStream) CloseSend() error             { s.at("CloseSend"); return nil }
func (s *panicStream) Context() context.Context     { return s.ctx }
func (s *panicStream) SendMsg(any) error            { s.at("SendMsg"); return nil }
func (s *panicStream) RecvMsg(any) error {
	s.at("RecvMsg")
	s.cancel()
	return io.EOF
}

// Regression: a method of a stream below the suite that panicked (RecvMsg, SendMsg, Header,
// CloseSend) in a chain without a retry step, or in a call made with retry.Disable, did not
// end the stream: the bulkhead slot, the breaker's permit and the deadline's timer stayed held
// until the caller's context ended, and the stream's one attempt was then reported
// (AttemptFinished, Canceled), where a unary call whose invoker panics, and a stream under a
// retry step, release at once and report neither the attempt nor the call. Every path now
// does as the unary one does, and the panic reaches the caller unchanged.
func TestPanicThroughSuiteReleasesAndReportsNothing(t *testing.T) {
	const method = "/bulwark.test.Lister/List"
	descs := map[string]grpc.StreamDesc{
		"server-streaming": {ServerStreams: true},
		"client-streaming": {ClientStreams: true}, // hedged
	}
	for _, variant := range []string{"retry", "noretry", "disabled"} {
		for _, where := range []string{"invoker", "streamer", "RecvMsg", "SendMsg", "Header", "CloseSend"} {
			for dname, desc := range descs {
				if where == "invoker" && dname == "client-streaming" {
					continue
				}
				name := variant + "/" + where
				if where != "invoker" {
					name += "/" + dname
				}
				t.Run(name, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						clk := clocktest.New(time.Time{})
						rec := &testkit.Recorder{}
						s, err := interceptors.New(fullStreamCfg(5, false, variant == "noretry"), interceptors.WithObserver(rec),
							interceptors.WithClock(clk), interceptors.WithRand(func() float64 { return 0.5 }),
							interceptors.WithFallback(method, fallback.Message(&kycv1.CheckResponse{Score: 0.5})))
						if err != nil {
							t.Fatal(err)
						}
						defer s.Close()
						var opts []grpc.CallOption
						if variant == "disabled" {
							opts = append(opts, retry.Disable())
						}
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						var got any
						func() {
							defer func() { got = recover() }()
							if where == "invoker" {
								_ = s.Unary()(ctx, method, &kycv1.CheckRequest{}, new(kycv1.CheckResponse), nil,
									func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic(where) }, opts...)
								return
							}
							cs, err := s.Stream()(ctx, &desc, nil, method,
								func(sctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
									if where == "streamer" {
										panic(where)
									}
									sctx, scancel := context.WithCancel(sctx)
									return &panicStream{ctx: sctx, cancel: scancel, where: where}, nil
								}, opts...)
							if err != nil {
								t.Errorf("open: %v", err)
								return
							}
							_ = cs.SendMsg(&kycv1.CheckRequest{})
							_, _ = cs.Header()
							_ = cs.CloseSend()
							_ = cs.RecvMsg(new(kycv1.CheckResponse))
						}()
						synctest.Wait()
						if got != where {
							t.Fatalf("the caller recovered %v, want the panic %q unchanged", got, where)
						}
						// Released at the panic, the caller's context still live.
						var problems []string
						if n := s.Bulkheads()["bulwark.test.Lister"].InFlight(); n != 0 {
							problems = append(problems, fmt.Sprintf("bulkhead holds %d slots", n))
						}
						br, _ := s.Breakers().Lookup("bulwark.test.Lister")
						if st, want := br.Stats(), (breaker.Stats{State: breaker.Closed, Calls: 1, Ignored: 1}); st != want {
							problems = append(problems, fmt.Sprintf("breaker saw %+v, want %+v", st, want))
						}
						if n := clk.Timers(); n != 0 {
							problems = append(problems, fmt.Sprintf("%d fake-clock timers pending", n))
						}
						cancel()
						synctest.Wait()
						// As a unary call that panics: neither the attempt nor the call is reported.
						if n := rec.Count(observe.AttemptFinished); n != 0 {
							problems = append(problems, fmt.Sprintf("%d AttemptFinished, want none", n))
						}
						if n := rec.Count(observe.CallFinished); n != 0 {
							problems = append(problems, fmt.Sprintf("%d CallFinished, want none", n))
						}
						if len(problems) > 0 {
							var b strings.Builder
							for _, e := range rec.Events() {
								fmt.Fprintf(&b, "\n  %v attempt=%d code=%v class=%v policy=%v", e.Kind, e.Attempt, e.Code, e.Class, e.Policy)
							}
							t.Fatalf("%s\nevents:%s", strings.Join(problems, "\n"), b.String())
						}
					})
				})
			}
		}
	}
}
