package stub

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
)

// TestDelayFirstZeroDelaysNoAttempt: x-mlstub-delay-first is N, "only the first N attempts are
// delayed", so 0 delays none, as x-mlstub-fail-first 0 fails none. It delayed every attempt, the
// same as leaving the key out, so a test stepping N from 0 held its first call for the delay.
func TestDelayFirstZeroDelaysNoAttempt(t *testing.T) {
	fake := clocktest.New(time.Time{})
	e := start(t, Config{}, WithClock(fake))
	for _, kv := range [][]string{
		{MDRequestID, "fast", MDDelay, "1h", MDDelayFirst, "0"},
		{MDDelay, "1h", MDDelayFirst, "0"}, // 0 attempts to count: no id needed
	} {
		ctx, cancel := context.WithCancel(withScript(context.Background(), kv...))
		done := goExtract(e, ctx)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if fake.Timers() > 0 {
				cancel()
				<-done
				t.Fatalf("metadata %q: the call waits for the 1h delay, want no delay", kv)
			}
			select {
			case r := <-done:
				cancel()
				if r.err != nil {
					t.Fatalf("metadata %q: %v", kv, r.err)
				}
			default:
				if time.Now().After(deadline) {
					cancel()
					t.Fatalf("metadata %q: neither answered nor waiting", kv)
				}
				continue
			}
			break
		}
	}
}
