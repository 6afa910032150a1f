package zapobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The lines of a call the suite serves through its overflow chain (a service past its bound
// on unlisted services) name the service "*" and the method "/*/*", as the call's metrics do,
// and say in called the method the call named, so that a log still tells which it was; the
// failure's lines carry the overflow breaker's state. A line of another call has no called.
func TestOverflowLinesSayTheMethodCalled(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := breakerCfg(5, time.Second)
	cfg.Profiles[config.DefaultProfile] = cfg.Profiles["p"]
	s, err := interceptors.New(cfg, interceptors.WithObserver(zapobs.New(zap.New(core))),
		interceptors.WithClock(clocktest.New(at)), interceptors.WithUnlistedLimit(0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const called = "/unlisted.v1.Svc/Do"
	_ = s.Unary()(context.Background(), called, nil, nil, nil, failing)
	_ = s.Unary()(context.Background(), "/"+suiteSvc+"/Do", nil, nil, nil, failing)
	lines := logs.FilterMessage("call finished").All()
	if len(lines) != 2 {
		t.Fatalf("%d call finished lines, want 2", len(lines))
	}
	overflow, own := lines[0].ContextMap(), lines[1].ContextMap()
	for k, want := range map[string]string{"service": "*", "method": "/*/*", "called": called} {
		if got := overflow[k]; got != want {
			t.Errorf("overflow call's line: %s = %v, want %q (fields %v)", k, got, want, overflow)
		}
	}
	attempts := logs.FilterMessage("attempt finished").All()
	if len(attempts) != 2 {
		t.Fatalf("%d attempt finished lines, want 2", len(attempts))
	}
	if got := attempts[0].ContextMap(); got["breaker"] != "closed" || got["called"] != called {
		t.Errorf("overflow call's attempt line: %v, want breaker closed and called %q", got, called)
	}
	if v, ok := own["called"]; ok {
		t.Errorf("a listed call's line has called = %v, want none", v)
	}
}
