package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	_ "google.golang.org/grpc/xds" // registers outlier_detection_experimental
)

// roundRobin is the base service config of a client balancing over several replicas.
const roundRobin = `{"loadBalancingConfig": [{"round_robin": {}}]}`

// quickBackoffs shortens the face-match service's backoffs and nothing else: its breaker,
// retry budget, hedging and adaptive throttle stay the built-in ml profile's.
const quickBackoffs = `
services:
  kyc.v1.FaceMatchService:
    retry: {initial_backoff: 5ms, max_backoff: 20ms, jitter_amount: 5ms}
`

// replicas is a face-match service run as three replicas behind one round_robin channel.
type replicas struct {
	stubs []*stub.Stub
	suite *interceptors.Suite
	brs   *breaker.Registry // the suite's breakers
	rec   *testkit.Recorder
	reg   *prometheus.Registry
	face  kycv1.FaceMatchServiceClient
}

// newReplicas starts one face-match stub per entry of faults and dials them all through one
// channel, with base as the service config's base (the suite writes its method configs in).
func newReplicas(t *testing.T, base string, faults ...stub.Faults) *replicas {
	t.Helper()
	return newReplicasConfig(t, quickBackoffs, base, faults...)
}

// newReplicasConfig is newReplicas with a configuration of its own (merged over the built-ins).
func newReplicasConfig(t *testing.T, yaml, base string, faults ...stub.Faults) *replicas {
	t.Helper()
	return newReplicasBreakers(t, yaml, base, new(breaker.Registry), faults...)
}

