package redislimit

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// Regression: while the probe pause holds, a fail-closed limiter refuses every call without
// asking Redis, and its error said only "redis skipped after a recent failure": all but one
// refusal a probe interval, in an outage, gave the operator no cause. The refusals of the pause
// name the failure that started it (and match it with errors.Is), as well as the pause.
func TestPausedRefusalNamesTheFailure(t *testing.T) {
	fake := clocktest.New(time.Time{})
	cfg := ratelimit.Config{Rate: 10, Redis: &ratelimit.RedisConfig{Addr: deadAddr(t), Timeout: time.Second}}
	l, err := New("kyc.v1.OCRService", cfg, WithClock(fake))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	_, first := l.Take(context.Background(), 0)
	var ue *UnavailableError
	if !errors.As(first, &ue) || !errors.Is(first, syscall.ECONNREFUSED) {
		t.Fatalf("first Take: %v, want an *UnavailableError for the refused dial", first)
	}
	cause := ue.Err.Error()

	_, paused := l.Take(context.Background(), 0)
	if n := l.trips.Load(); n != 1 {
		t.Fatalf("%d round trips, want 1: the second Take falls in the pause", n)
	}
	if !errors.Is(paused, ErrUnavailable) || !errors.Is(paused, errProbePause) {
		t.Fatalf("paused Take: %v, want ErrUnavailable for the pause", paused)
	}
	if !strings.Contains(paused.Error(), cause) || !errors.Is(paused, syscall.ECONNREFUSED) {
		t.Errorf("paused Take: %q, want it to name the failure that started the pause, %q", paused, cause)
	}
}
