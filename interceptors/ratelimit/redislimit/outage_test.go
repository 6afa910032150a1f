package redislimit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	grpccodes "google.golang.org/grpc/codes"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	bconfig "github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

var (
	outageSeed     = flag.Uint64("outage.seed", 56, "seed of TestRedisOutageStress's faults, waves and calls")
	outageEpisodes = flag.Int("outage.episodes", 6, "faults TestRedisOutageStress drives Redis through")
)

// The outage stress test's limit: one call per 1000s, so that no token comes back during the
// test, however slow the machine: the shared bucket admits exactly its burst per Redis life.
const (
	outageRate     = 0.001
	outageBurst    = 12
	outageShared   = "kyc"
	outageTimeout  = time.Second     // the Redis timeout: generous for a loaded machine
	outageDeadline = 5 * time.Second // each call's deadline
	outageMargin   = 3 * time.Second // how late past its deadline a call may return
	outageProbe    = time.Second     // the probe pause, on the replicas' fake clocks
)

// outcome is what a call through a replica's suite ended with.
type outcome int

const (
	admitted    outcome = iota // the call reached the server
	limited                    // ResourceExhausted RATE_LIMITED, with a RetryAfter
	unavailable                // Unavailable RATE_LIMITER_UNAVAILABLE, naming the limiter and Redis's failure
)

// replica is one process of the fleet: a suite of its own with a Factory of its own (so a
// Redis client and pool of its own) and a fake clock, whose OCR (unary) and Liveness (client
// stream) services draw on the shared bucket outageShared.
type replica struct {
	failOpen bool
	clk      *clocktest.Fake
	rec      *testkit.Recorder
	suite    *interceptors.Suite
	ocr      kycv1.OCRServiceClient
	live     kycv1.LivenessServiceClient
	srv      *testkit.Server

	mu   sync.Mutex
	lims []*Limiter // the limiters the suite built (one per service)
}

func newReplica(t *testing.T, addr, prefix string, failOpen bool) *replica {
	t.Helper()
	r := &replica{failOpen: failOpen, clk: clocktest.New(time.Now()), rec: &testkit.Recorder{}}
	limit := &ratelimit.Config{Rate: outageRate, Burst: outageBurst, Shared: outageShared,
		Redis: &ratelimit.RedisConfig{Addr: addr, KeyPrefix: prefix, Timeout: outageTimeout, FailOpen: failOpen}}
	cfg := &bconfig.Config{
		Profiles: map[string]bconfig.Profile{"limited": {RateLimit: limit}},
		Services: map[string]bconfig.Service{
			"kyc.v1.OCRService":      {Profile: "limited"},
			"kyc.v1.LivenessService": {Profile: "limited"},
		},
	}
	factory := Factory(nil, WithProbeInterval(outageProbe))
	suite, err := interceptors.New(cfg, interceptors.WithClock(r.clk), interceptors.WithObserver(r.rec),
		interceptors.WithRemoteLimiter(func(key string, c ratelimit.Config, env ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
			l, closer, err := factory(key, c, env)
			if err == nil {
				r.mu.Lock()
				r.lims = append(r.lims, l.(*Limiter))
				r.mu.Unlock()
			}
			return l, closer, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.Close() })
	r.suite = suite
	r.srv = testkit.Start(t, &testkit.Server{})
	cc := r.srv.Dial(t, suite.DialOptions()...)
	r.ocr = kycv1.NewOCRServiceClient(cc)
	r.live = kycv1.NewLivenessServiceClient(cc)
	return r
}

func (r *replica) name() string {
	return map[bool]string{false: "fail-closed", true: "fail-open"}[r.failOpen]
}

func (r *replica) limiters() []*Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Limiter(nil), r.lims...)
}

func (r *replica) degraded() uint64 {
	var n uint64
	for _, l := range r.limiters() {
		n += l.Degraded()
	}
	return n
}

// guardTokens returns the tokens of the replica's fail-open guard (one for both services: the
// Factory shares it) at its clock's now, 0 when it fails closed or has no limiter yet.
func (r *replica) guardTokens() float64 {
	for _, l := range r.limiters() {
		if l.local != nil {
			return l.local.TokensAt(r.clk.Now())
		}
	}
	return 0
}

// poolConns returns the connections of the replica's Redis client (one for both services:
// the Factory shares it) and its pool size.
func (r *replica) poolConns() (total, size int) {
	for _, l := range r.limiters() {
		c := l.client.(*redis.Client)
		return int(c.PoolStats().TotalConns), c.Options().PoolSize
	}
	return 0, 0
}

