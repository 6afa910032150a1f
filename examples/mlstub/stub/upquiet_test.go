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

// Regression: Up (POST /up) logged "outage ended" even when no outage was under way, so an
// operator who sent /up to be sure read in the log that the service had been down.
func TestUpWithoutOutageLogsNoEnd(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	fake := clocktest.New(time.Time{})
	s, err := Start(context.Background(), Config{}, WithClock(fake), WithLogger(zap.New(core)),
		WithListener(bufconn.Listen(1<<16)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.Up()
	if n := logs.FilterMessage("outage ended").Len(); n != 0 {
		t.Errorf("Up with no outage logged \"outage ended\" %d times: %v", n, logs.All())
	}
	s.Down()
	s.Up()
	s.Up()
	if n := logs.FilterMessage("outage ended").Len(); n != 1 {
		t.Errorf("Down, Up, Up: %d \"outage ended\" lines, want 1: %v", n, logs.All())
	}
}
