package interceptors_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tickingClock is a fake clock whose every reading is 1ms after the one before, and which
// tells its hook of each reading, so that a test knows what else held when a time was read.
type tickingClock struct {
	timers *clocktest.Fake // never advanced: timers do not fire

	mu   sync.Mutex
	now  time.Time
	hook func(time.Time)
}

func (c *tickingClock) Now() time.Time {
	c.mu.Lock()
	c.now = c.now.Add(time.Millisecond)
	now, hook := c.now, c.hook
	c.mu.Unlock()
	if hook != nil {
		hook(now)
	}
	return now
}

func (c *tickingClock) NewTimer(d time.Duration) clock.Timer { return c.timers.NewTimer(d) }

func (c *tickingClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return c.timers.AfterFunc(d, f)
}

// A reload's Retired carries the time at which the reload took effect: a clock reading taken
// before the new configuration was published, so that the events of a replacement (calls that
// start after the reload) are later, and an observer that keeps a breaker's state from its
// events tells them from the retired breaker's. Stamped with a reading taken after the reload
// published its configuration, a replacement's first event could be as old as the Retired, and
// promobs and otelobs dropped the replacement's open state with the retired breaker's.
func TestReloadStampsRetiredWithItsCommitTime(t *testing.T) {
	const svc = "test.v1.RetiredTime"
	cfg := func(failures int) *config.Config {
		return &config.Config{
			Profiles: map[string]config.Profile{"p": {Breaker: &breaker.Config{ConsecutiveFailures: failures}}},
			Services: map[string]config.Service{svc: {Profile: "p", Methods: map[string]config.Method{"Do": {}}}},
		}
	}
	clk := &tickingClock{timers: clocktest.New(time.Time{}), now: time.Unix(1700000000, 0)}
	rec := &testkit.Recorder{}
	s, err := interceptors.New(cfg(3), interceptors.WithClock(clk), interceptors.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// For each reading from here on, the breaker settings in force when it was taken.
	var mu sync.Mutex
	inForce := map[time.Time]int{}
	clk.mu.Lock()
	clk.hook = func(now time.Time) {
		n := s.Config().Profiles["p"].Breaker.ConsecutiveFailures
		mu.Lock()
		inForce[now] = n
		mu.Unlock()
	}
	clk.mu.Unlock()

	if err := s.Reload(cfg(1)); err != nil { // replaces the service's breaker
		t.Fatal(err)
	}
	retired := rec.Events(observe.Retired)
	if len(retired) != 1 || retired[0].Policy != observe.PolicyBreaker {
		t.Fatalf("retired %+v, want the service's breaker", retired)
	}
	at := retired[0].Time
	mu.Lock()
	n, read := inForce[at]
	mu.Unlock()
	if !read || n != 3 {
		t.Fatalf("Retired at %v: a reading taken under consecutive_failures %v (read: %v), want one taken before the reload published its own (consecutive_failures 3)",
			at.Format(time.StampMilli), n, read)
	}

	// A call through the replacement trips it: its event is later than the Retired.
	fail := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	_ = s.Unary()(context.Background(), "/"+svc+"/Do", nil, nil, nil, fail)
	changed := rec.Events(observe.BreakerStateChanged)
	if len(changed) != 1 || changed[0].To != "open" {
		t.Fatalf("state changes %+v, want the replacement's trip to open", changed)
	}
	if !changed[0].Time.After(at) {
		t.Fatalf("the replacement opened at %v, not after its predecessor's Retired at %v", changed[0].Time, at)
	}
}
