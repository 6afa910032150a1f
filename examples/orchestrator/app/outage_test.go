package app

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
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

// blockingCore is a zap core whose first Write signals entered and waits for release.
type blockingCore struct {
	zapcore.LevelEnabler
	entered, release chan struct{}
	once             *sync.Once
}

func (c blockingCore) With([]zapcore.Field) zapcore.Core { return c }
func (c blockingCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}
func (c blockingCore) Write(zapcore.Entry, []zapcore.Field) error {
	c.once.Do(func() { close(c.entered); <-c.release })
	return nil
}
func (c blockingCore) Sync() error { return nil }

// TestOutageStopWaitsForAStartUnderWay: the batch stops the outage's timer, then stops the
// stubs and prints its summary. A timer that had already fired was not waited for: its
// outage could start on stubs being stopped, and "outage started" show after the summary of
// a batch it never touched. Stop returns once a start under way is over.
func TestOutageStopWaitsForAStartUnderWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core := blockingCore{LevelEnabler: zapcore.DebugLevel, entered: make(chan struct{}), release: make(chan struct{}), once: new(sync.Once)}
		f := &flags{outageFor: time.Minute, outageAt: time.Second, outageServices: []string{stub.ServiceOCR}}
		stop := scheduleOutage(f, map[string]*stub.Stub{}, zap.New(core))
		time.Sleep(time.Second)
		<-core.entered // the outage is starting
		stopped := make(chan struct{})
		go func() { stop(); close(stopped) }()
		synctest.Wait()
		select {
		case <-stopped:
			t.Error("the outage's stop returned while its start was still under way")
		default:
		}
		close(core.release)
		<-stopped
		stop() // a second stop returns at once
	})
}
