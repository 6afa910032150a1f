package interceptors_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	svcLiveness  = "kyc.v1.LivenessService"
	svcFaceMatch = "kyc.v1.FaceMatchService"
	svcOCR       = "kyc.v1.OCRService"
)

// quickRetry is a retry section with the profile's attempt count and millisecond backoffs, so
// the tests count attempts without waiting.
func quickRetry(attempts int) *retry.Config {
	return &retry.Config{MaxAttempts: attempts, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retry.JitterNone}
}

// threeProfiles binds the three KYC services to three profiles with 4, 3 and 2 attempts, as the
// built-in ml, ocr and fast profiles do, and a breaker per service tripping after 3 failures.
func threeProfiles() *config.Config {
	br := func() *breaker.Config {
		return &breaker.Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Hour}
	}
	return &config.Config{
		Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{
			"ml":   {Retry: quickRetry(4), Breaker: br(), Classifier: codes.Overrides{Reasons: map[string]codes.Class{"FACE_NOT_DETECTED": codes.Business}}},
			"ocr":  {Retry: quickRetry(3), Breaker: br(), Classifier: codes.Overrides{Reasons: map[string]codes.Class{"DOCUMENT_UNREADABLE": codes.Business}}},
			"fast": {Retry: quickRetry(2), Breaker: br()},
		},
		Services: map[string]config.Service{
			svcFaceMatch: {Profile: "ml"},
			svcOCR:       {Profile: "ocr"},
			svcLiveness:  {Profile: "fast"},
		},
	}
}

type env struct {
	srv   *testkit.Server
	suite *interceptors.Suite
	rec   *testkit.Recorder
	reg   *breaker.Registry
	ocr   kycv1.OCRServiceClient
	face  kycv1.FaceMatchServiceClient
	live  kycv1.LivenessServiceClient
}

func newEnv(t *testing.T, cfg *config.Config, srv *testkit.Server, opts ...interceptors.Option) *env {
	t.Helper()
	e := &env{srv: testkit.Start(t, srv), rec: &testkit.Recorder{}, reg: &breaker.Registry{}}
	opts = append([]interceptors.Option{interceptors.WithObserver(e.rec), interceptors.WithBreakerRegistry(e.reg)}, opts...)
	s, err := interceptors.New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e.suite = s
	cc := e.srv.Dial(t, s.DialOptions()...)
	e.ocr, e.face, e.live = kycv1.NewOCRServiceClient(cc), kycv1.NewFaceMatchServiceClient(cc), kycv1.NewLivenessServiceClient(cc)
	return e
}

func (e *env) check(ctx context.Context, frames int, opts ...grpc.CallOption) (*kycv1.CheckResponse, error) {
	st, err := e.live.Check(ctx, opts...)
	if err != nil {
		return nil, err
	}
	for i := range frames {
		if err := st.Send(&kycv1.CheckRequest{Index: uint32(i), Image: []byte{byte(i)}}); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	return st.CloseAndRecv()
}

func unavailable() error { return status.Error(grpccodes.Unavailable, "down") }

func TestEachCallGovernedByItsProfile(t *testing.T) {
	srv := &testkit.Server{
		CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			return nil, unavailable()
		},
		ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
			return nil, unavailable()
		},
		CheckF: func(_ int, st kycv1.LivenessService_CheckServer) error {
			for {
				if _, err := st.Recv(); err != nil {
					return unavailable()
				}
			}
		},
	}
	e := newEnv(t, threeProfiles(), srv)
	ctx := context.Background()
	tests := []struct {
		name         string
		call         func(opts ...grpc.CallOption) error
		method       string
		wantAttempts int
	}{
		{"face match (ml)", func(o ...grpc.CallOption) error {
			_, err := e.face.Compare(ctx, &kycv1.CompareRequest{}, o...)
			return err
		}, testkit.MethodCompare, 4},
		{"ocr (ocr)", func(o ...grpc.CallOption) error {
			_, err := e.ocr.Extract(ctx, &kycv1.ExtractRequest{}, o...)
			return err
		}, testkit.MethodExtract, 3},
		{"liveness stream (fast)", func(o ...grpc.CallOption) error { _, err := e.check(ctx, 3, o...); return err }, testkit.MethodCheck, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var info retry.Info
			err := tt.call(retry.Report(&info))
			if status.Code(err) != grpccodes.Unavailable {
				t.Fatalf("code = %v, want Unavailable", status.Code(err))
			}
			if got := e.srv.Calls(tt.method); got != tt.wantAttempts {
				t.Fatalf("server saw %d attempts, want %d", got, tt.wantAttempts)
			}
			if info.Attempts != tt.wantAttempts {
				t.Fatalf("Report attempts = %d, want %d", info.Attempts, tt.wantAttempts)
			}
			if ri, ok := retry.InfoOf(err); !ok || ri.Attempts != tt.wantAttempts {
				t.Fatalf("InfoOf = %+v %v", ri, ok)
			}
		})
	}
	// The stream's frames were replayed identically on its retry.
	for i, f := range e.srv.Frames() {
		if len(f) != 3 || f[0] != 0 || f[2] != 2 {
			t.Fatalf("attempt %d saw frames %v", i+1, f)
		}
	}
	// One CallFinished per logical call, with the attempts made.
	calls := e.rec.Events(observe.CallFinished)
	if len(calls) != 3 {
		t.Fatalf("%d CallFinished events, want 3", len(calls))
	}
	for i, want := range []struct {
		svc      string
		attempts int
	}{{svcFaceMatch, 4}, {svcOCR, 3}, {svcLiveness, 2}} {
		ev := calls[i]
		if ev.Service != want.svc || ev.Attempt != want.attempts || ev.Code != grpccodes.Unavailable || ev.Class != codes.Transient || ev.Policy != observe.PolicySuite {
			t.Errorf("CallFinished %d = %+v", i, ev)
		}
	}
	// Each service's breaker counted its own attempts: one breaker per service.
	wantFailures := map[string]uint64{svcFaceMatch: 4, svcOCR: 3, svcLiveness: 2}
	for name, want := range wantFailures {
		b, ok := e.reg.Lookup(name)
		if !ok {
			t.Fatalf("no breaker %s", name)
		}
		if st := b.Stats(); st.Failures != want || st.State != breaker.Closed {
			t.Errorf("breaker %s: %d failures (%v), want %d", name, st.Failures, st.State, want)
		}
	}
}

