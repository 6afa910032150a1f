package interceptors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Under breaker scope service, a method whose only override is classifier entries goes through
// its service's one breaker, which counts that method's outcomes as the method's classifier
// judges them (see breaker.ScopeService).

const brShareSvc = "test.v1.ShareBreaker"

// brShareCfg is a configuration whose service trips its breaker after two failures in a row
// and has a method Special whose only override is the classifier special.
func brShareCfg(special map[grpccodes.Code]codes.Class) *config.Config {
	return specialClassifierCfg(brShareSvc, config.Profile{Breaker: &breaker.Config{ConsecutiveFailures: 2}}, special)
}

func brCall(s *interceptors.Suite, method string, err error) error {
	inv := &testkit.CountingInvoker{Err: err}
	return s.Unary()(context.Background(), "/"+brShareSvc+"/"+method, nil, nil, nil, inv.Invoke)
}

// sharedBreaker returns the suite's one breaker, the service's, failing t when there are
// others.
func sharedBreaker(t *testing.T, s *interceptors.Suite, when string) *breaker.Breaker {
	t.Helper()
	var names []string
	s.Breakers().Each(func(name string, _ *breaker.Breaker) { names = append(names, name) })
	b, ok := s.Breakers().Lookup(brShareSvc)
	if len(names) != 1 || !ok {
		t.Fatalf("%s: breakers %q, want the service's alone", when, names)
	}
	return b
}

// Special's transient failures (Unavailable, which its override leaves transient) open the
// service's breaker: Do's next call is refused.
func TestClassifierOverrideTripsTheServiceBreaker(t *testing.T) {
	s := newShareSuite(t, brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Transient}))
	for range 2 {
		_ = brCall(s, "Special", unavailable())
	}
	if err := brCall(s, "Do", nil); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Do after Special failed Unavailable twice: %v, want breaker.ErrOpen (the service's breaker never saw Special's failures)", err)
	}
	sharedBreaker(t, s, "after the calls")
}

// The service's open breaker refuses Special's calls too.
func TestServiceOpenBreakerRefusesClassifierOverrideMethod(t *testing.T) {
	s := newShareSuite(t, brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Transient}))
	for range 2 {
		_ = brCall(s, "Do", unavailable())
	}
	if err := brCall(s, "Special", nil); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Special with the service's breaker open: %v, want breaker.ErrOpen", err)
	}
	sharedBreaker(t, s, "after the calls")
}

// Special's Unavailable, business to its classifier, is no failure of the shared breaker; Do's
// Unavailable, transient to the service, is.
func TestSharedBreakerJudgesEachMethodByItsClassifier(t *testing.T) {
	s := newShareSuite(t, brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	for range 3 {
		_ = brCall(s, "Special", unavailable())
	}
	_ = brCall(s, "Do", unavailable())
	st := sharedBreaker(t, s, "after the calls").Stats()
	if st.Calls != 4 || st.Successes != 3 || st.Failures != 1 || st.State != breaker.Closed {
		t.Errorf("service's breaker after 3 business Unavailable of Special and 1 of Do: %+v, want 4 calls, 3 successes, 1 failure, closed", st)
	}
	// A call option's classifier still wins over the method's.
	inv := &testkit.CountingInvoker{Err: unavailable()}
	_ = s.Unary()(context.Background(), "/"+brShareSvc+"/Special", nil, nil, nil, inv.Invoke,
		breaker.WithCallClassifier(codes.Default()))
	if st := s.Breakers().Snapshot()[brShareSvc]; st.State != breaker.Open {
		t.Errorf("service's breaker after Special's Unavailable classified by the call's option: %+v, want open", st)
	}
}

// Special's streams: an Unavailable stream failure opens the service's breaker, a business
// one (to Special) does not count.
func TestSharedBreakerJudgesStreamsByTheMethodsClassifier(t *testing.T) {
	s := newShareSuite(t, brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Aborted: codes.Business}))
	desc := &grpc.StreamDesc{ServerStreams: true}
	open := func(method string, err error) error {
		_, e := s.Stream()(context.Background(), desc, nil, "/"+brShareSvc+"/"+method,
			func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return nil, err
			})
		return e
	}
	_ = open("Special", status.Error(grpccodes.Aborted, "business"))
	_ = open("Do", unavailable())
	_ = open("Special", status.Error(grpccodes.Aborted, "business"))
	if st := sharedBreaker(t, s, "after the streams").Stats(); st.Failures != 1 || st.State != breaker.Closed {
		t.Errorf("service's breaker after Special's business Aborted streams around Do's failure: %+v, want 1 failure, closed", st)
	}
	for range 2 {
		_ = open("Special", unavailable())
	}
	if err := open("Do", nil); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Do's stream after Special's streams failed Unavailable twice: %v, want breaker.ErrOpen", err)
	}
}

