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
		s, logs := startLogged(t)
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

// Regression: Up (POST /up) logged "outage ended" even when no outage was under way, so an
// operator who sent /up to be sure read in the log that the service had been down.
func TestUpWithoutOutageLogsNoEnd(t *testing.T) {
	s, logs := startLogged(t)
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

// startLogged starts a stub on a fake clock and a bufconn listener, its Info lines kept.
func startLogged(t *testing.T) (*Stub, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := Start(context.Background(), Config{}, WithClock(clocktest.New(time.Time{})), WithLogger(zap.New(core)),
		WithListener(bufconn.Listen(1<<16)))
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

// Regression: Down (POST /down) while an outage was already under way logged "outage
// started" a second time, so a log reader counted two outages where there was one.
func TestDownWhileDownLogsNoSecondStart(t *testing.T) {
	s, logs := startLogged(t)
	defer s.Stop()
	s.Down()
	s.Down()
	s.OutageFor(time.Minute)
	s.Down()
	if n := logs.FilterMessage("outage started").Len(); n != 2 {
		t.Errorf("Down, Down, OutageFor, Down: %d \"outage started\" lines, want 2 (Down, then OutageFor's own): %v", n, logs.All())
	}
	s.Up()
	s.Down()
	if n := logs.FilterMessage("outage started").Len(); n != 3 {
		t.Errorf("after Up, Down: %d \"outage started\" lines, want 3: %v", n, logs.All())
	}
}