// call makes one unary or client-streaming call and classifies its outcome; an outcome that is
// none of the documented ones is an error.
func (r *replica) call(stream bool) (outcome, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), outageDeadline)
	defer cancel()
	start := time.Now()
	var err error
	if stream {
		var cs kycv1.LivenessService_CheckClient
		if cs, err = r.live.Check(ctx); err == nil {
			if err = cs.Send(&kycv1.CheckRequest{Index: 1}); err == nil || errors.Is(err, io.EOF) {
				_, err = cs.CloseAndRecv()
			}
		}
	} else {
		_, err = r.ocr.Extract(ctx, &kycv1.ExtractRequest{})
	}
	took := time.Since(start)
	if err == nil {
		return admitted, took, nil
	}
	rej, ok := rejection(err)
	switch {
	case !ok:
	case rej.Code == grpccodes.ResourceExhausted && rej.Reason == ratelimit.ReasonLimited && rej.RetryAfter > 0 &&
		strings.Contains(err.Error(), `by shared bucket "kyc"`):
		return limited, took, nil
	case rej.Code == grpccodes.Unavailable && rej.Reason == ratelimit.ReasonUnavailable && !r.failOpen &&
		errors.Is(err, ErrUnavailable) && errors.Is(err, ratelimit.ErrUnavailable) &&
		strings.Contains(err.Error(), "redislimit: limiter kyc: redis unavailable: "):
		return unavailable, took, nil
	}
	return 0, took, fmt.Errorf("%s replica, stream %v: %w (after %v)", r.name(), stream, err, took)
}

// tally is what one wave of calls through a replica did.
type tally struct {
	calls, byOutcome   [3]int // calls: unary, stream (index 0, 1); byOutcome by outcome
	degraded, events   int    // Degraded()'s growth; LimiterDegraded events emitted
	guardTaken, fromRS int    // admitted by the fail-open guard; admitted by Redis
}

func (a tally) String() string {
	return fmt.Sprintf("%d calls: %d admitted (%d by Redis, %d by the guard), %d limited, %d unavailable; %d degraded",
		a.calls[0]+a.calls[1], a.byOutcome[admitted], a.fromRS, a.guardTaken, a.byOutcome[limited], a.byOutcome[unavailable], a.degraded)
}

// wave makes n calls through r, workers at a time, each a stream or not as rng says, and
// checks what holds whatever Redis did: every call returns, in time, with a documented
// outcome, and every call the fail mode answered is counted by Degraded and a LimiterDegraded
// event of the replica's mode. It returns the wave's tally.
func (r *replica) wave(t *testing.T, rng *rand.Rand, n, workers int) tally {
	t.Helper()
	streams := make([]bool, n)
	for i := range streams {
		streams[i] = rng.IntN(3) == 0
	}
	var tl tally
	for _, s := range streams {
		tl.calls[map[bool]int{false: 0, true: 1}[s]]++
	}
	want := map[bool]string{false: ReasonFailClosed, true: ReasonFailOpen}[r.failOpen]
	deg0, ev0, tok0 := r.degraded(), len(r.rec.Events(observe.LimiterDegraded)), r.guardTokens()

	var (
		mu   sync.Mutex
		errs []error
		next = make(chan bool)
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for s := range next {
				o, took, err := r.call(s)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, err)
				case took > outageDeadline+outageMargin:
					errs = append(errs, fmt.Errorf("%s replica: a call returned after %v, past its deadline %v and margin %v", r.name(), took, outageDeadline, outageMargin))
				default:
					tl.byOutcome[o]++
				}
				mu.Unlock()
			}
		})
	}
	for _, s := range streams {
		next <- s
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if i == 5 {
			t.Errorf("... and %d more", len(errs)-i)
			break
		}
		t.Error(err)
	}

	events := r.rec.Events(observe.LimiterDegraded)[ev0:]
	tl.degraded, tl.events = int(r.degraded()-deg0), len(events)
	for _, ev := range events {
		if ev.Reason != want || (ev.Service != "kyc.v1.OCRService" && ev.Service != "kyc.v1.LivenessService") || ev.Policy != observe.PolicyRateLimit {
			t.Errorf("%s replica: LimiterDegraded %+v, want reason %s for one of the limited services", r.name(), ev, want)
			break
		}
	}
	if tl.events != tl.degraded {
		t.Errorf("%s replica: %d LimiterDegraded events, Degraded() grew by %d", r.name(), tl.events, tl.degraded)
	}
	// The fake clock stands still during a wave: the guard's tokens fell by one per call it
	// admitted, and by nothing else.
	if r.failOpen {
		taken := tok0 - r.guardTokens()
		tl.guardTaken = int(math.Round(taken))
		if math.Abs(taken-float64(tl.guardTaken)) > 1e-6 || tl.guardTaken < 0 || tl.guardTaken > tl.degraded || taken > tok0+1e-6 {
			t.Errorf("%s replica: the guard's tokens fell by %v with %d calls degraded", r.name(), taken, tl.degraded)
		}
	} else if tl.byOutcome[unavailable] != tl.degraded {
		t.Errorf("%s replica: %d calls refused Unavailable, Degraded() grew by %d: each degraded call is a refusal", r.name(), tl.byOutcome[unavailable], tl.degraded)
	}
	tl.fromRS = tl.byOutcome[admitted] - tl.guardTaken
	if total, size := r.poolConns(); total > size {
		t.Errorf("%s replica: %d connections in a pool of %d", r.name(), total, size)
	}
	return tl
}

