package benchmarks

import (
	"context"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startServer(t *testing.T) *Server {
	t.Helper()
	srv := StartServer(7)
	t.Cleanup(srv.Stop)
	return srv
}

// TestChainsAnswer checks that every chain the benchmarks measure makes a correct call.
func TestChainsAnswer(t *testing.T) {
	srv := startServer(t)
	chains, err := AllChains()
	if err != nil {
		t.Fatal(err)
	}
	if chains[0].Name != "raw" {
		t.Fatalf("first chain is %q, want raw (the baseline)", chains[0].Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	frames := NewFrames()
	for _, c := range chains {
		t.Run(c.Name, func(t *testing.T) {
			cc, err := srv.Dial(c.DialOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cc.Close() }()
			resp, err := kycv1.NewFaceMatchServiceClient(cc).Compare(ctx, &kycv1.CompareRequest{})
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			if resp.GetVerdict() != kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_MATCH {
				t.Errorf("Compare verdict = %v, want MATCH", resp.GetVerdict())
			}
			if c.NoStream != "" {
				return
			}
			cr, err := CallCheck(ctx, kycv1.NewLivenessServiceClient(cc), frames)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if cr.GetFramesAnalyzed() != StreamFrames {
				t.Errorf("Check frames_analyzed = %d, want %d", cr.GetFramesAnalyzed(), StreamFrames)
			}
		})
	}
}

// TestRetriedStream checks that the liveness stream fixture is retried by bulwark's retry
// (the server fails after reading every frame; the retry replays them).
func TestRetriedStream(t *testing.T) {
	srv := startServer(t)
	fc := FaultChains()[0]
	ch, err := fc.New()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := srv.Dial(ch.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	srv.SetDown(true)
	_, err = CallCheck(context.Background(), kycv1.NewLivenessServiceClient(cc), NewFrames())
	if err == nil {
		t.Fatal("Check succeeded against a downed service")
	}
	if got := srv.Requests(); got != 4 {
		t.Errorf("requests = %d, want 4 (the ml retry's attempts)", got)
	}
}

// TestFaults runs the fault harness briefly and checks that its figures are sane.
func TestFaults(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	chains := FaultChains()
	const calls = 300
	tests := []struct {
		chain        int
		failRate     float64
		wantAttempts func(float64) bool
		wantOK       func(float64) bool
	}{
		{0, 0, func(a float64) bool { return a == 1 }, func(s float64) bool { return s == 1 }},
		{0, 1, func(a float64) bool { return a == 4 }, func(s float64) bool { return s == 0 }},
		{0, 0.1, func(a float64) bool { return a > 1 && a < 1.3 }, func(s float64) bool { return s > 0.98 }},
		{1, 1, func(a float64) bool { return a <= 1.1 }, func(s float64) bool { return s == 0 }},
		{3, 0, func(a float64) bool { return a == 1 }, func(s float64) bool { return s == 1 }},
		{3, 1, func(a float64) bool { return a < 0.5 }, func(s float64) bool { return s == 0 }},
	}
	for _, tt := range tests {
		r, err := RunFaults(ctx, srv, chains[tt.chain], tt.failRate, calls)
		if err != nil {
			t.Fatal(err)
		}
		if !tt.wantAttempts(r.AttemptsPerCall()) || !tt.wantOK(r.SuccessShare()) {
			t.Errorf("%s at %.0f%%: attempts/call %.3f, success %.3f: out of range", r.Chain, 100*tt.failRate, r.AttemptsPerCall(), r.SuccessShare())
		}
	}

	ff, err := RunFailFast(ctx, srv, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if ff.Reached != 0 {
		t.Errorf("fail fast: %d requests reached the service through an open breaker, want 0", ff.Reached)
	}
	if ff.RejectedNs <= 0 || ff.RejectedNs >= ff.RawNs {
		t.Errorf("fail fast: %.0f ns per rejected call, raw %.0f ns: a rejection should cost less than a call", ff.RejectedNs, ff.RawNs)
	}

	lk, err := RunLeak(ctx, srv, 200*time.Millisecond, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// The trip takes a few requests; after it, about one probe per recovery period (with its
	// retries), never the bulk of the calls.
	if lk.Reached == 0 || lk.Reached > 60 || lk.Rejected < lk.Calls/2 {
		t.Errorf("leak: %d of %d calls reached the service (%d rejected)", lk.Reached, lk.Calls, lk.Rejected)
	}
}

// TestServerLatency checks that a caller who gives up during the server's latency gets
// DeadlineExceeded without waiting it out (the server's handler ends with the caller's context).
func TestServerLatency(t *testing.T) {
	srv := startServer(t)
	srv.SetLatency(time.Minute)
	defer srv.SetLatency(0)
	cc, err := srv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = kycv1.NewFaceMatchServiceClient(cc).Compare(ctx, &kycv1.CompareRequest{})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Compare = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the call took %v: it waited out the server's latency", d)
	}
}
