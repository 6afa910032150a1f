package ratelimit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const svc = "kyc.v1.FaceMatchService"

// limiterFunc adapts a function to a Limiter.
type limiterFunc func(ctx context.Context, maxWait time.Duration) (ratelimit.Decision, error)

func (f limiterFunc) Take(ctx context.Context, maxWait time.Duration) (ratelimit.Decision, error) {
	return f(ctx, maxWait)
}

func TestNew(t *testing.T) {
	always := limiterFunc(func(context.Context, time.Duration) (ratelimit.Decision, error) {
		return ratelimit.Decision{Allowed: true}, nil
	})
	tests := []struct {
		name    string
		lim     ratelimit.Limiter
		cfg     ratelimit.Config
		wantErr bool
	}{
		{name: "local from config", cfg: ratelimit.Config{Rate: 10}},
		{name: "invalid rate", cfg: ratelimit.Config{Rate: 0}, wantErr: true},
		{name: "negative max wait", lim: always, cfg: ratelimit.Config{MaxWait: -1}, wantErr: true},
		{name: "given limiter needs no rate", lim: always, cfg: ratelimit.Config{MaxWait: time.Second}},
		{name: "shared needs a registry", cfg: ratelimit.Config{Rate: 10, Shared: "ml"}, wantErr: true},
		{name: "redis needs a limiter", cfg: ratelimit.Config{Rate: 10, Redis: &ratelimit.RedisConfig{Addr: "redis:6379"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ratelimit.New(svc, tt.lim, tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && p.Limiter() == nil {
				t.Error("policy has no limiter")
			}
		})
	}
}

// A nil *Local given to New is a nil limiter, as the documentation of New has it ("with a nil
// l it builds the bucket from cfg"): a variable of type *Local left unset must not make New
// dereference it.
func TestNewWithNilLocalBuildsFromConfig(t *testing.T) {
	var unset *ratelimit.Local
	var (
		p   *ratelimit.Policy
		err error
	)
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("New with a nil *Local panicked: %v", r)
			}
		}()
		p, err = ratelimit.New(svc, unset, ratelimit.Config{Rate: 10, Burst: 1})
	}()
	if err != nil {
		t.Fatalf("New with a nil *Local: %v, want the bucket built from the config", err)
	}
	l, ok := p.Limiter().(*ratelimit.Local)
	if !ok || l == nil || l.Rate() != 10 || l.Burst() != 1 {
		t.Fatalf("limiter %#v, want a bucket of rate 10 and burst 1", p.Limiter())
	}
	if err := p.Allow(context.Background()); err != nil {
		t.Fatalf("first call: %v, want a token", err)
	}
}

// rejectionDetails reads back what a gRPC caller sees of a rejection.
func rejectionDetails(t *testing.T, err error) (grpccodes.Code, *errdetails.ErrorInfo, *errdetails.RetryInfo) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%v is not a status", err)
	}
	var info *errdetails.ErrorInfo
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	if info == nil {
		t.Fatalf("no ErrorInfo in %v", st.Details())
	}
	return st.Code(), info, retry
}

