package stub

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/test/bufconn"
)

// Regression: OutageFor(0), or a negative length, starts no outage, yet logged
// "outage started", so a log reader saw a service go down that never did.
func TestOutageForNonPositiveStartsNone(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		core, logs := observer.New(zapcore.InfoLevel)
		fake := clocktest.New(time.Time{})
		s, err := Start(context.Background(), Config{}, WithClock(fake), WithLogger(zap.New(core)),
			WithListener(bufconn.Listen(1<<16)))
		if err != nil {
			t.Fatal(err)
		}
		s.OutageFor(d)
		if s.IsDown() {
			t.Errorf("OutageFor(%v): down", d)
		}
		if n := logs.FilterMessage("outage started").Len(); n != 0 {
			t.Errorf("OutageFor(%v) logged \"outage started\" %d times: %v", d, n, logs.All())
		}
		// It replaces any other outage: one under way ends, and the log says so.
		s.Down()
		s.OutageFor(d)
		if s.IsDown() {
			t.Errorf("Down then OutageFor(%v): still down", d)
		}
		if n := logs.FilterMessage("outage ended").Len(); n != 1 {
			t.Errorf("Down then OutageFor(%v): %d \"outage ended\" lines, want 1: %v", d, n, logs.All())
		}
		s.Stop()
	}
}