func TestBusinessErrorIsOneAttemptAndHealthy(t *testing.T) {
	srv := &testkit.Server{
		ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
			return nil, testkit.Status(grpccodes.Internal, "DOCUMENT_UNREADABLE")
		},
	}
	e := newEnv(t, threeProfiles(), srv)
	for range 5 {
		_, err := e.ocr.Extract(context.Background(), &kycv1.ExtractRequest{})
		if status.Code(err) != grpccodes.Internal {
			t.Fatalf("code = %v", status.Code(err))
		}
	}
	if got := e.srv.Calls(testkit.MethodExtract); got != 5 {
		t.Fatalf("server saw %d calls for 5 unreadable documents, want 5 (no retry)", got)
	}
	b, _ := e.reg.Lookup(svcOCR)
	if st := b.Stats(); st.State != breaker.Closed || st.Failures != 0 || st.Successes != 5 {
		t.Fatalf("breaker stats %+v: a business answer is a healthy one", st)
	}
	for _, ev := range e.rec.Events(observe.CallFinished) {
		if ev.Class != codes.Business || ev.Reason != "DOCUMENT_UNREADABLE" || ev.Attempt != 1 {
			t.Fatalf("CallFinished %+v", ev)
		}
	}
}

func TestOpenBreakerRejectsBeforeLimiterAndBulkhead(t *testing.T) {
	cfg := threeProfiles()
	p := cfg.Profiles["ocr"]
	p.Retry = quickRetry(1)
	p.Breaker.ConsecutiveFailures = 3
	p.Bulkhead = &bulkhead.Config{MaxConcurrent: 1}
	p.RateLimit = &ratelimit.Config{Rate: 1, Burst: 3}
	cfg.Profiles["ocr"] = p
	var calls int
	srv := &testkit.Server{ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
		calls++
		return nil, unavailable()
	}}
	e := newEnv(t, cfg, srv)
	for range 3 { // three failures: the breaker opens, the bucket is empty
		_, _ = e.ocr.Extract(context.Background(), &kycv1.ExtractRequest{})
	}
	b, _ := e.reg.Lookup(svcOCR)
	if b.State() != breaker.Open {
		t.Fatalf("breaker %v, want open", b.State())
	}
	_, err := e.ocr.Extract(context.Background(), &kycv1.ExtractRequest{})
	st, _ := status.FromError(err)
	if st.Code() != grpccodes.Unavailable || reason(st) != "CIRCUIT_OPEN" || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("got %v %q, want the breaker's rejection, not the limiter's", st.Code(), reason(st))
	}
	if calls != 3 {
		t.Fatalf("server saw %d calls, want 3", calls)
	}
	if bh := e.suite.Bulkheads()[svcOCR]; bh == nil || bh.InFlight() != 0 || bh.Capacity() != 1 {
		t.Fatalf("bulkhead %v", bh)
	}
	if got := e.rec.Count(observe.Rejected); got != 1 {
		t.Fatalf("%d Rejected events, want 1 (the breaker's)", got)
	}
}