func TestPolicyRejection(t *testing.T) {
	cause := errors.New("redis: connection refused")
	tests := []struct {
		name           string
		lim            func(clk *clocktest.Fake) ratelimit.Limiter
		wantCode       grpccodes.Code
		wantReason     string
		wantIs         []error
		wantRetryAfter time.Duration
	}{
		{
			name: "out of tokens",
			lim: func(clk *clocktest.Fake) ratelimit.Limiter {
				return ratelimit.NewLocal(10, 1, ratelimit.WithClock(clk))
			},
			wantCode:       grpccodes.ResourceExhausted,
			wantReason:     "RATE_LIMITED",
			wantIs:         []error{ratelimit.ErrLimited},
			wantRetryAfter: 100 * time.Millisecond,
		},
		{
			name: "limiter down",
			lim: func(*clocktest.Fake) ratelimit.Limiter {
				n := 0
				return limiterFunc(func(context.Context, time.Duration) (ratelimit.Decision, error) {
					n++
					if n == 1 {
						return ratelimit.Decision{Allowed: true}, nil
					}
					return ratelimit.Decision{}, cause
				})
			},
			wantCode:   grpccodes.Unavailable,
			wantReason: "RATE_LIMITER_UNAVAILABLE",
			wantIs:     []error{ratelimit.ErrUnavailable, cause},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.New(time.Time{})
			rec := &testkit.Recorder{}
			p, err := ratelimit.New(svc, tt.lim(clk), ratelimit.Config{}, ratelimit.WithClock(clk), ratelimit.WithObserver(rec))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Allow(context.Background()); err != nil {
				t.Fatalf("first Allow = %v", err)
			}
			err = p.Allow(context.Background())
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
			code, info, retry := rejectionDetails(t, err)
			if code != tt.wantCode || info.GetReason() != tt.wantReason || info.GetDomain() != codes.Domain ||
				info.GetMetadata()["policy"] != "rate_limit" || info.GetMetadata()["service"] != svc {
				t.Errorf("status %v, ErrorInfo %v", code, info)
			}
			if tt.wantRetryAfter > 0 {
				if retry == nil || retry.GetRetryDelay().AsDuration() != tt.wantRetryAfter {
					t.Errorf("RetryInfo = %v, want %v", retry, tt.wantRetryAfter)
				}
			} else if retry != nil {
				t.Errorf("RetryInfo = %v, want none", retry)
			}
			v := codes.Default().Classify(err)
			if v.Class != codes.Rejected || v.Code != tt.wantCode || v.Delay() != tt.wantRetryAfter {
				t.Errorf("Classify = %+v", v)
			}
			evs := rec.Events(observe.Rejected)
			if len(evs) != 1 {
				t.Fatalf("events = %v, want one Rejected", evs)
			}
			if e := evs[0]; e.Policy != observe.PolicyRateLimit || e.Service != svc || e.Code != tt.wantCode ||
				e.Reason != tt.wantReason || e.Delay != tt.wantRetryAfter || !e.Time.Equal(clk.Now()) {
				t.Errorf("event = %+v", e)
			}
		})
	}
}

func TestSharedBucketAcrossServices(t *testing.T) {
	clk := clocktest.New(time.Time{})
	reg := ratelimit.NewRegistry(ratelimit.WithClock(clk))
	cfg := ratelimit.Config{Rate: 1, Burst: 2, Shared: "ml"}
	face, err := ratelimit.New("kyc.v1.FaceMatchService", nil, cfg, ratelimit.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	live, err := ratelimit.New("kyc.v1.LivenessService", nil, cfg, ratelimit.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	own, _ := ratelimit.New("kyc.v1.OCRService", nil, ratelimit.Config{Rate: 1, Burst: 2}, ratelimit.WithClock(clk))
	if _, err := ratelimit.New("kyc.v1.KYCService", nil, ratelimit.Config{Rate: 2, Shared: "ml"}, ratelimit.WithRegistry(reg)); !errors.Is(err, ratelimit.ErrSharedConflict) {
		t.Errorf("conflicting shared bucket: err = %v, want ErrSharedConflict", err)
	}
	ctx := context.Background()
	steps := []struct {
		p       *ratelimit.Policy
		wantErr bool
	}{
		{p: face}, {p: live}, {p: face, wantErr: true}, {p: live, wantErr: true},
		{p: own}, {p: own}, {p: own, wantErr: true},
	}
	for i, s := range steps {
		if err := s.p.Allow(ctx); (err != nil) != s.wantErr {
			t.Errorf("step %d: Allow = %v, want error %v", i, err, s.wantErr)
		}
	}
	clk.Advance(time.Second)
	if err := live.Allow(ctx); err != nil {
		t.Errorf("after refill: %v", err)
	}
	if err := face.Allow(ctx); err == nil {
		t.Error("the shared bucket refilled twice")
	}
}

func TestUnaryInterceptor(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{})
	clk := clocktest.New(time.Time{})
	ic, err := ratelimit.UnaryClientInterceptor(svc, nil, ratelimit.Config{Rate: 10, Burst: 2}, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, grpc.WithUnaryInterceptor(ic)))
	tests := []struct {
		name     string
		opts     []grpc.CallOption
		cancel   bool
		wantCode grpccodes.Code
	}{
		{name: "first", wantCode: grpccodes.OK},
		{name: "second", wantCode: grpccodes.OK},
		{name: "limited", wantCode: grpccodes.ResourceExhausted},
		{name: "per-call wait", opts: []grpc.CallOption{ratelimit.WithMaxWait(time.Second)}, wantCode: grpccodes.OK},
		{name: "canceled while waiting", opts: []grpc.CallOption{ratelimit.WithMaxWait(time.Second)}, cancel: true, wantCode: grpccodes.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := client.Compare(ctx, &kycv1.CompareRequest{}, tt.opts...)
				done <- err
			}()
			if len(tt.opts) > 0 {
				clk.BlockUntil(1)
				if tt.cancel {
					cancel()
				} else {
					clk.Advance(100 * time.Millisecond)
				}
			}
			err := within.Recv(t, done, "the call did not return")
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.wantCode)
			}
			if tt.wantCode == grpccodes.ResourceExhausted {
				_, info, retry := rejectionDetails(t, err)
				if info.GetReason() != "RATE_LIMITED" || retry.GetRetryDelay().AsDuration() != 100*time.Millisecond {
					t.Errorf("ErrorInfo %v RetryInfo %v", info, retry)
				}
			}
		})
	}
	if got := srv.Calls(testkit.MethodCompare); got != 3 {
		t.Errorf("server calls = %d, want 3", got)
	}
}

