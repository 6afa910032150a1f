package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A method whose only override is classifier entries goes through its service's one adaptive
// throttle, which counts that method's outcomes as the method's classifier judges them (see
// package throttle's "Shared by a service's methods").

const thShareSvc = "test.v1.ShareThrottle"

// thShareCfg is a configuration whose service has an adaptive throttle and a method Special
// whose only override is the classifier special.
func thShareCfg(special map[grpccodes.Code]codes.Class) *config.Config {
	return specialClassifierCfg(thShareSvc, config.Profile{AdaptiveThrottle: &throttle.Config{K: 2}}, special)
}

// newThShareSuite returns a suite of cfg whose throttles draw 0.999: none rejects unless its
// probability is above it.
func newThShareSuite(t *testing.T, cfg *config.Config, opts ...interceptors.Option) *interceptors.Suite {
	t.Helper()
	opts = append([]interceptors.Option{interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0))),
		interceptors.WithRand(func() float64 { return 0.999 })}, opts...)
	s, err := interceptors.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func thCall(s *interceptors.Suite, method string, err error, opts ...grpc.CallOption) error {
	inv := &testkit.CountingInvoker{Err: err}
	return s.Unary()(context.Background(), "/"+thShareSvc+"/"+method, nil, nil, nil, inv.Invoke, opts...)
}

// sharedThrottle returns the suite's one throttle, the service's, failing t when there are
// others.
func sharedThrottle(t *testing.T, s *interceptors.Suite, when string) *throttle.Throttle {
	t.Helper()
	ths := s.Throttles()
	if len(ths) != 1 || ths[thShareSvc] == nil {
		t.Fatalf("%s: throttles %v, want the service's alone", when, ths)
	}
	return ths[thShareSvc]
}

// Special's calls count on the service's throttle: its Unavailable, business to it, is an
// accept; Do's Unavailable, transient to the service, is a request the service did not take.
func TestSharedThrottleJudgesEachMethodByItsClassifier(t *testing.T) {
	s := newThShareSuite(t, thShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	for range 3 {
		_ = thCall(s, "Special", unavailable())
	}
	_ = thCall(s, "Do", unavailable())
	if req, acc := sharedThrottle(t, s, "after the calls").Counts(); req != 4 || acc != 3 {
		t.Errorf("service's throttle after 3 business Unavailable of Special and 1 of Do: %d requests, %d accepts, want 4, 3", req, acc)
	}
	// A call option's classifier still wins over the method's.
	_ = thCall(s, "Special", unavailable(), throttle.WithCallClassifier(codes.Default()))
	if req, acc := sharedThrottle(t, s, "after the call option").Counts(); req != 5 || acc != 3 {
		t.Errorf("service's throttle after Special's Unavailable classified by the call's option: %d requests, %d accepts, want 5, 3", req, acc)
	}
}

// The service's throttling covers Special: once the service has refused what the throttle
// counts, Special's calls are rejected locally too.
func TestServiceThrottleCoversClassifierOverrideMethod(t *testing.T) {
	s := newThShareSuite(t, thShareCfg(map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Transient}),
		interceptors.WithRand(func() float64 { return 0 }))
	// p = 1/2 after one refusal: a draw of 0 rejects.
	_ = thCall(s, "Do", unavailable())
	inv := &testkit.CountingInvoker{}
	err := s.Unary()(context.Background(), "/"+thShareSvc+"/Special", nil, nil, nil, inv.Invoke)
	if status.Code(err) != grpccodes.Unavailable || inv.Count("/"+thShareSvc+"/Special") != 0 {
		t.Errorf("Special after the service refused Do's only call: %v, %d calls sent, want the throttle's rejection", err, inv.Count("/"+thShareSvc+"/Special"))
	}
	sharedThrottle(t, s, "after the calls")
}

// Special's streams count on the service's throttle by Special's classifier, at open and at
// their end.
func TestSharedThrottleJudgesStreamsByTheMethodsClassifier(t *testing.T) {
	s := newThShareSuite(t, thShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Aborted: codes.Business}))
	desc := &grpc.StreamDesc{ServerStreams: true}
	open := func(method string, err error) {
		_, _ = s.Stream()(context.Background(), desc, nil, "/"+thShareSvc+"/"+method,
			func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
				return nil, err
			})
	}
	end := func(method string, err error) {
		t.Helper()
		cs, e := s.Stream()(context.Background(), desc, nil, "/"+thShareSvc+"/"+method,
			func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
				return &endingStream{ctx: ctx, err: err}, nil
			})
		if e != nil {
			t.Fatalf("opening %s's stream: %v", method, e)
		}
		_ = cs.RecvMsg(nil)
	}
	aborted := status.Error(grpccodes.Aborted, "business")
	open("Special", aborted)
	end("Special", aborted)
	end("Special", aborted)
	open("Do", aborted)
	if req, acc := sharedThrottle(t, s, "after the streams").Counts(); req != 4 || acc != 3 {
		t.Errorf("service's throttle after 3 of Special's streams failed Aborted (business to it) and 1 of Do's: %d requests, %d accepts, want 4, 3", req, acc)
	}
}

// A reload that changes Special's classifier alone keeps the service's throttle and its
// counts, and Special's calls are judged by the new classifier.
func TestReloadOfAMethodsClassifierKeepsTheSharedThrottle(t *testing.T) {
	s := newThShareSuite(t, thShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	_ = thCall(s, "Special", unavailable())
	_ = thCall(s, "Do", nil)
	before := sharedThrottle(t, s, "before the reload")
	if err := s.Reload(thShareCfg(map[grpccodes.Code]codes.Class{grpccodes.NotFound: codes.Business})); err != nil {
		t.Fatal(err)
	}
	_ = thCall(s, "Special", unavailable())
	after := sharedThrottle(t, s, "after the reload")
	if req, acc := after.Counts(); after != before || req != 3 || acc != 2 {
		t.Errorf("after a reload of Special's classifier and its Unavailable: throttle %p (%d requests, %d accepts), want the same %p, 3 requests, 2 accepts", after, req, acc, before)
	}
}

// The suite's Levels show the one throttle.
func TestSharedThrottleIsOneLevel(t *testing.T) {
	s := newThShareSuite(t, thShareCfg(map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	_ = thCall(s, "Special", nil)
	_ = thCall(s, "Do", nil)
	var got []string
	for l := range s.Levels {
		if l.Kind == observe.LevelThrottleProbability {
			got = append(got, l.Service+" "+l.Method)
		}
	}
	if len(got) != 1 || got[0] != thShareSvc+" " {
		t.Errorf("throttle levels %q, want the service's alone", got)
	}
}
