package redislimit

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
)

// deadAddr returns a loopback address nothing listens on: every dial is refused at once.
func deadAddr(t *testing.T) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// A suite builds one limiter per service, so services that share a fleet-wide bucket
// (rate_limit.shared with a redis section) in one process get a limiter each from the factory,
// with the shared name as their key. While Redis is down the fail-open guard answers: it is
// "a local guard (same rate and burst, in this process)", so the process admits the bucket's
// burst and rate between those services, as a local shared bucket would, not a burst and a
// rate for each of them. Limiters of other buckets, or of the same bucket with another limit,
// keep guards of their own.
func TestFactoryLimitersOfOneBucketShareTheGuard(t *testing.T) {
	fake := clocktest.New(time.Time{})
	env := func(service string) ratelimit.RemoteEnv {
		return ratelimit.RemoteEnv{Service: service, Clock: fake}
	}
	addr, p := deadAddr(t), prefix(t)
	cfg := func(rate float64, burst int) ratelimit.Config {
		c := config(addr, p, rate, burst)
		c.Redis.FailOpen = true
		return c
	}
	shared := cfg(1, 3)
	factory := Factory(nil)
	build := func(key string, c ratelimit.Config, service string) *Limiter {
		lim, closer, err := factory(key, c, env(service))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = closer.Close() })
		return lim.(*Limiter)
	}
	ocr := build("kyc", shared, "kyc.v1.OCRService")
	face := build("kyc", shared, "kyc.v1.FaceMatchService")

	admitted := 0
	for i := range 12 { // the clock stands still: no token comes back
		l := []*Limiter{ocr, face}[i%2]
		d, err := l.Take(context.Background(), 0)
		if err != nil {
			t.Fatalf("take %d: %v; want the fail-open guard's answer", i+1, err)
		}
		if d.Allowed {
			admitted++
		}
	}
	if admitted != 3 {
		t.Errorf("two services of one shared bucket (burst 3) with Redis down: %d of 12 admitted, want 3", admitted)
	}
	if ocr.Degraded() != 6 || face.Degraded() != 6 {
		t.Errorf("Degraded %d and %d, want 6 each", ocr.Degraded(), face.Degraded())
	}

	// Another bucket, and the same one under another limit, have guards of their own.
	for _, l := range []*Limiter{
		build("other", shared, "kyc.v1.LivenessService"),
		build("kyc", cfg(1, 2), "kyc.v1.LivenessService"),
	} {
		if d, err := l.Take(context.Background(), 0); err != nil || !d.Allowed {
			t.Errorf("%s (burst %d): first Take = %+v, %v; want admitted by a guard of its own", l.Key(), l.limit.Burst, d, err)
		}
	}
}

// funcClock is a clock that == cannot compare (a struct holding a func): no two limiters can
// be told to share it, so each keeps a guard of its own, and nothing panics.
type funcClock struct {
	*clocktest.Fake
	tag func()
}

// The guard answers in the times of its limiter's clock (x/time/rate takes the time of every
// take): two suites given one factory but clocks of their own (a test's fake and another, or
// clock.Real) that shared a guard mixed the two clocks' times in one bucket, and one suite's
// takes emptied the other's. A guard is shared by the limiters of one bucket and one clock.
func TestFactoryGuardsOfOtherClocksAreApart(t *testing.T) {
	addr, p := deadAddr(t), prefix(t)
	cfg := config(addr, p, 1, 1)
	cfg.Redis.FailOpen = true
	factory := Factory(nil)
	build := func(c clock.Clock, service string) *Limiter {
		lim, closer, err := factory("kyc", cfg, ratelimit.RemoteEnv{Service: service, Clock: c})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = closer.Close() })
		return lim.(*Limiter)
	}
	first, second := clocktest.New(time.Time{}), clocktest.New(time.Time{})
	odd := funcClock{Fake: clocktest.New(time.Time{}), tag: func() {}}
	a := build(first, "kyc.v1.OCRService")
	for _, tt := range []struct {
		name      string
		l         *Limiter
		wantAdmit bool
	}{
		{"the first clock's limiter", a, true},
		{"the first clock's limiter again (its burst of 1 spent)", a, false},
		{"a limiter of the first clock, other service", build(first, "kyc.v1.FaceMatchService"), false},
		{"a limiter of another clock", build(second, "kyc.v1.LivenessService"), true},
		{"a limiter of a clock == cannot compare", build(odd, "kyc.v1.LivenessService"), true},
	} {
		d, err := tt.l.Take(context.Background(), 0)
		if err != nil || d.Allowed != tt.wantAdmit {
			t.Errorf("%s, Redis down, fail open: Take = %+v, %v; want Allowed %v", tt.name, d, err, tt.wantAdmit)
		}
	}
}