func reason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}

func TestPerCallOverridesPassThrough(t *testing.T) {
	srv := &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		return nil, unavailable()
	}}
	e := newEnv(t, threeProfiles(), srv)
	_, _ = e.face.Compare(context.Background(), &kycv1.CompareRequest{}, retry.WithMax(2))
	if got := e.srv.Calls(testkit.MethodCompare); got != 2 {
		t.Fatalf("WithMax(2): %d attempts", got)
	}
	_, _ = e.face.Compare(context.Background(), &kycv1.CompareRequest{}, retry.Disable())
	if got := e.srv.Calls(testkit.MethodCompare); got != 3 {
		t.Fatalf("Disable: %d attempts in all, want 3", got)
	}
}

func TestBudgetCapsEveryCall(t *testing.T) {
	seen := make(chan time.Duration, 1)
	srv := &testkit.Server{CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		dl, _ := ctx.Deadline()
		seen <- time.Until(dl)
		return &kycv1.CompareResponse{}, nil
	}}
	e := newEnv(t, threeProfiles(), srv) // budget 5s, no deadline section
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if _, err := e.face.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	if d := <-seen; d > 5*time.Second || d < 4*time.Second {
		t.Fatalf("server saw %v left, want the 5s budget", d)
	}
}

func TestReloadKeepsUnchangedBreaker(t *testing.T) {
	srv := &testkit.Server{ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
		return nil, unavailable()
	}}
	cfg := threeProfiles()
	cfg.Profiles["ocr"].Breaker.ConsecutiveFailures = 3
	e := newEnv(t, cfg, srv)
	_, _ = e.ocr.Extract(context.Background(), &kycv1.ExtractRequest{}) // 3 attempts: opens
	before, _ := e.reg.Lookup(svcOCR)
	if before.State() != breaker.Open {
		t.Fatalf("breaker %v", before.State())
	}

	// A reload that changes only the retry section keeps the breaker and its state.
	cfg2 := threeProfiles()
	cfg2.Profiles["ocr"].Breaker.ConsecutiveFailures = 3
	p := cfg2.Profiles["ocr"]
	p.Retry = quickRetry(2)
	cfg2.Profiles["ocr"] = p
	if err := e.suite.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	after, _ := e.reg.Lookup(svcOCR)
	if after != before || after.State() != breaker.Open {
		t.Fatalf("breaker replaced or reset by an unrelated reload: %v", after.State())
	}
	if got := e.suite.Policy(testkit.MethodExtract).Retry.MaxAttempts; got != 2 {
		t.Fatalf("new retry not in force: %d", got)
	}

	// A reload that changes the breaker's settings gives a fresh, closed breaker.
	cfg3 := threeProfiles()
	p = cfg3.Profiles["ocr"]
	p.Breaker.ConsecutiveFailures = 10
	cfg3.Profiles["ocr"] = p
	if err := e.suite.Reload(cfg3); err != nil {
		t.Fatal(err)
	}
	fresh, _ := e.reg.Lookup(svcOCR)
	if fresh == before || fresh.State() != breaker.Closed {
		t.Fatalf("breaker after settings change: same=%v state=%v", fresh == before, fresh.State())
	}

	// An invalid configuration changes nothing.
	bad := threeProfiles()
	bad.Services[svcOCR] = config.Service{Profile: "nope"}
	if err := e.suite.Reload(bad); err == nil {
		t.Fatal("Reload accepted an unknown profile")
	}
	if got := e.suite.Policy(testkit.MethodExtract).Breaker.ConsecutiveFailures; got != 10 {
		t.Fatalf("failed reload changed the config: %d", got)
	}
}

func TestReloadIsAtomicUnderLoad(t *testing.T) {
	srv := &testkit.Server{}
	e := newEnv(t, threeProfiles(), srv)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 20 {
		cfg := threeProfiles()
		p := cfg.Profiles["ml"]
		p.Retry = quickRetry(2 + i%3)
		cfg.Profiles["ml"] = p
		if err := e.suite.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("call failed during reloads: %v", err)
	}
}

