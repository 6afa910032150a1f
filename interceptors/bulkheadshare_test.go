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
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// An adaptive bulkhead is its service's, as a fixed one is, for a method whose only override
// is classifier entries: the service's cap (max_concurrent) holds whatever its methods'
// classifiers, and the shared bulkhead tells overload from the rest in each method's calls
// with that method's classifier (see package bulkhead's "Shared by a service's methods").

const shareSvc = "test.v1.ShareAdaptive"

// shareCfg is a configuration whose service has an adaptive (aimd) bulkhead of ceiling and
// initial limit max, and a method Special whose only override is the classifier special; the
// service's profile classifies with service.
func shareCfg(max int, service, special map[grpccodes.Code]codes.Class) *config.Config {
	p := config.Profile{Bulkhead: &bulkhead.Config{MaxConcurrent: max, Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmAIMD, InitialLimit: max}}}
	if service != nil {
		p.Classifier = codes.Overrides{Codes: service}
	}
	return specialClassifierCfg(shareSvc, p, special)
}

// specialClassifierCfg is a configuration of service svc on profile p, with a method Special
// whose only override is the classifier special (the share tests of the breaker, the throttle
// and the bulkhead).
func specialClassifierCfg(svc string, p config.Profile, special map[grpccodes.Code]codes.Class) *config.Config {
	return &config.Config{
		Profiles: map[string]config.Profile{"p": p},
		Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{
			"Special": {Overrides: config.Overrides{Classifier: codes.Overrides{Codes: special}}},
		}}},
	}
}

