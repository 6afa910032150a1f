package stub

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestStopRightAfterStartLogsNoError: stopping a stub that has just started (a batch of 0
// verifications, a test) is an ordinary stop, not an error.
func TestStopRightAfterStartLogsNoError(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	for range 30 {
		s, err := Start(context.Background(), Config{StopTimeout: time.Second}, WithLogger(zap.New(core)))
		if err != nil {
			t.Fatal(err)
		}
		s.Stop()
	}
	for _, e := range logs.All() {
		t.Errorf("%s %q %v", e.Level, e.Message, e.ContextMap())
	}
}
