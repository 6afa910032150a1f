package interceptors_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// rejectPanicSink panics on Rejected while armed, as a sink with a bug does.
type rejectPanicSink struct{ armed atomic.Bool }

func (s *rejectPanicSink) Observe(e observe.Event) {
	if e.Kind == observe.Rejected && s.armed.Load() {
		panic("sink: Rejected")
	}
}

// refusalCase is a gate and how to make it refuse the next call (prime), and, where it can
// admit again, how to let it (free; nil: it cannot be checked).
type refusalCase struct {
	name    string
	profile config.Profile
}

func refusalCases() []refusalCase {
	return []refusalCase{
		{"breaker", config.Profile{Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Minute}}},
		{"bulkhead", config.Profile{Bulkhead: &bulkhead.Config{MaxConcurrent: 1}}},
		{"rate limit", config.Profile{RateLimit: &ratelimit.Config{Rate: 1, Burst: 1}}},
	}
}

// A unary call that a gate refuses, whose Rejected reaches a sink that panics, still runs its
// grpc.OnFinish callbacks, once: grpc never sees the call, and the panic used to skip them.
// The panic goes on to the caller. Whatever the gate held is back: once the refusal's cause is
// gone, a call is admitted. Every path a suite runs gates on.
func TestRejectedSinkPanicRunsOnFinish(t *testing.T) {
	for _, rc := range refusalCases() {
		for _, shape := range []string{"gates alone", "direct", "runner"} {
			t.Run(rc.name+"/"+shape, func(t *testing.T) {
				p := rc.profile
				if shape != "gates alone" {
					p.Retry = quickRetry(1) // no backoff on the fake clock
				}
				cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
				clk := clocktest.New(time.Now())
				sink := &rejectPanicSink{}
				s := suiteOf(t, cfg, interceptors.WithObserver(sink), interceptors.WithClock(clk), interceptors.WithBreakerRegistry(&breaker.Registry{}))
				if shape == "runner" {
					interceptors.DisableDirect(s, testkit.MethodCompare)
				}
				unary := s.Unary()
				call := func(invoke grpc.UnaryInvoker, opts ...grpc.CallOption) (panicked any, err error) {
					defer func() { panicked = recover() }()
					return nil, unary(context.Background(), testkit.MethodCompare, nil, nil, nil, invoke, opts...)
				}
				ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
				var f testkit.Finishes
				refused := func() {
					sink.armed.Store(true)
					defer sink.armed.Store(false)
					if pv, err := call(ok, f.Option()); pv != "sink: Rejected" {
						t.Fatalf("refused call: error %v, panic %v; want the sink's panic", err, pv)
					}
				}
				switch rc.name {
				case "breaker":
					fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
						return unavailable()
					}
					if _, err := call(fail); err == nil {
						t.Fatal("the failing call succeeded")
					}
					refused()
				case "bulkhead":
					// The refused call is made while another holds the one slot.
					inner := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
						refused()
						return nil
					}
					if pv, err := call(inner); err != nil || pv != nil {
						t.Fatalf("the call holding the slot: %v, panic %v", err, pv)
					}
				case "rate limit":
					if pv, err := call(ok); err != nil || pv != nil {
						t.Fatalf("the call taking the token: %v, panic %v", err, pv)
					}
					refused()
					clk.Advance(time.Second)
				}
				if errs := f.Errs(); len(errs) != 1 {
					t.Fatalf("refused call whose Rejected panicked: OnFinish ran %d times (%v), want once", len(errs), errs)
				}
				if rc.name != "breaker" {
					if pv, err := call(ok); err != nil || pv != nil {
						t.Fatalf("a call after the refusal: %v, panic %v; want it admitted", err, pv)
					}
				}
			})
		}
	}
}

// eofStream is an attempt stream whose RecvMsg ends it.
type eofStream struct {
	grpc.ClientStream
	ctx context.Context
}

func (s *eofStream) Context() context.Context { return s.ctx }
func (s *eofStream) RecvMsg(any) error        { return io.EOF }
func (s *eofStream) CloseSend() error         { return nil }

// A stream that a gate refuses at its open, whose Rejected reaches a sink that panics, still
// runs its grpc.OnFinish callbacks, once, as a refused stream does; the panic goes on to the
// caller. Whatever the gate held is back.
func TestRejectedSinkPanicRunsOnFinishStream(t *testing.T) {
	desc := &grpc.StreamDesc{StreamName: "Check", ServerStreams: true, ClientStreams: true}
	for _, rc := range refusalCases() {
		t.Run(rc.name, func(t *testing.T) {
			cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": rc.profile}, Services: map[string]config.Service{svcLiveness: {Profile: "p"}}}
			clk := clocktest.New(time.Now())
			sink := &rejectPanicSink{}
			s := suiteOf(t, cfg, interceptors.WithObserver(sink), interceptors.WithClock(clk), interceptors.WithBreakerRegistry(&breaker.Registry{}))
			stream := s.Stream()
			open := func(streamer grpc.Streamer, opts ...grpc.CallOption) (cs grpc.ClientStream, panicked any, err error) {
				defer func() { panicked = recover() }()
				cs, err = stream(context.Background(), desc, nil, testkit.MethodCheck, streamer, opts...)
				return cs, nil, err
			}
			ok := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				return &eofStream{ctx: ctx}, nil
			}
			var held grpc.ClientStream
			switch rc.name {
			case "breaker":
				fail := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
					return nil, unavailable()
				}
				if _, _, err := open(fail); err == nil {
					t.Fatal("the failing stream opened")
				}
			default:
				var err error
				var pv any
				if held, pv, err = open(ok); err != nil || pv != nil {
					t.Fatalf("the stream holding the slot or token: %v, panic %v", err, pv)
				}
			}
			var f testkit.Finishes
			sink.armed.Store(true)
			if _, pv, err := open(ok, f.Option()); pv != "sink: Rejected" {
				t.Fatalf("refused stream: error %v, panic %v; want the sink's panic", err, pv)
			}
			sink.armed.Store(false)
			if errs := f.Errs(); len(errs) != 1 {
				t.Fatalf("refused stream whose Rejected panicked: OnFinish ran %d times (%v), want once", len(errs), errs)
			}
			if held != nil {
				if err := held.RecvMsg(nil); err != io.EOF {
					t.Fatalf("ending the stream that held the slot: %v", err)
				}
				clk.Advance(time.Second)
				cs, pv, err := open(ok)
				if err != nil || pv != nil {
					t.Fatalf("a stream after the refusal: %v, panic %v; want it admitted", err, pv)
				}
				_ = cs.RecvMsg(nil)
			}
		})
	}
}