func newShareSuite(t *testing.T, cfg *config.Config) *interceptors.Suite {
	t.Helper()
	s, err := interceptors.New(cfg, interceptors.WithClock(clocktest.New(time.Unix(1700000000, 0))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// sharedBulkhead returns the suite's one bulkhead, the service's, failing t when there are
// others.
func sharedBulkhead(t *testing.T, s *interceptors.Suite, when string) *bulkhead.Bulkhead {
	t.Helper()
	bhs := s.Bulkheads()
	if len(bhs) != 1 || bhs[shareSvc] == nil {
		t.Fatalf("%s: bulkheads %v, want the service's alone", when, bhs)
	}
	return bhs[shareSvc]
}

// The cap holds: while another method holds the one slot, Special's call is refused.
func TestClassifierOverrideKeepsTheServiceAdaptiveBulkhead(t *testing.T) {
	s := newShareSuite(t, shareCfg(1, nil, map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	release := testkit.Hold(context.Background(), s.Unary(), "/"+shareSvc+"/Do")
	inv := &testkit.CountingInvoker{}
	err := s.Unary()(context.Background(), "/"+shareSvc+"/Special", nil, nil, nil, inv.Invoke)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, bulkhead.ErrFull) {
		t.Errorf("a call of Special while Do holds the service's one adaptive slot: %v, want bulkhead.ErrFull (the cap split in two)", err)
	}
	sharedBulkhead(t, s, "after the calls")
}

// The shared bulkhead judges each method's outcome by the method's classifier: Unavailable,
// business to Special's override, is no overload drop of the service's limit; the same code
// from Do, transient to the service, is one that backs the limit off (8 × 0.9 → 7).
func TestSharedAdaptiveBulkheadJudgesEachMethodByItsClassifier(t *testing.T) {
	s := newShareSuite(t, shareCfg(8, nil, map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	fail := &testkit.CountingInvoker{Err: unavailable()}
	for range 3 {
		_ = s.Unary()(context.Background(), "/"+shareSvc+"/Special", nil, nil, nil, fail.Invoke)
	}
	if got := sharedBulkhead(t, s, "after Special's calls").Capacity(); got != 8 {
		t.Errorf("service's limit %d after Special failed Unavailable (business to it) 3 times, want 8: no drop", got)
	}
	_ = s.Unary()(context.Background(), "/"+shareSvc+"/Do", nil, nil, nil, fail.Invoke)
	if got := sharedBulkhead(t, s, "after Do's call").Capacity(); got != 7 {
		t.Errorf("service's limit %d after Do failed Unavailable, want 7: a drop by the service's classifier", got)
	}
}

// Special's streams are judged by Special's classifier too, at open and at their end.
func TestSharedAdaptiveBulkheadJudgesStreamsByTheMethodsClassifier(t *testing.T) {
	s := newShareSuite(t, shareCfg(8, nil, map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	desc := &grpc.StreamDesc{ServerStreams: true}
	_, _ = s.Stream()(context.Background(), desc, nil, "/"+shareSvc+"/Special",
		func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			return nil, unavailable()
		})
	cs, err := s.Stream()(context.Background(), desc, nil, "/"+shareSvc+"/Special",
		func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			return &endingStream{ctx: ctx, err: unavailable()}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	_ = cs.RecvMsg(nil)
	bh := sharedBulkhead(t, s, "after Special's streams")
	if got := bh.Capacity(); got != 8 || bh.InFlight() != 0 {
		t.Errorf("service's limit %d (%d in flight) after Special's streams failed Unavailable (business to it), want 8, none in flight", got, bh.InFlight())
	}
}

// After a reload of Special's classifier alone, the kept bulkhead judges Special's calls by
// the new classifier: Unavailable, now transient to Special, is a drop.
func TestReloadOfAMethodsClassifierJudgesByTheNewOne(t *testing.T) {
	s := newShareSuite(t, shareCfg(8, nil, map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}))
	before := sharedBulkhead(t, s, "before the reload")
	if err := s.Reload(shareCfg(8, nil, map[grpccodes.Code]codes.Class{grpccodes.DeadlineExceeded: codes.Business})); err != nil {
		t.Fatal(err)
	}
	fail := &testkit.CountingInvoker{Err: unavailable()}
	_ = s.Unary()(context.Background(), "/"+shareSvc+"/Special", nil, nil, nil, fail.Invoke)
	after := sharedBulkhead(t, s, "after the reload")
	if after != before || after.Capacity() != 7 {
		t.Errorf("after a reload of Special's classifier and its Unavailable: bulkhead %p limit %d, want the same %p, 7", after, after.Capacity(), before)
	}
}

// A reload that changes Special's classifier alone keeps the service's bulkhead, with its slot
// in use; one that changes the service's classifier gives the bulkhead the new one.
func TestReloadOfAMethodsClassifierKeepsTheSharedAdaptiveBulkhead(t *testing.T) {
	special := map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}
	s := newShareSuite(t, shareCfg(8, nil, special))
	release := testkit.Hold(context.Background(), s.Unary(), "/"+shareSvc+"/Do")
	before := sharedBulkhead(t, s, "before the reload")

	if err := s.Reload(shareCfg(8, nil, map[grpccodes.Code]codes.Class{grpccodes.DeadlineExceeded: codes.Business})); err != nil {
		t.Fatal(err)
	}
	after := sharedBulkhead(t, s, "after a reload of Special's classifier")
	if after != before || after.InFlight() != 1 {
		t.Errorf("after a reload of Special's classifier: bulkhead %p with %d in flight, want the same %p with the held call's slot", after, after.InFlight(), before)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}

	// The service now calls Unavailable business: Special's Unavailable is no drop.
	if err := s.Reload(shareCfg(8, map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business}, special)); err != nil {
		t.Fatal(err)
	}
	fail := &testkit.CountingInvoker{Err: unavailable()}
	_ = s.Unary()(context.Background(), "/"+shareSvc+"/Special", nil, nil, nil, fail.Invoke)
	_ = s.Unary()(context.Background(), "/"+shareSvc+"/Do", nil, nil, nil, fail.Invoke)
	renewed := sharedBulkhead(t, s, "after a reload of the service's classifier")
	if renewed == before {
		t.Fatal("a reload of the service's classifier kept the bulkhead built with the old one")
	}
	if got := renewed.Capacity(); got != 8 {
		t.Errorf("service's limit %d after Unavailable failures the service's new classifier calls business, want 8", got)
	}
}

// Special's chain, built at New, builds the service's bulkhead before any other method's
// call builds the service's chain: both chains get one bulkhead, which neither replaces, at
// a first call or at a reload.
func TestMethodChainFirstBuildsTheSharedAdaptiveBulkhead(t *testing.T) {
	cfg := shareCfg(8, nil, map[grpccodes.Code]codes.Class{grpccodes.Unavailable: codes.Business})
	s := newShareSuite(t, cfg)
	ok := &testkit.CountingInvoker{}
	call := func(m string) {
		t.Helper()
		if err := s.Unary()(context.Background(), "/"+shareSvc+"/"+m, nil, nil, nil, ok.Invoke); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	call("Special")
	first := sharedBulkhead(t, s, "after Special's first call")
	call("Do")
	for i := range 2 {
		if got := sharedBulkhead(t, s, "after Do's first call"); got != first {
			t.Fatalf("round %d: the service's chain replaced the bulkhead Special's chain built", i)
		}
		if err := s.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		call("Special")
		call("Do")
		call("Other")
	}
	if got := sharedBulkhead(t, s, "after the reloads"); got != first {
		t.Fatal("a reload of the same configuration replaced the shared bulkhead")
	}
}
