package interceptors_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
)

// TestSharedBreakerPublishedByItsMakerAlone: two suites share a breaker registry
// (WithBreakerRegistry), each with its own observer. The breaker of test.v1.Pub is made by
// the first suite, and its state changes go to the first suite's observer alone: the second
// suite, which takes it from the registry, publishes it not (its observer would keep the
// state it read at the publication, closed, while the breaker opens, and name that stale state
// on every call through it); the breaker it makes itself (test.v1.Own) it publishes. The
// second suite used to publish both.
func TestSharedBreakerPublishedByItsMakerAlone(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := breaker.NewRegistry()
	recA, recB := &testkit.Recorder{}, &testkit.Recorder{}
	sharingSuite(t, clk, reg, "", recA) // the maker
	b := sharingSuite(t, clk, reg, "  test.v1.Own: {profile: p, methods: {Do: {}}}\n", recB)
	publishedOf := func(rec *testkit.Recorder, service string) (n int) {
		for _, e := range rec.Events(observe.BreakerPublished) {
			if e.Service == service {
				n++
			}
		}
		return n
	}
	if n := publishedOf(recA, "test.v1.Pub"); n != 1 {
		t.Fatalf("the maker's observer: %d BreakerPublished of test.v1.Pub, want 1", n)
	}
	// The shared breaker opens: its change reaches its maker's observer alone.
	for range 2 {
		inv := &testkit.CountingInvoker{Err: unavailable()}
		_ = b.Unary()(context.Background(), "/test.v1.Pub/Do", nil, nil, nil, inv.Invoke)
	}
	if n := len(recA.Events(observe.BreakerStateChanged)); n != 1 {
		t.Fatalf("the maker's observer: %d BreakerStateChanged, want 1 (closed → open)", n)
	}
	if n := len(recB.Events(observe.BreakerStateChanged)); n != 0 {
		t.Fatalf("the taker's observer: %d BreakerStateChanged, want none: the breaker reports to its maker's", n)
	}
	for _, e := range recB.Events(observe.BreakerPublished) {
		if e.Service == "test.v1.Pub" || e.Service == "test.v1.PubM" {
			t.Errorf("the taker's observer got %+v: a breaker whose changes it never sees, published with a state that goes stale", e)
		}
	}
	if n := publishedOf(recB, "test.v1.Own"); n != 1 {
		t.Errorf("the taker's observer: %d BreakerPublished of its own breaker test.v1.Own, want 1", n)
	}
}
