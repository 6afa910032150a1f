package throttle

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	svc    = "kyc.v1.FaceMatchService"
	method = "/kyc.v1.FaceMatchService/Compare"
)

var (
	accepted = codes.Verdict{Class: codes.Success, Code: grpccodes.OK}
	failed   = codes.Verdict{Class: codes.Throttled, Code: grpccodes.ResourceExhausted}
)

// constRand returns a rand source that always draws x.
func constRand(x float64) func() float64 { return func() float64 { return x } }

// newTest returns a throttle on a fake clock, recording its events, with opts after those.
func newTest(t *testing.T, cfg Config, opts ...Option) (*Throttle, *clocktest.Fake, *testkit.Recorder) {
	t.Helper()
	clk := clocktest.New(time.Time{})
	rec := new(testkit.Recorder)
	th, err := New(svc, cfg, append([]Option{WithClock(clk), WithObserver(rec)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return th, clk, rec
}

// fill records requests outcomes, accepts of them accepted and the rest failed.
func fill(th *Throttle, requests, accepts int) {
	for i := range requests {
		if i < accepts {
			th.Record(accepted)
		} else {
			th.Record(failed)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestNewValidates(t *testing.T) {
	if _, err := New(svc, Config{K: 0.5}); err == nil {
		t.Fatal("New accepted K = 0.5")
	}
	th, err := New(svc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{K: 2, Window: 2 * time.Minute, MaxRejectProbability: 0.9}
	if got := th.Config(); got != want {
		t.Fatalf("Config() = %+v, want the defaults %+v", got, want)
	}
	if th.Name() != svc {
		t.Fatalf("Name() = %q", th.Name())
	}
}

func TestFormula(t *testing.T) {
	tests := []struct {
		name              string
		k                 float64
		requests, accepts int
		want              float64
	}{
		{name: "empty window", k: 2, want: 0},
		{name: "all accepted", k: 2, requests: 10, accepts: 10, want: 0},
		{name: "K=2 at half accepted is the boundary", k: 2, requests: 10, accepts: 5, want: 0},
		{name: "K=2 just past the boundary", k: 2, requests: 10, accepts: 4, want: 2.0 / 11},
		{name: "K=2 nothing accepted", k: 2, requests: 10, accepts: 0, want: 10.0 / 11},
		{name: "K=2 a tenth accepted", k: 2, requests: 100, accepts: 10, want: 80.0 / 101},
		{name: "K=1.5 half accepted", k: 1.5, requests: 10, accepts: 5, want: 2.5 / 11},
		{name: "K=1.1 half accepted", k: 1.1, requests: 100, accepts: 50, want: 45.0 / 101},
		{name: "K=1.25 past the boundary", k: 1.25, requests: 10, accepts: 7, want: 1.25 / 11},
		{name: "K=100 mostly failing", k: 100, requests: 1000, accepts: 9, want: 100.0 / 1001},
		{name: "K=100 a few accepts cover much", k: 100, requests: 1000, accepts: 10, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, _, _ := newTest(t, Config{K: tt.k, MaxRejectProbability: 1})
			fill(th, tt.requests, tt.accepts)
			if r, a := th.Counts(); r != int64(tt.requests) || a != int64(tt.accepts) {
				t.Fatalf("Counts() = %d, %d, want %d, %d", r, a, tt.requests, tt.accepts)
			}
			if got := th.Probability(); !near(got, tt.want) {
				t.Fatalf("Probability() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCapAndMinRequests(t *testing.T) {
	tests := []struct {
		name              string
		cfg               Config
		requests, accepts int
		want              float64
	}{
		{name: "default cap", cfg: Config{}, requests: 1000, want: 0.9},
		{name: "below the default cap", cfg: Config{}, requests: 5, want: 5.0 / 6},
		{name: "cap 0.5", cfg: Config{MaxRejectProbability: 0.5}, requests: 100, accepts: 10, want: 0.5},
		{name: "cap 1", cfg: Config{MaxRejectProbability: 1}, requests: 1000, want: 1000.0 / 1001},
		{name: "below MinRequests", cfg: Config{MinRequests: 20}, requests: 19, want: 0},
		{name: "at MinRequests", cfg: Config{MinRequests: 20, MaxRejectProbability: 1}, requests: 20, want: 20.0 / 21},
		{name: "MinRequests and cap", cfg: Config{MinRequests: 20}, requests: 50, want: 0.9},
		{name: "MinRequests met, formula zero", cfg: Config{MinRequests: 20}, requests: 40, accepts: 20, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, _, _ := newTest(t, tt.cfg)
			fill(th, tt.requests, tt.accepts)
			if got := th.Probability(); !near(got, tt.want) {
				t.Fatalf("Probability() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAllowDraw(t *testing.T) {
	// 1000 failures: the formula says 1000/1001, the default cap 0.9.
	tests := []struct {
		name       string
		cfg        Config
		requests   int
		draw       float64
		wantReject bool
	}{
		{name: "draw below p", requests: 1000, draw: 0.89, wantReject: true},
		{name: "draw at p admits", requests: 1000, draw: 0.9, wantReject: false},
		{name: "the cap leaves a tenth through", requests: 1000, draw: 0.95, wantReject: false},
		{name: "p zero never rejects", requests: 0, draw: 0, wantReject: false},
		{name: "MinRequests not met", cfg: Config{MinRequests: 1001}, requests: 1000, draw: 0, wantReject: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, _, rec := newTest(t, tt.cfg, WithRand(constRand(tt.draw)))
			fill(th, tt.requests, 0)
			err := th.Allow(method)
			if (err != nil) != tt.wantReject {
				t.Fatalf("Allow() = %v, want rejected %v", err, tt.wantReject)
			}
			wantRequests := int64(tt.requests)
			if tt.wantReject {
				wantRequests++ // A local rejection is a request, not an accept.
			}
			if r, a := th.Counts(); r != wantRequests || a != 0 {
				t.Fatalf("Counts() = %d, %d, want %d, 0", r, a, wantRequests)
			}
			if got := rec.Count(observe.Rejected); got != btoi(tt.wantReject) {
				t.Fatalf("%d Rejected events, want %d", got, btoi(tt.wantReject))
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRejection(t *testing.T) {
	th, clk, rec := newTest(t, Config{}, WithRand(constRand(0)))
	fill(th, 9, 0) // p = 9/10.
	err := th.Allow(method)
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want ErrThrottled", err)
	}
	var rej *codes.Rejection
	if !errors.As(err, &rej) || rej.Policy != observe.PolicyAdaptiveThrottle || rej.Service != svc || rej.RetryAfter != 0 {
		t.Fatalf("rejection = %+v", rej)
	}
	st := status.Convert(err)
	if st.Code() != grpccodes.Unavailable {
		t.Fatalf("code = %v, want Unavailable", st.Code())
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil || info.GetReason() != Reason || info.GetDomain() != codes.Domain ||
		info.GetMetadata()["policy"] != "adaptive_throttle" || info.GetMetadata()["service"] != svc {
		t.Fatalf("ErrorInfo = %v", info)
	}
	if v := codes.Default().Classify(err); v.Class != codes.Rejected || v.Code != grpccodes.Unavailable || v.Reason != Reason {
		t.Fatalf("the classifier says %+v, want Rejected (never retried, never counted)", v)
	}
	want := observe.Event{
		Kind: observe.Rejected, Time: clk.Now(), Service: svc, Method: method,
		Policy: observe.PolicyAdaptiveThrottle, Code: grpccodes.Unavailable, Class: codes.Rejected,
		Reason: Reason, Value: 0.9,
	}
	if evs := rec.Events(); len(evs) != 1 || evs[0] != want {
		t.Fatalf("events = %+v, want [%+v]", evs, want)
	}
}

func TestRecordAccounting(t *testing.T) {
	other := &codes.Rejection{Err: errors.New("bulkhead full"), Code: grpccodes.ResourceExhausted, Reason: "BULKHEAD_FULL", Policy: observe.PolicyBulkhead, Service: svc}
	tests := []struct {
		name                      string
		err                       error
		wantRequests, wantAccepts int64
	}{
		{name: "ok", err: nil, wantRequests: 1, wantAccepts: 1},
		{name: "invalid argument is a business answer", err: testkit.Status(grpccodes.InvalidArgument, "DOCUMENT_UNREADABLE"), wantRequests: 1, wantAccepts: 1},
		{name: "not found", err: testkit.Status(grpccodes.NotFound, ""), wantRequests: 1, wantAccepts: 1},
		{name: "permission denied", err: testkit.Status(grpccodes.PermissionDenied, ""), wantRequests: 1, wantAccepts: 1},
		{name: "resource exhausted", err: testkit.Throttled(time.Second), wantRequests: 1, wantAccepts: 0},
		{name: "unavailable", err: testkit.Status(grpccodes.Unavailable, ""), wantRequests: 1, wantAccepts: 0},
		{name: "deadline exceeded", err: testkit.Status(grpccodes.DeadlineExceeded, ""), wantRequests: 1, wantAccepts: 0},
		{name: "internal", err: testkit.Status(grpccodes.Internal, ""), wantRequests: 1, wantAccepts: 0},
		{name: "canceled counts nothing", err: testkit.Status(grpccodes.Canceled, ""), wantRequests: 0, wantAccepts: 0},
		{name: "another policy's rejection counts nothing", err: other, wantRequests: 0, wantAccepts: 0},
		{name: "another policy's rejection as a status counts nothing", err: status.Convert(other).Err(), wantRequests: 0, wantAccepts: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, _, _ := newTest(t, Config{})
			th.Record(codes.Default().Classify(tt.err))
			if r, a := th.Counts(); r != tt.wantRequests || a != tt.wantAccepts {
				t.Fatalf("Counts() = %d, %d, want %d, %d", r, a, tt.wantRequests, tt.wantAccepts)
			}
		})
	}
}

func TestWindowExpiry(t *testing.T) {
	// A 20 s window is 20 buckets of 1 s. One failure is recorded at the start of each second
	// from 0 to 19 s, and one accept at 19.5 s.
	th, clk, _ := newTest(t, Config{Window: 20 * time.Second, MaxRejectProbability: 1})
	start := clk.Now()
	for i := range 20 {
		clk.Set(start.Add(time.Duration(i) * time.Second))
		th.Record(failed)
	}
	clk.Set(start.Add(19500 * time.Millisecond))
	th.Record(accepted)

	tests := []struct {
		at                        time.Duration
		wantRequests, wantAccepts int64
	}{
		{at: 19500 * time.Millisecond, wantRequests: 21, wantAccepts: 1},
		{at: 19999 * time.Millisecond, wantRequests: 21, wantAccepts: 1},
		{at: 20 * time.Second, wantRequests: 20, wantAccepts: 1}, // The 0 s bucket leaves.
		{at: 20500 * time.Millisecond, wantRequests: 20, wantAccepts: 1},
		{at: 21 * time.Second, wantRequests: 19, wantAccepts: 1},
		{at: 25 * time.Second, wantRequests: 15, wantAccepts: 1},
		{at: 38 * time.Second, wantRequests: 2, wantAccepts: 1},
		{at: 39 * time.Second, wantRequests: 0, wantAccepts: 0}, // The 19 s bucket leaves.
		{at: time.Hour, wantRequests: 0, wantAccepts: 0},
	}
	for _, tt := range tests {
		clk.Set(start.Add(tt.at))
		r, a := th.Counts()
		if r != tt.wantRequests || a != tt.wantAccepts {
			t.Fatalf("at %v: Counts() = %d, %d, want %d, %d", tt.at, r, a, tt.wantRequests, tt.wantAccepts)
		}
		want := th.probability(tt.wantRequests, tt.wantAccepts)
		if got := th.Probability(); !near(got, want) {
			t.Fatalf("at %v: Probability() = %v, want %v", tt.at, got, want)
		}
	}

	// The slots are reused after the window has passed over them.
	th.Record(failed)
	if r, a := th.Counts(); r != 1 || a != 0 {
		t.Fatalf("after an hour and one failure: Counts() = %d, %d, want 1, 0", r, a)
	}
}

func TestReset(t *testing.T) {
	th, _, _ := newTest(t, Config{}, WithRand(constRand(0)))
	fill(th, 100, 0)
	if th.Allow(method) == nil {
		t.Fatal("admitted with p = 0.9 and a draw of 0")
	}
	th.Reset()
	if r, a := th.Counts(); r != 0 || a != 0 {
		t.Fatalf("Counts() after Reset = %d, %d", r, a)
	}
	if err := th.Allow(method); err != nil {
		t.Fatalf("Allow after Reset: %v", err)
	}
}

func TestHotPathAllocs(t *testing.T) {
	th, _, _ := newTest(t, Config{}, WithRand(constRand(0.99)))
	fill(th, 1000, 0) // p at the cap, so Allow draws and admits.
	tests := []struct {
		name string
		f    func()
	}{
		{"Allow admitting with p > 0", func() { _ = th.Allow(method) }},
		{"Record", func() { th.Record(failed) }},
		{"Probability", func() { _ = th.Probability() }},
		{"Counts", func() { _, _ = th.Counts() }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(200, tt.f); n != 0 {
			t.Errorf("%s: %v allocs, want 0", tt.name, n)
		}
	}
	fresh, _, _ := newTest(t, Config{})
	if n := testing.AllocsPerRun(200, func() {
		if fresh.Allow(method) == nil {
			fresh.Record(accepted)
		}
	}); n != 0 {
		t.Errorf("Allow+Record with p = 0: %v allocs, want 0", n)
	}
}

// TestNoRejectionAtExactlyKTimesAccepts checks the formula's boundary with a K that float64
// cannot hold exactly: with requests exactly K·accepts as written, p is 0 (the doc: requests at
// most K·accepts cost nothing), not the rounding error of K·accepts (1.1e-16 for K = 1.4, 45
// accepts and 63 requests), which a draw of 0, in [0, 1), fell below.
func TestNoRejectionAtExactlyKTimesAccepts(t *testing.T) {
	tests := []struct {
		k                 float64
		requests, accepts int
	}{
		{k: 1.4, requests: 63, accepts: 45},
		{k: 1.13, requests: 113, accepts: 100},
		{k: 1.15, requests: 115, accepts: 100},
	}
	for _, tt := range tests {
		th, _, rec := newTest(t, Config{K: tt.k}, WithRand(constRand(0)))
		fill(th, tt.requests, tt.accepts)
		if p := th.Probability(); p != 0 {
			t.Errorf("K %v, %d requests, %d accepts: Probability() = %g, want 0", tt.k, tt.requests, tt.accepts, p)
		}
		if err := th.Allow(method); err != nil {
			t.Errorf("K %v, %d requests, %d accepts: Allow rejected a draw of 0: %v", tt.k, tt.requests, tt.accepts, err)
		}
		if n := len(rec.Events()); n != 0 {
			t.Errorf("K %v: %d events, want none", tt.k, n)
		}
		// One request more than K·accepts is past the boundary: p is the formula's again.
		th.Record(failed)
		want := (float64(tt.requests+1) - tt.k*float64(tt.accepts)) / float64(tt.requests+2)
		if p := th.Probability(); !near(p, want) || p <= 0 {
			t.Errorf("K %v, one request past K·accepts: Probability() = %g, want %g", tt.k, p, want)
		}
	}
}

// An outcome leaves the window once Window has passed since it was recorded, also for a
// Window that is not a whole multiple of 20 ns (it used to count up to 19 ns longer).
func TestOutcomeLeavesAfterWindow(t *testing.T) {
	const d = time.Second + 1
	clk := clocktest.New(time.Time{})
	th, err := New("pkg.Svc", Config{Window: d}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	th.Record(codes.Verdict{Class: codes.Success})
	clk.Advance(d - 1)
	if r, _ := th.Counts(); r != 1 {
		t.Fatalf("%d requests 1 ns before the window passed, want 1", r)
	}
	clk.Advance(1)
	if r, a := th.Counts(); r != 0 || a != 0 {
		t.Fatalf("counts %d, %d once the window %v passed since the outcome, want 0, 0", r, a, d)
	}
}
