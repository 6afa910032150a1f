package retry_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// A backoff that cannot end within the 8s budget is not begun
// (doc: "No attempt starts and no sleep begins that cannot finish within it"), however
// long it is. New accepts the config (no upper bound on initial/max backoff).
func TestHugeBackoffDoesNotOutlastTheBudget(t *testing.T) {
	cfg := retry.Config{InitialBackoff: math.MaxInt64, Jitter: retry.JitterNone, Budget: 8 * time.Second}
	s := newSetup(t, cfg, -1) // no driver: a sleep that begins never ends by itself
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var info retry.Info
	go func() {
		done <- s.p.Do(ctx, testkit.MethodCompare, func(context.Context) error {
			return testkit.Status(grpccodes.Unavailable, "")
		}, retry.Report(&info))
	}()
	select {
	case err := <-done:
		if info.Reason != observe.ReasonBudget || info.Attempts != 1 {
			t.Fatalf("err %v info %+v, want 1 attempt, reason budget", err, info)
		}
	case <-time.After(2 * time.Second):
		cancel()
		err := <-done
		t.Fatalf("call still sleeping past its 8s budget: scheduled %v (once canceled: %v)", s.delays(), err)
	}
}
