package interceptors_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// scopingSink is an observe.Scoper that records the scopes it hands out and, per scope, the
// kinds of the events each one receives ("" for the unscoped sink).
type scopingSink struct {
	mu     sync.Mutex
	scopes []string
	got    map[string][]observe.Kind
}

func (s *scopingSink) add(scope string, e observe.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got[scope] = append(s.got[scope], e.Kind)
}

func (s *scopingSink) Observe(e observe.Event) { s.add("", e) }

func (s *scopingSink) ForMethod(service, fullMethod string) observe.Sink {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope := service + " " + fullMethod
	s.scopes = append(s.scopes, scope)
	return observe.SinkFunc(func(e observe.Event) { s.add(scope, e) })
}

// scoped returns the events of the scopes of service and those of the unscoped sink, but for
// the suite's own BreakerPublished events, which go to the unscoped sink as they are of no
// call.
func (s *scopingSink) scoped(service string) (kinds, unscoped []observe.Kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range s.scopes {
		if strings.HasPrefix(sc, service+" ") {
			kinds = append(kinds, s.got[sc]...)
		}
	}
	for _, k := range s.got[""] {
		if k != observe.BreakerPublished {
			unscoped = append(unscoped, k)
		}
	}
	return kinds, unscoped
}

// The suite sends the events of a chain's calls to its observer scoped to the chain
// (observe.Scoper): a unary call's CallFinished, its attempt's AttemptFinished (sent by the
// retry loop) and its DeadlineApplied (by the deadline step), and a stream's CallFinished, all
// reach the chain's scoped sink and none the unscoped one; a call sink still gets the call's
// own events beside it.
func TestEventsGoToTheChainsScopedSink(t *testing.T) {
	obs := &scopingSink{got: map[string][]observe.Kind{}}
	s, err := interceptors.New(suitecfg.Full(), interceptors.WithObserver(obs), interceptors.WithBreakerRegistry(new(breaker.Registry)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := testkit.Start(t, &testkit.Server{})
	cc := srv.Dial(t, s.DialOptions()...)
	face, live := kycv1.NewFaceMatchServiceClient(cc), kycv1.NewLivenessServiceClient(cc)

	const calls = 3
	for range calls { // no caller deadline: the deadline step applies its default
		if _, err := face.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	kinds, unscoped := obs.scoped("kyc.v1.FaceMatchService")
	for _, k := range []observe.Kind{observe.CallFinished, observe.AttemptFinished, observe.DeadlineApplied} {
		if n := count(kinds, k); n != calls {
			t.Errorf("the chain's scoped sink got %d %v events for %d calls, want %d (scoped: %v, unscoped: %v)", n, k, calls, calls, kinds, unscoped)
		}
	}
	if len(unscoped) != 0 {
		t.Errorf("the unscoped sink got the calls' events %v, want none", unscoped)
	}

	var own []observe.Kind
	var mu sync.Mutex
	ctx := observe.WithCallSink(context.Background(), observe.SinkFunc(func(e observe.Event) {
		mu.Lock()
		defer mu.Unlock()
		own = append(own, e.Kind)
	}))
	if _, err := face.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	kinds, unscoped = obs.scoped("kyc.v1.FaceMatchService")
	mu.Lock()
	if count(own, observe.CallFinished) != 1 || count(own, observe.AttemptFinished) != 1 {
		t.Errorf("the call sink got %v, want the call's CallFinished and AttemptFinished", own)
	}
	mu.Unlock()
	if count(kinds, observe.CallFinished) != calls+1 || count(kinds, observe.AttemptFinished) != calls+1 || len(unscoped) != 0 {
		t.Errorf("with a call sink, the scoped sink got %v and the unscoped %v; want the call's events in the scoped one", kinds, unscoped)
	}

	stream, err := live.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&kycv1.CheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	kinds, unscoped = obs.scoped("kyc.v1.LivenessService")
	if count(kinds, observe.CallFinished) != 1 || len(unscoped) != 0 {
		t.Errorf("a stream's events: scoped %v, unscoped %v; want its CallFinished in the chain's scoped sink", kinds, unscoped)
	}
}

func count(kinds []observe.Kind, k observe.Kind) int {
	n := 0
	for _, got := range kinds {
		if got == k {
			n++
		}
	}
	return n
}