// TestStreamTakesOneTokenAtOpen: a Check stream costs one token however many frames it sends.
func TestStreamTakesOneTokenAtOpen(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{})
	clk := clocktest.New(time.Time{})
	ic, err := ratelimit.StreamClientInterceptor("kyc.v1.LivenessService", nil, ratelimit.Config{Rate: 1, Burst: 1}, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	client := kycv1.NewLivenessServiceClient(srv.Dial(t, grpc.WithStreamInterceptor(ic)))
	ctx := context.Background()
	s, err := client.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.Send(&kycv1.CheckRequest{Index: uint32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if resp, err := s.CloseAndRecv(); err != nil || resp.GetFramesAnalyzed() != 5 {
		t.Fatalf("CloseAndRecv = %v, %v", resp, err)
	}
	if _, err := client.Check(ctx); !errors.Is(err, ratelimit.ErrLimited) || status.Code(err) != grpccodes.ResourceExhausted {
		t.Fatalf("second open = %v, want ErrLimited", err)
	}
	clk.Advance(time.Second)
	s, err = client.Check(ctx)
	if err != nil {
		t.Fatalf("open after refill: %v", err)
	}
	if _, err := s.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	if got := srv.Calls(testkit.MethodCheck); got != 2 {
		t.Errorf("server streams = %d, want 2", got)
	}
}

// TestUnaryConcurrent: many callers at once over a real connection get exactly the burst.
func TestUnaryConcurrent(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{})
	clk := clocktest.New(time.Time{})
	const burst, callers, each = 20, 12, 5
	p, _ := ratelimit.New(svc, nil, ratelimit.Config{Rate: 0.001, Burst: burst}, ratelimit.WithClock(clk))
	client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, grpc.WithUnaryInterceptor(p.Unary())))
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := client.Compare(context.Background(), &kycv1.CompareRequest{})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ratelimit.ErrLimited):
					limited.Add(1)
				default:
					t.Errorf("Compare = %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != burst || limited.Load() != callers*each-burst || srv.Calls(testkit.MethodCompare) != burst {
		t.Errorf("ok %d limited %d server %d; want %d, %d, %d", ok.Load(), limited.Load(), srv.Calls(testkit.MethodCompare), burst, callers*each-burst, burst)
	}
}