// A reload that changes Special's classifier alone keeps the service's breaker and its count:
// one failure of Do before the reload and one of Special after it open it.
func TestReloadOfAMethodsClassifierKeepsTheSharedBreaker(t *testing.T) {
	s := newShareSuite(t, brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	_ = brCall(s, "Special", nil)
	_ = brCall(s, "Do", unavailable())
	before := sharedBreaker(t, s, "before the reload")
	if err := s.Reload(brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Transient})); err != nil {
		t.Fatal(err)
	}
	_ = brCall(s, "Special", unavailable())
	after := sharedBreaker(t, s, "after the reload")
	if after != before || after.State() != breaker.Open {
		t.Errorf("after a reload of Special's classifier and its Unavailable: breaker %p (%v), want the same %p, open", after, after.State(), before)
	}
}

// The suite's Levels show the one breaker.
func TestSharedBreakerIsOneLevel(t *testing.T) {
	s := newShareSuite(t, brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	_ = brCall(s, "Special", nil)
	_ = brCall(s, "Do", nil)
	var got []string
	for l := range s.Levels {
		if l.Policy == observe.PolicyBreaker {
			got = append(got, l.Service+" "+l.Method)
		}
	}
	if len(got) != 1 || got[0] != brShareSvc+" " {
		t.Errorf("breaker levels %q, want the service's alone", got)
	}
}

// A method with breaker settings of its own keeps a breaker of its own, named by its method.
func TestMethodWithOwnBreakerSettingsKeepsItsBreaker(t *testing.T) {
	cfg := brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business})
	svc := cfg.Services[brShareSvc]
	svc.Methods["Own"] = config.Method{Overrides: config.Overrides{Breaker: config.Set(breaker.Config{ConsecutiveFailures: 3}, "consecutive_failures")}}
	s := newShareSuite(t, cfg)
	for range 3 {
		_ = brCall(s, "Own", unavailable())
	}
	if err := brCall(s, "Do", nil); err != nil {
		t.Errorf("Do after Own, with a breaker of its own, failed: %v, want nil", err)
	}
	if _, ok := s.Breakers().Lookup("/" + brShareSvc + "/Own"); !ok {
		t.Error("Own has no breaker of its own")
	}
}

// Two suites sharing a breaker registry (WithBreakerRegistry) share the service's one breaker:
// Special's failures in one open it for the other's calls of Do.
func TestSharedBreakerRegistryKeepsOneServiceBreaker(t *testing.T) {
	reg := new(breaker.Registry)
	var suites [2]*interceptors.Suite
	for i := range suites {
		s, err := interceptors.New(brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Transient}),
			interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0))), interceptors.WithBreakerRegistry(reg))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		suites[i] = s
	}
	for range 2 {
		_ = brCall(suites[0], "Special", unavailable())
	}
	if err := brCall(suites[1], "Do", nil); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("the other suite's Do after Special failed twice: %v, want breaker.ErrOpen", err)
	}
}

// endingStream is a client stream whose RecvMsg ends it with err.
type endingStream struct {
	ctx context.Context
	err error
}

func (s *endingStream) Header() (metadata.MD, error) { return nil, nil }
func (s *endingStream) Trailer() metadata.MD         { return nil }
func (s *endingStream) CloseSend() error             { return nil }
func (s *endingStream) Context() context.Context     { return s.ctx }
func (s *endingStream) SendMsg(any) error            { return nil }
func (s *endingStream) RecvMsg(any) error            { return s.err }

// A stream of Special that ends in RecvMsg is judged by Special's classifier too.
func TestSharedBreakerJudgesStreamEndsByTheMethodsClassifier(t *testing.T) {
	s := newShareSuite(t, brShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Aborted: codes.Business}))
	desc := &grpc.StreamDesc{ServerStreams: true}
	run := func(err error) {
		t.Helper()
		cs, e := s.Stream()(context.Background(), desc, nil, "/"+brShareSvc+"/Special",
			func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				return &endingStream{ctx: ctx, err: err}, nil
			})
		if e != nil {
			t.Fatalf("opening Special's stream: %v", e)
		}
		_ = cs.RecvMsg(nil)
	}
	run(status.Error(grpccodes.Aborted, "business"))
	run(status.Error(grpccodes.Aborted, "business"))
	if st := sharedBreaker(t, s, "after business stream ends").Stats(); st.Failures != 0 || st.Successes != 2 {
		t.Errorf("service's breaker after two of Special's streams ended Aborted (business to it): %+v, want 2 successes, no failure", st)
	}
	run(unavailable())
	run(unavailable())
	if st := sharedBreaker(t, s, "after failed stream ends").Stats(); st.State != breaker.Open {
		t.Errorf("service's breaker after two of Special's streams ended Unavailable: %+v, want open", st)
	}
}