func TestFallbackFromOption(t *testing.T) {
	cfg := threeProfiles()
	p := cfg.Profiles["ml"]
	p.Fallback = &fallback.Config{}
	cfg.Profiles["ml"] = p
	srv := &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		return nil, unavailable()
	}}
	degraded := &kycv1.CompareResponse{Verdict: kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_UNSPECIFIED, Similarity: -1}
	e := newEnv(t, cfg, srv, interceptors.WithFallback(testkit.MethodCompare, fallback.Message(degraded)))
	resp, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{})
	if err != nil || resp.GetSimilarity() != -1 {
		t.Fatalf("resp %v err %v, want the degraded reply", resp, err)
	}
	if e.srv.Calls(testkit.MethodCompare) != 4 {
		t.Fatalf("fallback served before retries were spent: %d attempts", e.srv.Calls(testkit.MethodCompare))
	}
	if e.rec.Count(observe.FallbackServed) != 1 {
		t.Fatal("no FallbackServed event")
	}
}

func TestUnconfiguredServicePassesThrough(t *testing.T) {
	cfg := &config.Config{}
	srv := &testkit.Server{VerifyF: func(context.Context, int, *kycv1.VerifyRequest) (*kycv1.VerifyResponse, error) {
		return nil, unavailable()
	}}
	e := newEnv(t, cfg, srv)
	cc := e.srv.Dial(t, e.suite.DialOptions()...)
	_, err := kycv1.NewKYCServiceClient(cc).Verify(context.Background(), &kycv1.VerifyRequest{})
	if status.Code(err) != grpccodes.Unavailable || e.srv.Calls(testkit.MethodVerify) != 1 {
		t.Fatalf("err %v calls %d", err, e.srv.Calls(testkit.MethodVerify))
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := threeProfiles()
	cfg.Profiles["ml"] = config.Profile{Retry: &retry.Config{MaxAttempts: -1}}
	if _, err := interceptors.New(cfg); err == nil {
		t.Fatal("New accepted max_attempts -1")
	}
}

// Regression: suites used breaker.DefaultRegistry by default, so a second suite in the process
// got the first one's breakers, their counts and their observer (found by the e2e tests).
func TestSuitesHaveTheirOwnBreakers(t *testing.T) {
	a, err := interceptors.New(threeProfiles())
	if err != nil {
		t.Fatal(err)
	}
	b, err := interceptors.New(threeProfiles())
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := a.Breakers().Lookup(svcOCR)
	bb, _ := b.Breakers().Lookup(svcOCR)
	if ba == nil || bb == nil || ba == bb {
		t.Fatalf("breakers %p %p: want two distinct ones", ba, bb)
	}
	shared := &breaker.Registry{}
	c, _ := interceptors.New(threeProfiles(), interceptors.WithBreakerRegistry(shared))
	d, _ := interceptors.New(threeProfiles(), interceptors.WithBreakerRegistry(shared))
	bc, _ := c.Breakers().Lookup(svcOCR)
	bd, _ := d.Breakers().Lookup(svcOCR)
	if bc != bd {
		t.Fatal("suites given one registry do not share a breaker")
	}
}

// Regression: Reload acquired each method's shared objects as it went, so a configuration that
// failed on a later method (a fallback reply that does not fit) had already replaced earlier
// services' breakers in the registry, while calls went on using the old ones.
func TestRejectedReloadLeavesSharedObjects(t *testing.T) {
	srv := &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		return nil, unavailable()
	}}
	cfg := threeProfiles()
	cfg.Profiles["ml"].Breaker.ConsecutiveFailures = 3
	e := newEnv(t, cfg, srv)
	_, _ = e.face.Compare(context.Background(), &kycv1.CompareRequest{}) // opens the face-match breaker
	before, _ := e.reg.Lookup(svcFaceMatch)
	if before.State() != breaker.Open {
		t.Fatalf("breaker %v, want open", before.State())
	}

	// Services are built in name order: FaceMatch, Liveness, OCR. The new face-match breaker
	// settings come first; the OCR fallback that cannot be built comes last.
	bad := threeProfiles()
	bad.Profiles["ml"].Breaker.ConsecutiveFailures = 7
	ocr := bad.Profiles["ocr"]
	ocr.Fallback = &fallback.Config{ReplyJSON: `{"no_such_field": 1}`}
	bad.Profiles["ocr"] = ocr
	if err := e.suite.Reload(bad); err == nil {
		t.Fatal("Reload accepted a fallback reply that does not fit ExtractResponse")
	}
	after, _ := e.reg.Lookup(svcFaceMatch)
	if after != before || after.State() != breaker.Open {
		t.Fatalf("rejected reload replaced the face-match breaker: same=%v state=%v", after == before, after.State())
	}
	// Calls still go through the old, open breaker.
	_, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{})
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("err = %v, want the open breaker's rejection", err)
	}
}

