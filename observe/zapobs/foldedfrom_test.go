package zapobs_test

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit/breakerwalk"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A breaker whose held sink folds closed → open → half_open → open into one closed → open
// line, with folded_trips 1, says on it that its own open was a reopen (last_from
// half_open): the line stands for one trip and one reopen, not the two trips that from →
// to and folded_trips alone read as. A line of one change has no last_from.
func TestFoldedOpenLineSaysWhatOpenedIt(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	r := breakerwalk.NewRig(t, zapobs.New(zap.New(core)), "test.v1.FoldedLine", at)
	br, clk, sink, allowed, fail := r.Breaker, r.Clock, r.Sink, r.Allowed, breakerwalk.Fail
	var wg sync.WaitGroup
	release := sync.OnceFunc(func() { close(sink.Release); wg.Wait() })
	defer release()
	p := allowed()
	wg.Go(func() { p.Done(fail) }) // closed → open, held in Observe.
	<-sink.Entered
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
	o, c, h, f := breaker.Open, breaker.Closed, breaker.HalfOpen, breaker.ForcedOpen
	// After the held trip, 15 changes fill the queue with the 16th, a trip, and open →
	// half_open folds into it (seed 0).
	paths := [][]breaker.State{{o, h, c, o, h, c, o, h, c, o, h, c, f, c, f, c, o, h}}
	for seed := range uint64(20) {
		paths = append(paths, breakerwalk.RandomPath(rand.New(rand.NewPCG(seed, 17))))
	}
	for seed, path := range paths {
		t.Run("seed "+strconv.Itoa(seed), func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			made := breakerwalk.Walk(t, zapobs.New(zap.New(core)), "test.v1.FoldedWalk", at, path)
			lines := logs.FilterMessage(zapobs.MsgBreakerChanged).All()
			own, withLastFrom := map[breakerwalk.Pair]int{}, 0
			for _, l := range lines {
				m := l.ContextMap()
				from, _ := m["from"].(string)
				if lf, ok := m["last_from"].(string); ok {
					from = lf
					withLastFrom++
				}
				to, _ := m["to"].(string)
				own[breakerwalk.Pair{from, to}]++
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