// A policy on a bucket of this process is instant unless the call (or the policy) may wait; one
// on any other limiter (a fleet-wide store) never is: its Take is I/O.
func TestInstant(t *testing.T) {
	local, err := ratelimit.New(svc, nil, ratelimit.Config{Rate: 10, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !local.Instant(nil) || local.Instant([]grpc.CallOption{ratelimit.WithMaxWait(time.Second)}) {
		t.Error("a local bucket: want instant without a wait, not with one")
	}
	waits, err := ratelimit.New(svc, nil, ratelimit.Config{Rate: 10, Burst: 1, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if waits.Instant(nil) || !waits.Instant([]grpc.CallOption{ratelimit.WithMaxWait(0)}) {
		t.Error("a local bucket with MaxWait: want not instant, but instant for a call that may not wait")
	}
	remote, err := ratelimit.New(svc, limiterFunc(func(context.Context, time.Duration) (ratelimit.Decision, error) {
		return ratelimit.Decision{Allowed: true}, nil
	}), ratelimit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if remote.Instant(nil) {
		t.Error("a limiter of another kind counts as instant")
	}
}

// TestEnterAt: a bucket of the policy's own takes its token at the time the runner gives it,
// without reading the clock; a bucket on another clock, or a limiter of another kind, takes it
// as Enter does.
func TestEnterAt(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	p, err := ratelimit.New(svc, nil, ratelimit.Config{Rate: 1, Burst: 1}, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.EnterAt(context.Background(), "/"+svc+"/Compare", nil, clk.Now()); err != nil {
		t.Fatalf("first token: %v", err)
	}
	if _, err := p.Enter(context.Background(), "/"+svc+"/Compare", nil); status.Code(err) != grpccodes.ResourceExhausted {
		t.Fatalf("Enter at the same time: %v, want ResourceExhausted (the bucket is empty)", err)
	}
	// A second later by the runner's reading, the clock itself not moved: one token again.
	if _, err := p.EnterAt(context.Background(), "/"+svc+"/Compare", nil, clk.Now().Add(time.Second)); err != nil {
		t.Errorf("EnterAt a second later: %v, want the refilled token", err)
	}

	// The bucket reads another clock than the policy: EnterAt reads the bucket's.
	other := clocktest.New(time.Unix(1000, 0))
	loc := ratelimit.NewLocal(1, 1, ratelimit.WithClock(other))
	q, err := ratelimit.New(svc, loc, ratelimit.Config{}, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.EnterAt(context.Background(), "/"+svc+"/Compare", nil, clk.Now()); err != nil {
		t.Fatalf("first token: %v", err)
	}
	if _, err := q.EnterAt(context.Background(), "/"+svc+"/Compare", nil, clk.Now().Add(time.Hour)); status.Code(err) != grpccodes.ResourceExhausted {
		t.Errorf("EnterAt an hour later on the policy's clock: %v, want ResourceExhausted (the bucket's own clock has not moved)", err)
	}
}

// A rejection whose token comes back in less than a millisecond (any rate above 1000/s) tells
// the caller to wait in its ErrorInfo's retry_after_ms too, rounded up: "0" would read as "come
// back now", and a caller that did would be refused again. The RetryInfo keeps the exact delay.
func TestRejectionRetryAfterMsRoundsUp(t *testing.T) {
	for _, tt := range []struct {
		rate   float64
		delay  time.Duration
		wantMs string
	}{
		{rate: 1e4, delay: 100 * time.Microsecond, wantMs: "1"},
		{rate: 1e9 / 1500000, delay: 1500 * time.Microsecond, wantMs: "2"},
		{rate: 10, delay: 100 * time.Millisecond, wantMs: "100"},
	} {
		clk := clocktest.New(time.Unix(1700000000, 0))
		p, err := ratelimit.New(svc, ratelimit.NewLocal(tt.rate, 1, ratelimit.WithClock(clk)), ratelimit.Config{}, ratelimit.WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Allow(context.Background()); err != nil {
			t.Fatalf("rate %v: first Allow = %v", tt.rate, err)
		}
		_, info, retry := rejectionDetails(t, p.Allow(context.Background()))
		if retry == nil || retry.GetRetryDelay().AsDuration() != tt.delay {
			t.Errorf("rate %v: RetryInfo = %v, want %v", tt.rate, retry, tt.delay)
		}
		if got := info.GetMetadata()["retry_after_ms"]; got != tt.wantMs {
			t.Errorf("rate %v: retry_after_ms = %q for a RetryAfter of %v, want %q", tt.rate, got, tt.delay, tt.wantMs)
		}
	}
}

// A call whose caller's deadline had passed before it began, which grpc fails before sending
// it, takes no token: unary or stream, it ends with grpc's DeadlineExceeded, and the next
// live call still finds the token.
func TestEndedContextTakesNoToken(t *testing.T) {
	ended, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	deadlineExceeded := status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded")
	invoker := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if ctx.Err() != nil {
			return deadlineExceeded
		}
		return nil
	}
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		return nil, invoker(ctx, "", nil, nil, nil)
	}
	p, err := ratelimit.New(svc, nil, ratelimit.Config{Rate: 1, Burst: 1}, ratelimit.WithClock(clocktest.New(time.Time{})))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Unary()(ended, testkit.MethodCompare, nil, nil, nil, invoker); !errors.Is(err, deadlineExceeded) {
		t.Errorf("unary call = %v, want the invoker's DeadlineExceeded", err)
	}
	if _, err := p.Stream()(ended, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer); !errors.Is(err, deadlineExceeded) {
		t.Errorf("stream open = %v, want the streamer's DeadlineExceeded", err)
	}
	if err := p.Unary()(context.Background(), testkit.MethodCompare, nil, nil, nil, invoker); err != nil {
		t.Errorf("a live call after the ended ones = %v, want the token they did not take", err)
	}
}

// TestRefusedStreamRunsOnFinish: a stream refused a token never reaches grpc, which would have
// run the caller's grpc.OnFinish callbacks once the stream ended; the interceptor runs them
// once, with the refusal, as Unary does for a refused call. A stream interceptor before the
// limiter that ends its bookkeeping on OnFinish (an in-flight count, a span) otherwise never
// ends it for such a stream.
func TestRefusedStreamRunsOnFinish(t *testing.T) {
	clk := clocktest.New(time.Time{})
	ic, err := ratelimit.StreamClientInterceptor("kyc.v1.LivenessService", nil, ratelimit.Config{Rate: 1, Burst: 1}, ratelimit.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		opened++
		return nil, nil
	}
	desc := &grpc.StreamDesc{ClientStreams: true}
	const method = "/kyc.v1.LivenessService/Check"
	if _, err := ic(context.Background(), desc, nil, method, streamer); err != nil {
		t.Fatal(err)
	}
	var f testkit.Finishes
	_, err = ic(context.Background(), desc, nil, method, streamer, f.Option())
	if !errors.Is(err, ratelimit.ErrLimited) || opened != 1 {
		t.Fatalf("second open: %v, streamer reached %d times; want ErrLimited, once", err, opened)
	}
	if errs := f.Errs(); len(errs) != 1 || errs[0] != err {
		t.Fatalf("refused stream: OnFinish ran %d times with %v, want once with %v", len(errs), errs, err)
	}
}

// nilLimiter is a user's Limiter type whose Take reads its fields.
type nilLimiter struct{ allowed bool }

func (l *nilLimiter) Take(context.Context, time.Duration) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allowed: l.allowed}, nil
}

// A nil pointer of the caller's own Limiter type (a variable left unset) is not the nil that
// asks for a bucket built from the Config: it was kept, and the first call panicked in Take.
// New refuses it, naming the parameter and the type; a nil *Local still means "build one".
func TestNewRefusesATypedNilLimiter(t *testing.T) {
	var mine *nilLimiter
	var fn limiterFunc
	for _, tt := range []struct {
		lim  ratelimit.Limiter
		want string
	}{
		{mine, "ratelimit: " + svc + ": limiter: a nil *ratelimit_test.nilLimiter is a typed nil, which panics at the first call; pass nil for a bucket built from the Config"},
		{fn, "limiter: a nil ratelimit_test.limiterFunc is a typed nil"},
	} {
		p, err := ratelimit.New(svc, tt.lim, ratelimit.Config{Rate: 10})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%T(nil)) = %v, %v; want the error %q", tt.lim, p, err, tt.want)
		}
		if _, err := ratelimit.UnaryClientInterceptor(svc, tt.lim, ratelimit.Config{Rate: 10}); err == nil {
			t.Errorf("UnaryClientInterceptor(%T(nil)): no error", tt.lim)
		}
	}
	var local *ratelimit.Local
	if p, err := ratelimit.New(svc, local, ratelimit.Config{Rate: 10}); err != nil || p.Limiter() == nil {
		t.Errorf("New(nil *Local) = %v, %v; want a bucket built from the Config", p, err)
	}
}
