package app

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestOutageAtZeroInForceAtOnce: an -outage without -outage-at is in force when
// scheduleOutage returns, so that the batch's first call finds the service down however busy
// the machine is; a later one starts on its timer, and cancelling stops it.
func TestOutageAtZeroInForceAtOnce(t *testing.T) {
	s, err := stub.Start(context.Background(), stub.Config{Services: []string{stub.ServiceOCR}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	stubs := map[string]*stub.Stub{stub.ServiceOCR: s}

	later := &flags{outageFor: time.Minute, outageAt: time.Hour, outageServices: []string{stub.ServiceOCR}}
	cancel := scheduleOutage(later, stubs, zap.NewNop())
	if s.IsDown() {
		t.Fatal("an outage an hour away is in force at once")
	}
	cancel()

	now := &flags{outageFor: time.Minute, outageServices: []string{stub.ServiceOCR}}
	defer scheduleOutage(now, stubs, zap.NewNop())()
	if !s.IsDown() {
		t.Error("an outage at 0 is not in force when scheduleOutage returns")
	}
}

// TestOutageStartShowsAtWarn: the README promises that at the default level (warn) a run
// shows an outage starting; the line was logged at info, so a default run never showed it.
func TestOutageStartShowsAtWarn(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	f := &flags{outageFor: time.Minute, outageServices: []string{stub.ServiceOCR}}
	defer scheduleOutage(f, map[string]*stub.Stub{}, zap.New(core))()
	if n := logs.FilterMessage("outage started").Len(); n != 1 {
		t.Errorf("%d \"outage started\" lines at warn, want 1", n)
	}
}
