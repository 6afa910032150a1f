package zapobs_test

import (
	"math/rand/v2"
	"strconv"
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
// line, with folded_trips 1, says on it that its own open was a reopen (last_from
// half_open): the line stands for one trip and one reopen, not the two trips that from →
// to and folded_trips alone read as. A line of one change has no last_from.
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
		if v, ok := l.ContextMap()["last_from"]; ok {
			t.Errorf("line %d, of one change, has last_from %v", i, v)
		}
	}
	got := lines[15].ContextMap()
	want := map[string]any{"from": "closed", "to": "open", "folded_trips": int64(1), "last_from": "half_open"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("folded line %s = %#v, want %#v (fields %v)", k, got[k], w, got)
		}
	}
	if _, ok := got["folded_reopens"]; ok {
		t.Errorf("folded line has folded_reopens: %v", got)
	}
}

// Every line a held sink's breaker writes for several changes folded into one says the from
// of the last of them (last_from), whatever its to, so that last_from → to (from → to on a
// line of one change) is always a transition the breaker made: closed → open → half_open,
// logged as from closed to half_open, says last_from open. Over seeded random walks, the
// operator's changes included, each line's own transition was made, no more often than the
// lines show it, and the lines that fold changes all say last_from.
func TestFoldedLinesSayTheirLastFrom(t *testing.T) {
	o, c, h, f, d := breaker.Open, breaker.Closed, breaker.HalfOpen, breaker.ForcedOpen, breaker.Disabled
	next := map[breaker.State][]breaker.State{
		c: {o, o, o, f, d},
		o: {h, h, h, f, c, d},
		h: {o, o, o, c, c, f, d},
		f: {c, d},
		d: {c, f},
	}
	// After the held trip, 15 changes fill the queue with the 16th, a trip, and open →
	// half_open folds into it (seed 0).
	paths := [][]breaker.State{{o, h, c, o, h, c, o, h, c, o, h, c, f, c, f, c, o, h}}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 17))
		path, s := []breaker.State{o}, o
		for range 40 + rng.IntN(200) {
			s = next[s][rng.IntN(len(next[s]))]
			path = append(path, s)
		}
		paths = append(paths, path)
	}
	for seed, path := range paths {
		t.Run("seed "+strconv.Itoa(seed), func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			made := walk(t, zapobs.New(zap.New(core)), path)
			lines := logs.FilterMessage(zapobs.MsgBreakerChanged).All()
			own, withLastFrom := map[[2]string]int{}, 0
			for _, l := range lines {
				m := l.ContextMap()
				from, _ := m["from"].(string)
				if lf, ok := m["last_from"].(string); ok {
					from = lf
					withLastFrom++
				}
				to, _ := m["to"].(string)
				own[[2]string{from, to}]++
			}
			for pair, n := range own {
				if n > made[pair] {
					t.Errorf("%d lines show %s → %s as their own change (last_from, or from), the breaker made it %d times (made: %v)", n, pair[0], pair[1], made[pair], made)
				}
			}
			if folded := len(path) - len(lines); folded > 0 && withLastFrom == 0 {
				t.Errorf("%d changes in %d lines, none with last_from", len(path), len(lines))
			}
			if seed == 0 {
				got := lines[len(lines)-1].ContextMap()
				want := map[string]any{"from": "closed", "to": "half_open", "last_from": "open", "folded_trips": int64(1)}
				for k, w := range want {
					if got[k] != w {
						t.Errorf("folded line %s = %#v, want %#v (fields %v)", k, got[k], w, got)
					}
				}
			}
		})
	}
}

// walk drives a breaker, whose sink is held from its first change on, along path (the states
// it moves to, one change each, the first a trip from closed), then releases the sink. It
// returns the transitions the breaker made, each (from, to) with the times it made it.
func walk(t *testing.T, next observe.Sink, path []breaker.State) map[[2]string]int {
	t.Helper()
	const maxWait = 10 * time.Second
	sink := &heldSink{next: next, entered: make(chan struct{}), release: make(chan struct{})}
	clk := clocktest.New(at)
	br, err := breaker.New("test.v1.FoldedWalk", breaker.Config{ConsecutiveFailures: 1, HalfOpenMaxCalls: 1,
		HalfOpenMaxWait: maxWait, InitialRecoveryTimeout: time.Second, RecoveryTimeout: time.Minute},
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
	defer release() // Should a step fail.
	made := map[[2]string]int{}
	for i, to := range path {
		from := br.State()
		switch {
		case to == breaker.ForcedOpen:
			br.ForceOpen()
		case to == breaker.Disabled:
			br.Disable()
		case to == breaker.Closed && from != breaker.HalfOpen:
			br.Reset()
		case from == breaker.Closed && to == breaker.Open:
			p := allowed()
			if i == 0 { // The first change: its event is held in Observe.
				wg.Go(func() { p.Done(fail) })
				<-sink.entered
			} else {
				p.Done(fail)
			}
		case from == breaker.Open && to == breaker.HalfOpen:
			clk.Advance(time.Minute)
			br.State()
		case from == breaker.HalfOpen && to == breaker.Closed:
			allowed().Done(nil)
		case from == breaker.HalfOpen && to == breaker.Open && i%2 == 0:
			allowed().Done(fail)
		case from == breaker.HalfOpen && to == breaker.Open:
			allowed() // A probe that never reports: given up on after HalfOpenMaxWait.
			clk.Advance(maxWait)
			br.Stats()
		default:
			t.Fatalf("step %d: no way from %v to %v", i, from, to)
		}
		if got := br.State(); got != to {
			t.Fatalf("step %d: %v → %v made %v", i, from, to, got)
		}
		made[[2]string{from.String(), to.String()}]++
	}
	release()
	return made
}