// waves runs a wave of min to min+spread calls through each replica, all at once, and returns
// their tallies. The calls, their number and the workers are drawn from rng before any starts.
func waves(t *testing.T, rng *rand.Rand, reps []*replica, min, spread int) []tally {
	t.Helper()
	rngs := make([]*rand.Rand, len(reps))
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	}
	out := make([]tally, len(reps))
	var wg sync.WaitGroup
	for i, r := range reps {
		wg.Go(func() { out[i] = r.wave(t, rngs[i], min+rngs[i].IntN(spread), 2+rngs[i].IntN(12)) })
	}
	wg.Wait()
	return out
}

// recover ends the replica's probe pauses: it waits until the replica's Redis client answers
// a PING (after PoolSize failed dials go-redis fails every command at once with the last dial
// error until a dial of its own, once a second in real time, succeeds), then moves the
// replica's clock past the pause and makes one unary and one stream call, serially, until
// neither was answered by the fail mode. It returns the tally of those calls.
func (r *replica) recover(t *testing.T) tally {
	t.Helper()
	testkit.Eventually(t, r.name()+" replica: its Redis client answers a PING", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), outageTimeout)
		defer cancel()
		return r.limiters()[0].client.Ping(ctx).Err() == nil
	})
	var sum tally
	for range 20 {
		r.clk.Advance(outageProbe + time.Millisecond)
		var tl tally
		for _, s := range []bool{false, true} {
			deg0, tok0 := r.degraded(), r.guardTokens()
			o, _, err := r.call(s)
			if err != nil {
				t.Fatal(err)
			}
			tl.byOutcome[o]++
			tl.calls[map[bool]int{false: 0, true: 1}[s]]++
			if d := r.degraded() - deg0; d > 0 {
				tl.degraded += int(d)
				if r.failOpen {
					tl.guardTaken += int(math.Round(tok0 - r.guardTokens()))
				}
			}
		}
		tl.fromRS = tl.byOutcome[admitted] - tl.guardTaken
		sum = sum.add(tl)
		if tl.degraded == 0 {
			return sum
		}
	}
	t.Fatalf("%s replica: Redis still not asked after 20 probes: %v", r.name(), sum)
	return sum
}

func (a tally) add(b tally) tally {
	for i := range a.calls {
		a.calls[i] += b.calls[i]
	}
	for i := range a.byOutcome {
		a.byOutcome[i] += b.byOutcome[i]
	}
	a.degraded += b.degraded
	a.events += b.events
	a.guardTaken += b.guardTaken
	a.fromRS += b.fromRS
	return a
}