// TestAdaptiveSections: a profile's hedge, adaptive_throttle and adaptive bulkhead sections are
// in the chain — a slow first attempt is hedged and the hedge's answer counted by the throttle
// — and their objects are kept across a reload that does not change them.
func TestAdaptiveSections(t *testing.T) {
	// The first attempt never answers: the hedge must. The hedge answers only once the first has
	// reached the handler; on a busy machine the first could otherwise still be on its way when
	// the hedge wins, be canceled before the server runs it, and the server would see one call.
	firstArrived := make(chan struct{})
	var once sync.Once
	srv := &testkit.Server{CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if len(md.Get(hedge.PreviousAttemptsKey)) == 0 {
			once.Do(func() { close(firstArrived) })
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		select {
		case <-firstArrived:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return &kycv1.CompareResponse{Similarity: 0.9}, nil
	}}
	cfg := threeProfiles()
	ml := cfg.Profiles["ml"]
	ml.Retry.Throttle = retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.5}
	ml.Hedge = &hedge.Config{Delay: 20 * time.Millisecond}
	ml.AdaptiveThrottle = &throttle.Config{K: 1.5, Window: time.Minute}
	cfg.Profiles["ml"] = ml
	ocr := cfg.Profiles["ocr"]
	ocr.Bulkhead = &bulkhead.Config{MaxConcurrent: 8, Adaptive: bulkhead.Adaptive{Algorithm: bulkhead.AlgorithmGradient}}
	cfg.Profiles["ocr"] = ocr
	e := newEnv(t, cfg, srv)

	resp, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{})
	if err != nil || resp.GetSimilarity() != 0.9 {
		t.Fatalf("Compare = %v, %v; want the hedge's answer", resp, err)
	}
	if got := e.srv.Calls(testkit.MethodCompare); got != 2 {
		t.Fatalf("server saw %d attempts, want 2 (the first and its hedge)", got)
	}
	if sent, won := e.rec.Count(observe.HedgeSent), e.rec.Count(observe.HedgeWon); sent != 1 || won != 1 {
		t.Fatalf("HedgeSent %d, HedgeWon %d; want 1 and 1", sent, won)
	}
	// One attempt event per request sent, both from the hedge under the retry loop (which then
	// reports none of the round): the first, canceled, and the hedge that won, numbered 1 and 2.
	var policies []string
	for _, ev := range e.rec.Events(observe.AttemptFinished) {
		policies = append(policies, ev.Policy+"/"+strconv.Itoa(ev.Attempt)+"/"+ev.Code.String())
	}
	slices.Sort(policies)
	if want := []string{"hedge/1/Canceled", "hedge/2/OK"}; !slices.Equal(policies, want) {
		t.Fatalf("AttemptFinished = %v, want %v", policies, want)
	}
	th := e.suite.Throttles()[svcFaceMatch]
	if th == nil {
		t.Fatal("no adaptive throttle for face match")
	}
	// The canceled first attempt counts as nothing; the hedge is a request and an accept.
	if req, acc := th.Counts(); req != 1 || acc != 1 {
		t.Fatalf("throttle counts = %d requests, %d accepts; want 1, 1", req, acc)
	}
	if len(e.suite.Throttles()) != 1 {
		t.Fatalf("throttles = %v, want face match's only", e.suite.Throttles())
	}
	bh := e.suite.Bulkheads()[svcOCR]
	if bh == nil || bh.Capacity() != 2 {
		t.Fatalf("OCR bulkhead capacity = %v, want the adaptive initial limit 8/4 = 2", bh)
	}

	// A reload that changes only the hedge keeps the throttle and the bulkhead, with their state.
	cfg2 := cfg.Clone()
	ml2 := cfg2.Profiles["ml"]
	ml2.Hedge = &hedge.Config{Delay: 30 * time.Millisecond}
	cfg2.Profiles["ml"] = ml2
	if err := e.suite.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	if e.suite.Throttles()[svcFaceMatch] != th || e.suite.Bulkheads()[svcOCR] != bh {
		t.Fatal("a reload of the hedge section replaced the throttle or the bulkhead")
	}
	if req, _ := th.Counts(); req != 1 {
		t.Fatalf("throttle counts reset by an unrelated reload: %d requests", req)
	}
	// Turning the throttle off removes it from the chain.
	ml2.AdaptiveThrottle = nil
	cfg2.Profiles["ml"] = ml2
	if err := e.suite.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	if req, _ := th.Counts(); req != 1 {
		t.Fatalf("a throttle turned off still counts calls: %d requests", req)
	}
}