// newReplicasBreakers is newReplicasConfig with the suite's breakers taken from breakers (a
// registry whose breakers run on a fake clock).
func newReplicasBreakers(t *testing.T, yaml, base string, breakers *breaker.Registry, faults ...stub.Faults) *replicas {
	t.Helper()
	cfg, _, err := config.Parse("e2e.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r := &replicas{brs: breakers, rec: &testkit.Recorder{}, reg: prometheus.NewRegistry()}
	metrics, err := promobs.New(r.reg)
	if err != nil {
		t.Fatal(err)
	}
	r.suite, err = interceptors.New(cfg,
		interceptors.WithObserver(observe.Multi(metrics, r.rec)),
		interceptors.WithBreakerRegistry(breakers),
		interceptors.WithRand(seededRand(1, 2)))
	if err != nil {
		t.Fatalf("suite: %v", err)
	}
	t.Cleanup(func() { _ = r.suite.Close() })
	var addrs []resolver.Address
	for i := range faults {
		// Healthy until the warm-up below has reached every replica (see there).
		s, err := stub.Start(context.Background(), stub.Config{
			Services: []string{stub.ServiceFaceMatch}, Seed: int64(i + 1), StopTimeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		r.stubs = append(r.stubs, s)
		addrs = append(addrs, resolver.Address{Addr: s.Addr()})
	}
	res := manual.NewBuilderWithScheme("replicas")
	res.InitialState(resolver.State{Addresses: addrs})
	sc, err := r.suite.ServiceConfigOption(base)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(res.Scheme()+":///facematch", append(r.suite.DialOptions(), sc, grpc.WithResolvers(res),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	r.face = kycv1.NewFaceMatchServiceClient(cc)
	// Warm up with every replica healthy, then make the sick ones sick: round_robin picks
	// among the connections that are up, and on a busy machine a sick replica's may be up
	// before the healthy ones'. It then took every warm-up call, whose failures filled the
	// adaptive throttle's one-minute window (it has no reset a suite exposes) and the first
	// batch's calls were refused, 28 of 30 in one run: a test of the warm-up, not of the
	// replicas.
	r.warmUp(t)
	for i, f := range faults {
		if err := r.stubs[i].SetFaults(f); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// tally is what n calls made one after another came to.
type tally struct {
	calls, ok, attempts, maxAttempts int
	retries                          int            // RetryScheduled events
	codes                            map[string]int // the codes of failed calls
	opened                           int            // breaker transitions to open
	budgetStops                      int            // calls whose retries the retry budget stopped
	tripCall                         int            // calls made when the breaker first changed state (0: never)
	rejected                         map[string]int // attempts refused by a policy, by policy
	reasons                          map[string]int // why failed calls stopped retrying
}

func (r *replicas) run(t *testing.T, n int) tally {
	t.Helper()
	r.rec.Reset()
	tl := tally{codes: map[string]int{}, reasons: map[string]int{}}
	for i := range n {
		var info retry.Info
		_, err := r.face.Compare(context.Background(), r.request(int64(i)), retry.Report(&info))
		tl.calls++
		tl.attempts += info.Attempts
		tl.maxAttempts = max(tl.maxAttempts, info.Attempts)
		if err == nil {
			tl.ok++
		} else {
			tl.codes[status.Code(err).String()]++
			tl.reasons[info.Reason]++
		}
		if tl.tripCall == 0 && r.rec.Count(observe.BreakerStateChanged) > 0 {
			tl.tripCall = tl.calls
		}
		if info.Reason == observe.ReasonRetryBudget {
			tl.budgetStops++
		}
	}
	for _, e := range r.rec.Events(observe.BreakerStateChanged) {
		if e.To == "open" {
			tl.opened++
		}
	}
	tl.retries = r.rec.Count(observe.RetryScheduled)
	tl.rejected = map[string]int{}
	for _, e := range r.rec.Events(observe.Rejected) {
		tl.rejected[e.Policy]++
	}
	return tl
}

// request is a face-match request that a healthy replica answers with MATCH.
func (r *replicas) request(seed int64) *kycv1.CompareRequest {
	return &kycv1.CompareRequest{Selfie: stub.Selfie(seed, true), DocumentFace: stub.DocumentImage(seed, false)}
}

// allServed reports whether every replica has received a call.
// warmUp calls until every replica has answered, so that round_robin cycles over all three
// (newReplicasBreakers, while every replica is healthy).
func (r *replicas) warmUp(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; !r.allServed(); i++ {
		if i == 1000 {
			t.Fatal("warm-up: a replica never received a call")
		}
		_, err := r.face.Compare(ctx, r.request(-1), grpc.WaitForReady(true), retry.Disable())
		if err != nil && status.Code(err) != grpccodes.Unavailable {
			t.Fatalf("warm-up: %v", err)
		}
	}
}

func (r *replicas) allServed() bool {
	for _, s := range r.stubs {
		if requestsTotal(s, stub.MethodCompare) == 0 {
			return false
		}
	}
	return true
}

func (tl tally) String() string {
	return fmt.Sprintf("%d/%d ok, %.2f attempts per call (max %d), %d retries, failed %v, breaker opened %d times, %d calls stopped by the retry budget, first state change after call %d, rejections %v, stops %v",
		tl.ok, tl.calls, float64(tl.attempts)/float64(tl.calls), tl.maxAttempts, tl.retries, tl.codes, tl.opened, tl.budgetStops, tl.tripCall, tl.rejected, tl.reasons)
}

// sick is a replica that fails every call with Unavailable while its connection stays up, so
// that round_robin keeps picking it.
var sick = stub.Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 1}}

// One replica of three failing every call costs a retry on the call that meets it, and
// nothing else: a third of the attempts fail, never two in a row, so the service's breaker
// (20 in a row, or a failure rate significantly over 50%) and its adaptive throttle (fewer
// than half accepted) stay out of it, and the retry budget (0.6 per call) covers the 0.5
// retries per call.
func TestManyBackendsOneSickReplicaOfThreeCostsARetryNotAnOutage(t *testing.T) {
	r := newReplicas(t, roundRobin, sick, stub.Faults{}, stub.Faults{})
	tl := r.run(t, 300)
	t.Log(tl)
	if tl.ok != tl.calls || tl.tripCall != 0 || tl.budgetStops != 0 || len(tl.rejected) != 0 {
		t.Errorf("one sick replica of three: %v; want every call ok, the breaker closed, no budget stop, no rejection", tl)
	}
	if got := float64(tl.retries) / float64(tl.calls); got < 0.4 || got > 0.6 {
		t.Errorf("%.2f retries per call, want about 0.5 (every other call meets the sick replica first)", got)
	}
	if got := requestsTotal(r.stubs[0], stub.MethodCompare); got < 140 {
		t.Errorf("the sick replica saw %d requests, want about 150: round_robin keeps picking it", got)
	}
}

// Two replicas of three failing: a call needs up to 3 attempts and 2 retries, over the retry
// budget's 0.6 per call, and two thirds of the attempts fail, which is the failure rate the
// breaker is built to trip on (66 of 100 is significantly over 50%). The breaker opens: a
// per-service breaker cannot tell one live replica from none. What keeps the live replica
// serving is grpc's per-backend ejection (outlier detection), not a laxer breaker.
func TestManyBackendsTwoSickReplicasOfThreeTripTheServiceBreaker(t *testing.T) {
	r := newReplicas(t, roundRobin, sick, sick, stub.Faults{})
	tl := r.run(t, 300)
	t.Log(tl)
	if tl.opened == 0 || tl.ok == tl.calls {
		t.Errorf("two sick replicas of three: %v; want the breaker to open and calls to fail", tl)
	}
}

// outlierDetection is the base service config README's "Several backends" recommends over
// several replicas, read from the README so that these tests try what it says: grpc's outlier
// detection ejects a replica that failed most of its calls in the last interval, and balances
// round_robin over the rest; the plain round_robin after it serves a binary that does not link
// the outlier detection balancer (grpc-go registers it in google.golang.org/grpc/xds), since
// grpc takes the first policy it knows and refuses a config with none.
func outlierDetection(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "**Several backends.**")
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(section)
	if !ok || m == nil {
		t.Fatal(`README's "Several backends" has no json service config`)
	}
	return m[1]
}

// quickOutlierDetection is outlierDetection judged every 100ms instead of every second.
func quickOutlierDetection(t *testing.T) string {
	t.Helper()
	base := outlierDetection(t)
	fast := strings.Replace(base, `"interval": "1s"`, `"interval": "0.1s"`, 1)
	if fast == base {
		t.Fatalf(`README's service config has no "interval": "1s" to shorten: %s`, base)
	}
	return fast
}

// The suite writes its method configs into a base service config and leaves its load
// balancing config as it was, so a channel dialled with both balances as the base says.
// Face match's per-attempt timeout cuts every attempt here, for a method config of the
// suite's to carry it (the built-in cuts overtaken attempts only, which grpc's would not).
func TestManyBackendsServiceConfigKeepsTheBaseLoadBalancing(t *testing.T) {
	base := outlierDetection(t)
	cutAlways := strings.Replace(quickBackoffs, "jitter_amount: 5ms}", "jitter_amount: 5ms, per_attempt_cut: always}", 1)
	r := newReplicasConfig(t, cutAlways, base, sick, stub.Faults{}, stub.Faults{})
	sc, err := r.suite.ServiceConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal([]byte(sc), &got); err != nil {
		t.Fatalf("service config %s: %v", sc, err)
	}
	if err := json.Unmarshal([]byte(base), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got["loadBalancingConfig"], want["loadBalancingConfig"]) {
		t.Errorf("loadBalancingConfig = %v, want the base's %v", got["loadBalancingConfig"], want["loadBalancingConfig"])
	}
	if mc, _ := got["methodConfig"].([]any); len(mc) == 0 {
		t.Errorf("service config %s has no methodConfig of the suite's", sc)
	}
	// grpc accepts it (newReplicas dialled with it) and balances over the three replicas.
	tl := r.run(t, 60)
	if tl.ok != tl.calls || tl.opened != 0 {
		t.Errorf("one sick replica of three with outlier detection's config: %v; want every call ok, the breaker closed", tl)
	}
}

// awaitEjection makes calls, 30 at a time, until the i-th replica gets none of them, within
// 10s: outlier detection judges on real time. With allOK, every call until then must be ok.
func (r *replicas) awaitEjection(t *testing.T, i int, allOK bool) {
	t.Helper()
	start := time.Now()
	for {
		before := requestsTotal(r.stubs[i], stub.MethodCompare)
		if tl := r.run(t, 30); allOK && tl.ok != tl.calls {
			t.Fatalf("before replica %d's ejection: %v; want every call ok", i, tl)
		}
		if requestsTotal(r.stubs[i], stub.MethodCompare) == before {
			return // 30 calls round_robin and none reached the replica: it is out
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("sick replica %d still gets calls after %v", i, time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With grpc's outlier detection under the suite, the sick replica is ejected after its first
// few failures and the calls that follow reach the healthy two at their first attempt.
func TestManyBackendsOutlierDetectionKeepsTheSickReplicaOut(t *testing.T) {
	r := newReplicas(t, quickOutlierDetection(t), sick, stub.Faults{}, stub.Faults{})
	r.awaitEjection(t, 0, true)
	sickSeen := requestsTotal(r.stubs[0], stub.MethodCompare)
	tl := r.run(t, 300)
	t.Log(tl)
	if tl.ok != tl.calls || tl.retries != 0 || tl.tripCall != 0 {
		t.Errorf("after the ejection: %v; want every call ok without a retry", tl)
	}
	if got := requestsTotal(r.stubs[0], stub.MethodCompare); got != sickSeen {
		t.Errorf("the sick replica saw %d more requests after its ejection, want 0", got-sickSeen)
	}
	t.Logf("ejected after %d requests to the sick replica", sickSeen)
}

// A replica that falls sick while another is out is ejected too. grpc judges the replicas
// only while minimumHosts of them got requestVolume calls in the last interval; with one of
// three out, two are left to be judged, and a minimumHosts of 3 would leave the second sick
// replica in, costing every call a retry (and some calls, over the retry budget, their
// success) for as long as the first stays out.
func TestManyBackendsOutlierDetectionEjectsASecondSickReplica(t *testing.T) {
	r := newReplicas(t, quickOutlierDetection(t), sick, stub.Faults{}, stub.Faults{})
	r.awaitEjection(t, 0, true)
	if err := r.stubs[1].SetFaults(sick); err != nil {
		t.Fatal(err)
	}
	// Until it is out, every call meets it first (round_robin's next pick after a retry on
	// the healthy replica is the sick one again): a retry per call, over the retry budget.
	r.awaitEjection(t, 1, false)
	seen := []int{requestsTotal(r.stubs[0], stub.MethodCompare), requestsTotal(r.stubs[1], stub.MethodCompare)}
	tl := r.run(t, 300)
	t.Log(tl)
	if tl.ok != tl.calls || tl.retries != 0 || tl.tripCall != 0 {
		t.Errorf("after both ejections: %v; want every call ok without a retry", tl)
	}
	for i, n := range seen {
		if got := requestsTotal(r.stubs[i], stub.MethodCompare); got != n {
			t.Errorf("sick replica %d saw %d more requests after its ejection, want 0", i, got-n)
		}
	}
}

// Two sick replicas of three, with the README's service config as it is (1s interval): calls
// made back to back trip the service's breaker before the first interval ends (the breaker
// needs 66 failures of 100 attempts; the run of 300 takes under a second, most of its calls
// refused by the open breaker in microseconds). The interval in which the breaker tripped
// still holds the attempts made before it, dozens per replica, so grpc ejects both sick
// replicas at its end, and the breaker's next probe can only reach the healthy one: the
// breaker closes and every call is served by the healthy replica at its first attempt.
// The breakers run on a fake clock that the test advances past their open interval between
// rounds of 100 calls; grpc's interval is real time, hence the 10s bound.
func TestManyBackendsOutlierDetectionRecoversFromTwoSickReplicasOfThree(t *testing.T) {
	breakerClock := clocktest.New(time.Time{})
	r := newReplicasBreakers(t, quickBackoffs, outlierDetection(t), breaker.NewRegistry(breaker.WithClock(breakerClock)),
		sick, sick, stub.Faults{})
	first := r.run(t, 300)
	t.Logf("first 300 calls: %v", first)
	calls, served := first.calls, first.ok
	start := time.Now()
	for {
		breakerClock.Advance(time.Minute) // past any open interval: the next call is a probe
		before := requestsTotal(r.stubs[0], stub.MethodCompare) + requestsTotal(r.stubs[1], stub.MethodCompare)
		tl := r.run(t, 100)
		calls, served = calls+tl.calls, served+tl.ok
		after := requestsTotal(r.stubs[0], stub.MethodCompare) + requestsTotal(r.stubs[1], stub.MethodCompare)
		if tl.ok == tl.calls && tl.attempts == tl.calls && after == before {
			t.Logf("recovered: the last 100 of %d calls (%d served) all served by the healthy replica at their first attempt, %v after the first 300",
				calls, served, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no recovery %v after the first 300 calls: the last 100 came to %v, the sick replicas saw %d of their attempts",
				time.Since(start).Round(time.Millisecond), tl, after-before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replicaRequests is how many requests each replica has received so far.
func (r *replicas) replicaRequests() []int {
	n := make([]int, len(r.stubs))
	for i, s := range r.stubs {
		n[i] = requestsTotal(s, stub.MethodCompare)
	}
	return n
}

// A full outage of the three replicas, with the README's service config as it is: grpc's
// outlier detection cannot tell it from two sick replicas and ejects two of them
// (maxEjectionPercent 50 lets it go one past half), which stay out for baseEjectionTime after
// their ejection, outage or not, the third serving alone. The outage here is one whose
// failures reach the replicas for over an interval (each call a probe of the breaker, whose
// clock the test advances), as those of a few calls a second do, the breaker's 20 failures in
// a row taking a second or more. Once the replicas are back, every call the adaptive throttle
// lets through is served, the breaker does not open again, and the ejected two are back
// within baseEjectionTime and an interval of their ejection (10s and 1s) and a margin for a
// busy machine (20s in all, still short of the 30s):
// with the 30s the README said before, the replica left in served alone for up to 30s after
// a short outage, with a third of the service's capacity.
func TestManyBackendsOutlierDetectionRecoversAllReplicasAfterAFullOutage(t *testing.T) {
	breakerClock := clocktest.New(time.Time{})
	r := newReplicasBreakers(t, quickBackoffs, outlierDetection(t), breaker.NewRegistry(breaker.WithClock(breakerClock)),
		stub.Faults{}, stub.Faults{}, stub.Faults{})
	if tl := r.run(t, 30); tl.ok != tl.calls {
		t.Fatalf("before the outage: %v; want every call ok", tl)
	}
	// An interval with no call, so that the next one grpc judges holds the outage's alone.
	time.Sleep(1200 * time.Millisecond)
	for _, s := range r.stubs {
		s.Down()
	}
	// Probe until the last 30 probes all reached one replica: the other two are out.
	down := time.Now()
	var recent [][]int
	for i := 0; ; i++ {
		breakerClock.Advance(time.Hour) // past any open interval: the next call is a probe
		_, err := r.face.Compare(context.Background(), r.request(int64(i)))
		if err == nil {
			t.Fatal("a call succeeded during the outage")
		}
		recent = append(recent, r.replicaRequests())
		if len(recent) > 31 {
			recent = recent[1:]
		}
		if len(recent) == 31 && reachedOnly(recent[0], recent[30]) >= 0 {
			break
		}
		if time.Since(down) > 10*time.Second {
			t.Fatalf("the last 30 probes of the outage reached %v: grpc ejected none or one replica in %v",
				diff(recent[0], recent[len(recent)-1]), time.Since(down).Round(time.Millisecond))
		}
	}
	ejected := time.Now() // the ejection is at most this late
	left := reachedOnly(recent[0], recent[30])
	t.Logf("two replicas ejected within %v of the outage's start, replica %d left in", ejected.Sub(down).Round(time.Millisecond), left)
	for _, s := range r.stubs {
		s.Up()
	}
	up := time.Now()
	breakerClock.Advance(time.Hour) // the next call is a probe, which the replica left in answers
	var served, calls, alone int
	for {
		before := r.replicaRequests()
		tl := r.run(t, 30)
		after := r.replicaRequests()
		calls, served = calls+tl.calls, served+tl.ok
		// The adaptive throttle remembers the outage's failures for a while and refuses some
		// calls; every call it lets through is served.
		if tl.ok+tl.rejected[observe.PolicyAdaptiveThrottle] != tl.calls || tl.opened != 0 {
			t.Fatalf("%v after the outage: %v; want every call the throttle lets through served and the breaker closed",
				time.Since(up).Round(time.Millisecond), tl)
		}
		got := diff(before, after)
		if only := reachedOnly(before, after); only >= 0 {
			if only != left {
				t.Fatalf("after the outage, replica %d alone served %v; want replica %d, the one left in", only, got, left)
			}
			alone++
		} else if min(got[0], got[1], got[2]) >= 5 {
			t.Logf("all three replicas serve %v after the outage, %v after the ejection (%d rounds of 30 calls served by replica %d alone; %d of %d calls served since the outage)",
				time.Since(up).Round(time.Millisecond), time.Since(ejected).Round(time.Millisecond), alone, left, served, calls)
			return
		}
		if time.Since(ejected) > 20*time.Second {
			t.Fatalf("%v after the ejection (%v after the outage) replica %d still serves alone: %v; want the other two back within baseEjectionTime and an interval",
				time.Since(ejected).Round(time.Millisecond), time.Since(up).Round(time.Millisecond), left, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// diff is after - before, replica by replica.
func diff(before, after []int) []int {
	d := make([]int, len(after))
	for i := range after {
		d[i] = after[i] - before[i]
	}
	return d
}

// reachedOnly returns the replica that received every request between the counts before and
// after, when there were some and one replica received them all, else -1.
func reachedOnly(before, after []int) int {
	only := -1
	for i, n := range diff(before, after) {
		switch {
		case n == 0:
		case only >= 0:
			return -1
		default:
			only = i
		}
	}
	return only
}
