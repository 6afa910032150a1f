package interceptors_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// TestRetryDisabledReportsItsAttempt: a call made with retry.Disable through a suite's retry
// step sends one request, and reports it with one AttemptFinished (attempt 1), as a call
// through the step does, and as the suite does for a chain without a retry step: every
// attempt sent is reported once (observe.AttemptFinished), so that bulwark_attempts_total
// counts such calls too. On every path: the direct chain, the runner, the fused chain (whose
// sink records a success at once in one call).
func TestRetryDisabledReportsItsAttempt(t *testing.T) {
	for _, path := range []string{"direct", "runner", "fused"} {
		for _, fail := range []bool{false, true} {
			name := path + ", success"
			if fail {
				name = path + ", failure"
			}
			t.Run(name, func(t *testing.T) {
				p := config.Profile{Retry: quickRetry(3)}
				cfg := &config.Config{Budget: time.Minute, Profiles: map[string]config.Profile{"p": p}, Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
				var sink observe.Sink
				var lines func() []string
				if path == "fused" {
					s := &fusingSink{}
					sink, lines = s, s.lines
				} else {
					s := &lineSink{}
					sink, lines = s, s.lines
				}
				s, err := interceptors.New(cfg, interceptors.WithObserver(sink), interceptors.WithClock(clocktest.New(time.Now())))
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = s.Close() }()
				if path != "fused" && !interceptors.Direct(s, testkit.MethodCompare) {
					t.Fatal("the chain of a retry loop alone is not direct")
				}
				if path == "runner" {
					interceptors.DisableDirect(s, testkit.MethodCompare)
				}
				var ierr error
				if fail {
					ierr = unavailable()
				}
				inv := &scriptedInvoker{errs: []error{ierr}}
				_ = s.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, inv.invoke, []grpc.CallOption{retry.Disable()}...)
				if inv.n != 1 {
					t.Fatalf("the call sent %d requests, want 1", inv.n)
				}
				attempts := 0
				for _, l := range lines() {
					if strings.HasPrefix(l, observe.AttemptFinished.String()+" ") {
						attempts++
					}
				}
				if attempts != 1 {
					t.Fatalf("%d AttemptFinished for the call's one request, want 1; events:\n%s", attempts, strings.Join(lines(), "\n"))
				}
			})
		}
	}
}
