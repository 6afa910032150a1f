package zapobs_test

import (
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// heldSink passes every event on to next, but holds the first BreakerStateChanged in Observe
// until release is closed (a sink behind a blocked writer), telling entered when it holds it.
type heldSink struct {
	next             observe.Sink
	once             sync.Once
	entered, release chan struct{}
}

func (h *heldSink) Observe(e observe.Event) {
	if e.Kind == observe.BreakerStateChanged {
		h.once.Do(func() {
			close(h.entered)
			<-h.release
		})
	}
	h.next.Observe(e)
}

// A breaker whose held sink folds closed → open → half_open → open into one closed → open
// line, with folded_trips 1, says on it that its own open was a reopen (opened_from
// half_open): the line stands for one trip and one reopen, not the two trips that from →
// to and folded_trips alone read as. A line of one change has no opened_from.
func TestFoldedOpenLineSaysWhatOpenedIt(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	sink := &heldSink{next: zapobs.New(zap.New(core)), entered: make(chan struct{}), release: make(chan struct{})}
	clk := clocktest.New(at)
	br, err := breaker.New("test.v1.FoldedLine", breaker.Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: time.Second, RecoveryTimeout: time.Minute},
		breaker.WithClock(clk), breaker.WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	fail := status.Error(grpccodes.Unavailable, "down")
	allowed := func() breaker.Permit {
		t.Helper()
		p, err := br.Allow()
		if err != nil {
			t.Fatalf("Allow in %v: %v", br.State(), err)
		}
		return p
	}
	var wg sync.WaitGroup
	release := sync.OnceFunc(func() { close(sink.release); wg.Wait() })
	defer release()
	p := allowed()
	wg.Go(func() { p.Done(fail) }) // closed → open, held in Observe.
	<-sink.entered
	// 15 changes, the last a trip, wait in the breaker's queue; open → half_open, the 16th,
	// and half_open → open, which cancels it out, fold into that trip.
	for range 5 {
		clk.Advance(time.Minute)
		br.State()           // open → half_open
		allowed().Done(nil)  // half_open → closed
		allowed().Done(fail) // closed → open
	}
	clk.Advance(time.Minute)
	br.State()           // open → half_open
	allowed().Done(fail) // half_open → open, folded
	release()

	lines := logs.FilterMessage(zapobs.MsgBreakerChanged).All()
	if len(lines) != 16 {
		t.Fatalf("%d breaker lines, want 16 (the held one and the 15 queued)", len(lines))
	}
	for i, l := range lines[:15] {
		if v, ok := l.ContextMap()["opened_from"]; ok {
			t.Errorf("line %d, of one change, has opened_from %v", i, v)
		}
	}
	got := lines[15].ContextMap()
	want := map[string]any{"from": "closed", "to": "open", "folded_trips": int64(1), "opened_from": "half_open"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("folded line %s = %#v, want %#v (fields %v)", k, got[k], w, got)
		}
	}
	if _, ok := got["folded_reopens"]; ok {
		t.Errorf("folded line has folded_reopens: %v", got)
	}
}
