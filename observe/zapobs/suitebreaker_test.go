package zapobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const suiteSvc = "test.v1.BreakerField"

// breakerCfg is a configuration whose service suiteSvc has a breaker that failures failures in a
// row open, for open.
func breakerCfg(failures int, open time.Duration) *config.Config {
	return &config.Config{
		Profiles: map[string]config.Profile{"p": {
			Breaker: &breaker.Config{ConsecutiveFailures: failures, RecoveryTimeout: open},
		}},
		Services: map[string]config.Service{suiteSvc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
}

// failing is an invoker whose calls fail with Unavailable, which counts against a breaker.
func failing(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
	return status.Error(grpccodes.Unavailable, "down")
}

// lastBreakerField returns the breaker field of the last line with message msg, "<absent>"
// when it has none, and "<no line>" when there is no such line.
func lastBreakerField(logs *observer.ObservedLogs, msg string) string {
	got := "<no line>"
	for _, l := range logs.FilterMessage(msg).All() {
		got = "<absent>"
		if v, ok := l.ContextMap()["breaker"].(string); ok {
			got = v
		}
	}
	return got
}

// A call guarded by a suite's breaker that has not changed state yet has breaker = closed on
// its failure's lines: the suite tells the sink of the breaker when it builds it
// (observe.BreakerPublished). zapobs could not tell "closed" from "no breaker" before.
func TestBreakerFieldClosedBeforeTheFirstChange(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s, err := interceptors.New(breakerCfg(5, time.Second), interceptors.WithObserver(zapobs.New(zap.New(core))),
		interceptors.WithClock(clocktest.New(at)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.Unary()(context.Background(), "/"+suiteSvc+"/Do", nil, nil, nil, failing)
	if got := lastBreakerField(logs, zapobs.MsgAttemptFinished); got != "closed" {
		t.Errorf("a failed attempt through a breaker that has not changed state: breaker = %q; want closed", got)
	}
}

// With a clock that does not move (a fake one), a replacement breaker whose first change
// reached the sink before the old breaker's Retired (of the same Time) had its state dropped
// with the old one's: the calls it then refused had no breaker field until its next change.
func TestBreakerFieldKeepsReplacementsStateAtTheRetiredsTime(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zapobs.New(zap.New(core))
	var s *interceptors.Suite
	tripped := false
	sink := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.Retired && e.Policy == observe.PolicyBreaker && !tripped {
			// A call that started after the reload trips the replacement; its change reaches
			// the sink before the old breaker's Retired, at the same Time.
			tripped = true
			_ = s.Unary()(context.Background(), "/"+suiteSvc+"/Do", nil, nil, nil, failing)
		}
		log.Observe(e)
	})
	var err error
	s, err = interceptors.New(breakerCfg(1, time.Second), interceptors.WithObserver(sink),
		interceptors.WithClock(clocktest.New(at)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Reload(breakerCfg(1, 2*time.Second)); err != nil { // replaces the breaker
		t.Fatal(err)
	}
	if !tripped {
		t.Fatal("the reload sent no Retired for the replaced breaker")
	}
	_ = s.Unary()(context.Background(), "/"+suiteSvc+"/Do", nil, nil, nil, failing)
	if got := lastBreakerField(logs, zapobs.MsgRejected); got != "open" {
		t.Errorf("a call the open replacement refused: breaker = %q; want open", got)
	}
}

// A call in flight through a breaker a reload retired that fails after the Retired trips the
// retired breaker, whose change event then comes after its Retired: it stood for the
// replacement's state, and the replacement's calls read open while it was closed.
func TestBreakerFieldIgnoresARetiredBreakersLateChange(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s, err := interceptors.New(breakerCfg(1, time.Second), interceptors.WithObserver(zapobs.New(zap.New(core))),
		interceptors.WithClock(clocktest.New(at)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entered, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Unary()(context.Background(), "/"+suiteSvc+"/Do", nil, nil, nil,
			func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				close(entered)
				<-release
				return status.Error(grpccodes.Unavailable, "down")
			})
	}()
	<-entered
	if err := s.Reload(breakerCfg(2, time.Second)); err != nil { // replaces the breaker
		t.Fatal(err)
	}
	close(release) // the call in flight fails: the retired breaker opens
	<-done
	if got := len(logs.FilterMessage(zapobs.MsgBreakerChanged).All()); got != 1 {
		t.Fatalf("breaker state changed lines = %d; want the retired breaker's 1", got)
	}
	_ = s.Unary()(context.Background(), "/"+suiteSvc+"/Do", nil, nil, nil, failing) // 1 of 2 failures
	if got := lastBreakerField(logs, zapobs.MsgAttemptFinished); got != "closed" {
		t.Errorf("a failed attempt through the replacement, still closed: breaker = %q; want closed", got)
	}
}

// A closed suite's breaker that never changed state is forgotten at the Close as one that
// did: its BreakerPublished's closed stood for the service's breaker after the Close, on the
// lines of a suite that replaced it with none.
func TestBreakerFieldForgetsAClosedSuitesUnchangedBreaker(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zapobs.New(zap.New(core))
	s, err := interceptors.New(breakerCfg(5, time.Second), interceptors.WithObserver(log), interceptors.WithClock(clocktest.New(at)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	noBreaker := &config.Config{
		Profiles: map[string]config.Profile{"p": {}},
		Services: map[string]config.Service{suiteSvc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
	}
	s2, err := interceptors.New(noBreaker, interceptors.WithObserver(log), interceptors.WithClock(clocktest.New(at)))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	_ = s2.Unary()(context.Background(), "/"+suiteSvc+"/Do", nil, nil, nil, failing)
	if got := lastBreakerField(logs, zapobs.MsgAttemptFinished); got != "<absent>" {
		t.Errorf("a failed attempt that no breaker guards, after the suite with one closed: breaker = %q; want <absent>", got)
	}
}