// TestRedisOutageStress drives two replicas (each a suite built the way configuration builds
// it, with a Redis client of its own: one failing open, one failing closed) through a
// redis-server that is killed and started again on its port, frozen (SIGSTOP) and made slow
// (DEBUG SLEEP), in a seeded order, with concurrent unary and client-streaming calls before,
// during and after each fault. Whatever the timing, it checks that every call returns within
// its deadline with a documented outcome; while Redis is down or frozen, that the fail-closed
// replica refuses every call Unavailable, naming the limiter and the failure, and the fail-open
// one answers every call by its guard; that Degraded(), the LimiterDegraded events and the
// guard's tokens agree with the outcomes counted; that while Redis answers, no call is
// degraded and the two replicas together are admitted at most the shared burst per life of
// the server (exactly the burst when no fault may have taken a token); that each client's
// pool stays within its size; and (TestMain) that no goroutine is left.
func TestRedisOutageStress(t *testing.T) {
	s := ownServer(t)
	seed := *outageSeed
	t.Logf("seed %d (-outage.seed)", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pfx := prefix(t)
	reps := []*replica{newReplica(t, s.addr, pfx, false), newReplica(t, s.addr, pfx, true)}
	admin := redis.NewClient(&redis.Options{Addr: s.addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = admin.Close() })

	// life is what the replicas were admitted by Redis since the bucket was last full (Redis
	// started, or the test deleted the key); lossy says a fault may have run a step nobody
	// heard since (a frozen or slow Redis runs it later), taking a token no call was admitted
	// with. late carries lossy over to the next segment: a step a frozen or slow Redis
	// received on a connection it had not accepted yet may run after the key is deleted, as
	// Redis accepts connections and reads them in an order of its own.
	var (
		life        int
		lossy, late bool
		lives       []int
	)
	endLife := func(why string) {
		if lives == nil { // the test's start: no segment before it
			lives = []int{}
			return
		}
		if life > outageBurst || (!lossy && life != outageBurst) {
			t.Errorf("%s: the replicas were admitted %d calls by Redis in its life, want %s the shared burst %d",
				why, life, map[bool]string{false: "exactly", true: "at most"}[lossy], outageBurst)
		}
		lives = append(lives, life)
		life, lossy, late = 0, late, false
	}
	var key string
	upWave := func(what string) {
		endLife(what)
		// A full bucket again, so that every segment admits calls (no token comes back at
		// this rate).
		testkit.Eventually(t, "the test's own client deletes the bucket", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), outageTimeout)
			defer cancel()
			return admin.Del(ctx, key).Err() == nil
		})
		for _, r := range reps {
			life += r.recover(t).fromRS
		}
		for i, tl := range waves(t, rng, reps, outageBurst, 2*outageBurst) {
			r := reps[i]
			t.Logf("%s, %s replica: %v", what, r.name(), tl)
			if tl.degraded != 0 {
				t.Errorf("%s, %s replica: %d calls degraded while Redis answers, want none", what, r.name(), tl.degraded)
			}
			life += tl.fromRS
		}
	}
	faultWave := func(what string, certain bool) {
		// The fail-open replica's guard gets back a seeded number of tokens (its clock moves
		// past the probe pause too: the first call probes Redis, and fails).
		reps[1].clk.Advance(time.Duration(rng.IntN(outageBurst+1)) * time.Duration(float64(time.Second)/outageRate))
		for i, tl := range waves(t, rng, reps, 10, 40) {
			r := reps[i]
			t.Logf("%s, %s replica: %v", what, r.name(), tl)
			n := tl.calls[0] + tl.calls[1]
			if certain && tl.degraded != n {
				t.Errorf("%s, %s replica: %d of %d calls degraded, want every one answered by the fail mode", what, r.name(), tl.degraded, n)
			}
			if certain && tl.fromRS != 0 {
				t.Errorf("%s, %s replica: %d calls admitted by Redis while it was down", what, r.name(), tl.fromRS)
			}
			life += tl.fromRS
		}
	}

	if len(reps[0].limiters()) == 0 {
		t.Fatal("the suite built no Redis limiter")
	}
	key = reps[0].limiters()[0].Key()
	upWave("start")
	for ep := range *outageEpisodes {
		switch kind := rng.IntN(3); kind {
		case 0:
			what := fmt.Sprintf("episode %d: killed", ep)
			s.kill()
			faultWave(what, true)
			if err := s.start(); err != nil {
				t.Fatalf("%s: restarting redis-server on %s: %v", what, s.addr, err)
			}
			upWave(fmt.Sprintf("episode %d: restarted", ep))
		case 1:
			what := fmt.Sprintf("episode %d: frozen", ep)
			s.stall()
			lossy, late = true, true
			faultWave(what, true)
			s.resume()
			upWave(fmt.Sprintf("episode %d: thawed", ep))
		case 2:
			what := fmt.Sprintf("episode %d: slow", ep)
			sleep := outageTimeout + time.Duration(rng.IntN(int(outageTimeout/time.Millisecond)))*time.Millisecond
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), sleep+outageDeadline)
				defer cancel()
				done <- admin.Do(ctx, "DEBUG", "SLEEP", fmt.Sprintf("%.3f", sleep.Seconds())).Err()
			}()
			lossy, late = true, true
			faultWave(what, false) // some calls may come before the sleep or after it
			if err := <-done; err != nil {
				t.Fatalf("%s: DEBUG SLEEP: %v", what, err)
			}
			upWave(fmt.Sprintf("episode %d: awake", ep))
		}
	}
	endLife("end")
	t.Logf("Redis admitted %v calls per life (burst %d)", lives, outageBurst)
	for _, r := range reps {
		total, size := r.poolConns()
		t.Logf("%s replica: %d connections in its pool of %d", r.name(), total, size)
	}
}
