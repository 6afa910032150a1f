package retry_test

import (
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// driver advances a fake clock through each backoff sleep: it hears of the sleep from the
// RetryScheduled event, waits until the sleep's timer is set (base other timers + 1), then
// advances by the delay.
type driver struct {
	clk  *clocktest.Fake
	base int
	ch   chan time.Duration
	wg   sync.WaitGroup
}

func newDriver(t *testing.T, clk *clocktest.Fake, base int) *driver {
	d := &driver{clk: clk, base: base, ch: make(chan time.Duration)}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for delay := range d.ch {
			if delay <= 0 {
				continue // no timer for a zero sleep
			}
			d.clk.BlockUntil(d.base + 1)
			d.clk.Advance(delay)
		}
	}()
	t.Cleanup(d.stop)
	return d
}

func (d *driver) Observe(e observe.Event) {
	if e.Kind == observe.RetryScheduled {
		d.ch <- e.Delay
	}
}

var stopMu sync.Mutex

func (d *driver) stop() {
	stopMu.Lock()
	defer stopMu.Unlock()
	if d.ch != nil {
		close(d.ch)
		d.wg.Wait()
		d.ch = nil
	}
}

// seq returns a concurrency-safe random source that cycles through vals.
func seq(vals ...float64) func() float64 {
	var mu sync.Mutex
	i := 0
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v := vals[i%len(vals)]
		i++
		return v
	}
}

// setup is a policy on a fake clock starting at the real time (so that grpc, which reads
// deadlines against the real clock, accepts them), with a recorder and a driver.
type setup struct {
	clk *clocktest.Fake
	rec *testkit.Recorder
	drv *driver
	p   *retry.Policy
}

func newSetup(t *testing.T, cfg retry.Config, base int, opts ...retry.Option) *setup {
	t.Helper()
	s := &setup{clk: clocktest.New(time.Now()), rec: &testkit.Recorder{}}
	var sink observe.Sink = s.rec
	if base >= 0 {
		s.drv = newDriver(t, s.clk, base)
		sink = observe.Multi(s.rec, s.drv)
	} else {
		s.drv = &driver{} // the test drives the clock itself
	}
	opts = append([]retry.Option{retry.WithClock(s.clk), retry.WithRand(seq(0.5)), retry.WithObserver(sink)}, opts...)
	p, err := retry.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.p = p
	return s
}

func (s *setup) dial(t *testing.T, srv *testkit.Server, extra ...grpc.UnaryClientInterceptor) *grpc.ClientConn {
	chain := append([]grpc.UnaryClientInterceptor{s.p.Unary()}, extra...)
	return srv.Dial(t, grpc.WithChainUnaryInterceptor(chain...), grpc.WithStreamInterceptor(s.p.Stream()))
}

func (s *setup) delays() []time.Duration {
	var out []time.Duration
	for _, e := range s.rec.Events(observe.RetryScheduled) {
		out = append(out, e.Delay)
	}
	return out
}

func ms(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

// xRetryAttempt is the deprecated header retries still send (AttemptMetadataKey), written out
// so that the tests check the wire name without using the deprecated constant.
const xRetryAttempt = "x-retry-attempt"
