package retry_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var okCompare = &kycv1.CompareResponse{Similarity: 0.9}

func always(err error) func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
	return func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) { return nil, err }
}

// TestClassTable runs every gRPC code, and a bulwark rejection, through the policy.
func TestClassTable(t *testing.T) {
	rejection := &codes.Rejection{Err: errors.New("circuit open"), Code: grpccodes.Unavailable, Reason: "CIRCUIT_OPEN", Policy: observe.PolicyBreaker, Service: "kyc.v1.FaceMatchService"}
	type tc struct {
		name         string
		err          error
		inner        bool // returned by an inner interceptor, not the server
		wantClass    codes.Class
		wantAttempts int
	}
	var tests []tc
	for c := grpccodes.Canceled; c <= grpccodes.Unauthenticated; c++ {
		cl := codes.Default().ClassOf(c)
		want := 1
		if cl.Retryable() {
			want = 3
		}
		tests = append(tests, tc{name: c.String(), err: testkit.Status(c, ""), wantClass: cl, wantAttempts: want})
	}
	tests = append(tests,
		tc{name: "business by reason", err: testkit.Status(grpccodes.Unavailable, "X"), wantClass: codes.Transient, wantAttempts: 3},
		tc{name: "rejection breaker open", err: rejection, inner: true, wantClass: codes.Rejected, wantAttempts: 1},
		tc{name: "throttled", err: testkit.Throttled(0), wantClass: codes.Throttled, wantAttempts: 3},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t, retry.Config{Jitter: retry.JitterNone}, 0)
			srv := testkit.Start(t, &testkit.Server{CompareF: always(tt.err)})
			var extra []grpc.UnaryClientInterceptor
			inner := 0
			if tt.inner {
				extra = append(extra, func(context.Context, string, any, any, *grpc.ClientConn, grpc.UnaryInvoker, ...grpc.CallOption) error {
					inner++
					return tt.err
				})
			}
			var info retry.Info
			_, err := kycv1.NewFaceMatchServiceClient(s.dial(t, srv, extra...)).Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info))
			s.drv.stop()
			wantCode := status.Code(tt.err)
			if got := status.Code(err); got != wantCode {
				t.Fatalf("code = %v, want %v (%v)", got, wantCode, err)
			}
			attempts := srv.Calls(testkit.MethodCompare) + inner
			if attempts != tt.wantAttempts || info.Attempts != tt.wantAttempts {
				t.Fatalf("attempts = %d (reported %d), want %d", attempts, info.Attempts, tt.wantAttempts)
			}
			evs := s.rec.Events(observe.AttemptFinished)
			if len(evs) != tt.wantAttempts || evs[0].Class != tt.wantClass || evs[0].Code != wantCode {
				t.Fatalf("attempt events = %+v, want %d of class %v", evs, tt.wantAttempts, tt.wantClass)
			}
			_, exhausted := retry.InfoOf(err)
			if wantExhausted := tt.wantClass.Retryable(); exhausted != wantExhausted {
				t.Fatalf("exhausted = %v, want %v (%v)", exhausted, wantExhausted, err)
			}
			if tt.wantClass.Retryable() && (info.Reason != observe.ReasonMaxAttempts || s.rec.Count(observe.RetriesExhausted) != 1) {
				t.Fatalf("reason = %q, exhausted events %d", info.Reason, s.rec.Count(observe.RetriesExhausted))
			}
			if tt.inner && !errors.Is(err, rejection.Err) && status.Code(err) != grpccodes.Unavailable {
				t.Fatalf("rejection lost: %v", err)
			}
		})
	}
}

// TestBackoffSequences checks the exact sleeps of each jitter strategy under a fixed random
// source, and that the elapsed time is their sum.
func TestBackoffSequences(t *testing.T) {
	tests := []struct {
		jitter retry.Jitter
		amount time.Duration
		want   []time.Duration
	}{
		{retry.JitterNone, 0, ms(100, 200, 400, 800, 1000)},
		{retry.JitterFull, 0, ms(50, 50, 300, 700, 500)},
		{retry.JitterEqual, 0, ms(75, 125, 350, 750, 750)},
		{retry.JitterAdditive, 100 * time.Millisecond, ms(150, 225, 475, 887.5, 1000)},
		{retry.JitterDecorrelated, 0, ms(200, 225, 531.25, 1000, 1000)},
	}
	for _, tt := range tests {
		t.Run(string(tt.jitter), func(t *testing.T) {
			cfg := retry.Config{MaxAttempts: 6, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
				Multiplier: 2, Jitter: tt.jitter, JitterAmount: tt.amount}
			s := newSetup(t, cfg, 0, retry.WithRand(seq(0.5, 0.25, 0.75, 0.875, 0.5)))
			var info retry.Info
			start := s.clk.Now()
			err := s.p.Do(context.Background(), testkit.MethodCompare, func(context.Context) error {
				return testkit.Status(grpccodes.Unavailable, "")
			}, retry.Report(&info))
			s.drv.stop()
			if got := s.delays(); !slices.Equal(got, tt.want) {
				t.Fatalf("delays = %v, want %v", got, tt.want)
			}
			var sum time.Duration
			for _, d := range tt.want {
				sum += d
			}
			if info.Elapsed != sum || s.clk.Since(start) != sum || info.Attempts != 6 || info.Code != grpccodes.Unavailable {
				t.Fatalf("info = %+v, want 6 attempts over %v", info, sum)
			}
			if status.Code(err) != grpccodes.Unavailable || !strings.Contains(status.Convert(err).Message(), "after 6 attempts") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestTimeCutoffs: no sleep is begun that would end past the budget or the caller's deadline
// (less MinAttemptTime), and the caller gets the last real status with the attempt count.
func TestTimeCutoffs(t *testing.T) {
	tests := []struct {
		name         string
		budget       time.Duration
		callerIn     time.Duration
		base         int
		wantDelays   []time.Duration
		wantReason   string
		wantAttempts int
	}{
		{name: "budget", budget: time.Second, base: 0, wantDelays: ms(300, 600), wantReason: observe.ReasonBudget, wantAttempts: 3},
		{name: "caller deadline", callerIn: time.Second, base: 1, wantDelays: ms(300, 600), wantReason: observe.ReasonDeadline, wantAttempts: 3},
		{name: "budget tighter than deadline", budget: 905 * time.Millisecond, callerIn: time.Hour, base: 1, wantDelays: ms(300, 600), wantReason: observe.ReasonBudget, wantAttempts: 3},
		{name: "floor", budget: 904 * time.Millisecond, base: 0, wantDelays: ms(300), wantReason: observe.ReasonBudget, wantAttempts: 2},
		{name: "deadline tighter than budget", budget: time.Hour, callerIn: 350 * time.Millisecond, base: 1, wantDelays: ms(300), wantReason: observe.ReasonDeadline, wantAttempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := retry.Config{MaxAttempts: 10, InitialBackoff: 300 * time.Millisecond, Jitter: retry.JitterNone, Budget: tt.budget}
			s := newSetup(t, cfg, tt.base)
			srv := testkit.Start(t, &testkit.Server{CompareF: always(testkit.Status(grpccodes.Unavailable, "GPU_BUSY"))})
			ctx := context.Background()
			if tt.callerIn > 0 {
				var cancel context.CancelFunc
				ctx, cancel = clock.WithTimeout(ctx, s.clk, tt.callerIn)
				defer cancel()
			}
			_, err := kycv1.NewFaceMatchServiceClient(s.dial(t, srv)).Compare(ctx, &kycv1.CompareRequest{})
			s.drv.stop()
			if got := s.delays(); !slices.Equal(got, tt.wantDelays) {
				t.Fatalf("delays = %v, want %v", got, tt.wantDelays)
			}
			info, ok := retry.InfoOf(err)
			if !ok || info.Reason != tt.wantReason || info.Attempts != tt.wantAttempts || srv.Calls(testkit.MethodCompare) != tt.wantAttempts {
				t.Fatalf("info = %+v (%v), calls %d", info, err, srv.Calls(testkit.MethodCompare))
			}
			st := status.Convert(err)
			if st.Code() != grpccodes.Unavailable || !strings.Contains(st.Message(), "after "+itoa(tt.wantAttempts)+" attempts") {
				t.Fatalf("status = %v", st)
			}
			if len(st.Details()) != 1 || st.Details()[0].(*errdetails.ErrorInfo).GetReason() != "GPU_BUSY" {
				t.Fatalf("details lost: %v", st.Details())
			}
			if !errors.Is(err, retry.ErrExhausted) {
				t.Fatal("errors.Is(err, ErrExhausted) = false")
			}
			ex := s.rec.Events(observe.RetriesExhausted)
			if len(ex) != 1 || ex[0].Reason != tt.wantReason || ex[0].Attempt != tt.wantAttempts || ex[0].Code != grpccodes.Unavailable {
				t.Fatalf("exhausted events = %+v", ex)
			}
		})
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// TestPerAttemptTimeout: an attempt cut by its own timeout is retried; the caller's deadline
// is not.
func TestPerAttemptTimeout(t *testing.T) {
	// hang blocks attempts 1 and 2 (by their metadata: an attempt cut while the connection
	// is being set up never reaches the server).
	hang := func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if md, _ := metadata.FromIncomingContext(ctx); !slices.Equal(md.Get(xRetryAttempt), []string{"3"}) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return okCompare, nil
	}
	t.Run("attempt timeout retried", func(t *testing.T) {
		s := newSetup(t, retry.Config{PerAttemptTimeout: 200 * time.Millisecond, Jitter: retry.JitterNone}, -1)
		srv := testkit.Start(t, &testkit.Server{CompareF: hang})
		cc := s.dial(t, srv)
		done := make(chan struct{})
		go func() {
			// Only one timer lives at a time: attempt 1's timeout, the sleep, attempt 2's
			// timeout, the sleep.
			for _, want := range ms(200, 100, 200, 200) {
				if got := s.clk.AdvanceWhenWaiting(); got != want {
					t.Errorf("advanced %v, want %v", got, want)
				}
			}
			close(done)
		}()
		var info retry.Info
		_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info))
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("clock not driven through: err %v, info %+v, events %+v", err, info, s.rec.Events())
		}
		if err != nil || info.Attempts != 3 {
			t.Fatalf("err = %v, info %+v", err, info)
		}
		var got []grpccodes.Code
		for _, e := range s.rec.Events(observe.AttemptFinished) {
			got = append(got, e.Code)
		}
		if want := []grpccodes.Code{grpccodes.DeadlineExceeded, grpccodes.DeadlineExceeded, grpccodes.OK}; !slices.Equal(got, want) {
			t.Fatalf("codes = %v, want %v", got, want)
		}
	})
	t.Run("caller deadline not retried", func(t *testing.T) {
		s := newSetup(t, retry.Config{Jitter: retry.JitterNone}, 0)
		srv := testkit.Start(t, &testkit.Server{CompareF: hang})
		ctx, cancel := clock.WithTimeout(context.Background(), s.clk, time.Second)
		defer cancel()
		go func() {
			s.clk.BlockUntil(1)
			s.clk.Advance(time.Second)
		}()
		_, err := kycv1.NewFaceMatchServiceClient(s.dial(t, srv)).Compare(ctx, &kycv1.CompareRequest{})
		info, ok := retry.InfoOf(err)
		if status.Code(err) != grpccodes.DeadlineExceeded || !ok || info.Attempts != 1 || info.Reason != observe.ReasonDeadline {
			t.Fatalf("err = %v, info %+v", err, info)
		}
		if n := s.rec.Count(observe.RetryScheduled); n != 0 {
			t.Fatalf("%d retries scheduled", n)
		}
	})
	t.Run("caller cancel not retried", func(t *testing.T) {
		s := newSetup(t, retry.Config{}, 0)
		ctx, cancel := context.WithCancel(context.Background())
		err := s.p.Do(ctx, testkit.MethodCompare, func(context.Context) error {
			cancel()
			return status.Error(grpccodes.Canceled, "canceled")
		})
		if _, ok := retry.InfoOf(err); ok || status.Code(err) != grpccodes.Canceled || s.rec.Count(observe.AttemptFinished) != 1 {
			t.Fatalf("err = %v", err)
		}
	})
}

func pushbackTrailer(v string) func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
	return func(ctx context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if call > 1 {
			return okCompare, nil
		}
		_ = grpc.SetTrailer(ctx, metadata.Pairs(codes.PushbackKey, v))
		return nil, status.Error(grpccodes.Unavailable, "busy")
	}
}

func TestPushback(t *testing.T) {
	tests := []struct {
		name         string
		f            func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error)
		budget       time.Duration
		wantDelays   []time.Duration
		wantAttempts int
		wantReason   string
	}{
		{name: "RetryInfo", f: testkit.FailFirst(1, testkit.Throttled(700*time.Millisecond)), wantDelays: ms(700), wantAttempts: 2},
		{name: "trailer", f: pushbackTrailer("300"), wantDelays: ms(300), wantAttempts: 2},
		{name: "trailer zero", f: pushbackTrailer("0"), wantDelays: ms(0), wantAttempts: 2},
		{name: "trailer negative", f: pushbackTrailer("-1"), wantAttempts: 1, wantReason: observe.ReasonPushbackStop},
		{name: "trailer malformed", f: pushbackTrailer("soon"), wantAttempts: 1, wantReason: observe.ReasonPushbackStop},
		{name: "beyond budget", f: testkit.FailFirst(1, testkit.Throttled(2*time.Second)), budget: time.Second, wantAttempts: 1, wantReason: observe.ReasonBudget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The budget bounds each attempt's context; during a sleep no timer but the
			// sleep's lives.
			s := newSetup(t, retry.Config{Jitter: retry.JitterNone, Budget: tt.budget}, 0)
			srv := testkit.Start(t, &testkit.Server{CompareF: tt.f})
			var info retry.Info
			_, err := kycv1.NewFaceMatchServiceClient(s.dial(t, srv)).Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info))
			s.drv.stop()
			if got := s.delays(); !slices.Equal(got, tt.wantDelays) {
				t.Fatalf("delays = %v, want %v", got, tt.wantDelays)
			}
			if info.Attempts != tt.wantAttempts || info.Reason != tt.wantReason {
				t.Fatalf("info = %+v, want %d attempts, reason %q (err %v)", info, tt.wantAttempts, tt.wantReason, err)
			}
			if (tt.wantReason == "") != (err == nil) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestThrottleFullOutage: with the service fully down the retry budget brings attempts per
// call down to about one, and retries resume once successes refill it.
func TestThrottleFullOutage(t *testing.T) {
	cfg := retry.Config{Jitter: retry.JitterNone, Throttle: retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.1}}
	s := newSetup(t, cfg, 0)
	down := true
	srv := testkit.Start(t, &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if down {
			return nil, status.Error(grpccodes.Unavailable, "down")
		}
		return okCompare, nil
	}})
	client := kycv1.NewFaceMatchServiceClient(s.dial(t, srv))
	call := func() (retry.Info, error) {
		var info retry.Info
		_, err := client.Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info))
		return info, err
	}
	const calls = 200
	total := 0
	var perCall []int
	for range calls {
		info, _ := call()
		total += info.Attempts
		perCall = append(perCall, info.Attempts)
	}
	ratio := float64(total) / calls
	t.Logf("full outage: %d attempts over %d calls, %.3f attempts per call; first calls %v", total, calls, ratio, perCall[:4])
	if total != 3+2+(calls-2) || ratio > 1.05 {
		t.Fatalf("attempts = %d (ratio %.3f), want %d", total, ratio, 3+2+calls-2)
	}
	if got := s.rec.Events(observe.RetriesExhausted); got[len(got)-1].Reason != observe.ReasonRetryBudget {
		t.Fatalf("last reason = %q", got[len(got)-1].Reason)
	}
	down = false
	for range 70 { // 70 × 0.1 tokens = 7 > 5
		if _, err := call(); err != nil {
			t.Fatal(err)
		}
	}
	down = true
	if info, _ := call(); info.Attempts != 2 {
		t.Fatalf("after recovery: %d attempts, want 2 (one retry, then the bucket is at half)", info.Attempts)
	}
}

func TestIdempotency(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	tests := []struct {
		name         string
		method       string
		cfg          retry.Config
		opts         []grpc.CallOption
		wantAttempts int
	}{
		{name: "NO_SIDE_EFFECTS retried", method: testkit.MethodCompare, wantAttempts: 3},
		{name: "Verify not retried", method: testkit.MethodVerify, wantAttempts: 1},
		{name: "Verify with Config.Idempotent", method: testkit.MethodVerify, cfg: retry.Config{Idempotent: true}, wantAttempts: 3},
		{name: "Verify with WithIdempotent(true)", method: testkit.MethodVerify, opts: []grpc.CallOption{retry.WithIdempotent(true)}, wantAttempts: 3},
		{name: "Compare with WithIdempotent(false)", method: testkit.MethodCompare, opts: []grpc.CallOption{retry.WithIdempotent(false)}, wantAttempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Jitter = retry.JitterNone
			s := newSetup(t, tt.cfg, 0)
			srv := testkit.Start(t, &testkit.Server{
				CompareF: always(unavailable),
				VerifyF: func(context.Context, int, *kycv1.VerifyRequest) (*kycv1.VerifyResponse, error) {
					return nil, unavailable
				},
			})
			cc := s.dial(t, srv)
			var err error
			if tt.method == testkit.MethodVerify {
				_, err = kycv1.NewKYCServiceClient(cc).Verify(context.Background(), &kycv1.VerifyRequest{}, tt.opts...)
			} else {
				_, err = kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{}, tt.opts...)
			}
			s.drv.stop()
			if got := srv.Calls(tt.method); got != tt.wantAttempts {
				t.Fatalf("calls = %d, want %d", got, tt.wantAttempts)
			}
			if _, exhausted := retry.InfoOf(err); exhausted != (tt.wantAttempts > 1) || status.Code(err) != grpccodes.Unavailable {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestAttemptMetadata(t *testing.T) {
	s := newSetup(t, retry.Config{Jitter: retry.JitterNone}, 0)
	srv := testkit.Start(t, &testkit.Server{CompareF: testkit.FailFirst(2, status.Error(grpccodes.Aborted, "conflict"))})
	if _, err := kycv1.NewFaceMatchServiceClient(s.dial(t, srv)).Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	s.drv.stop()
	var got [][]string
	for _, md := range srv.Metadata(testkit.MethodCompare) {
		got = append(got, md.Get(xRetryAttempt))
	}
	want := [][]string{nil, {"2"}, {"3"}}
	if len(got) != 3 || got[0] != nil || !slices.Equal(got[1], want[1]) || !slices.Equal(got[2], want[2]) {
		t.Fatalf("x-retry-attempt = %q, want %q", got, want)
	}
	// The convention shared with hedging (gRFC A6): the attempts sent before this one.
	got = got[:0]
	for _, md := range srv.Metadata(testkit.MethodCompare) {
		got = append(got, md.Get(retry.PreviousAttemptsKey))
	}
	if want := [][]string{nil, {"1"}, {"2"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("%s = %q, want %q", retry.PreviousAttemptsKey, got, want)
	}
}

func TestCallOptions(t *testing.T) {
	unavailable := status.Error(grpccodes.Unavailable, "down")
	tests := []struct {
		name         string
		f            func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error)
		opts         []grpc.CallOption
		wantCalls    int
		wantInfo     retry.Info
		wantEvents   int
		wantReported bool
	}{
		{name: "report success", f: always(nil), wantCalls: 1, wantInfo: retry.Info{Attempts: 1, Code: grpccodes.OK}, wantEvents: 1, wantReported: true},
		{name: "report retried success", f: testkit.FailFirst(2, unavailable), wantCalls: 3,
			wantInfo: retry.Info{Attempts: 3, Code: grpccodes.OK, Elapsed: 300 * time.Millisecond}, wantEvents: 5, wantReported: true},
		{name: "WithMax(1)", f: always(unavailable), opts: []grpc.CallOption{retry.WithMax(1)}, wantCalls: 1,
			wantInfo: retry.Info{Attempts: 1, Code: grpccodes.Unavailable, Reason: observe.ReasonMaxAttempts}, wantEvents: 2, wantReported: true},
		{name: "WithMax(5)", f: always(unavailable), opts: []grpc.CallOption{retry.WithMax(5)}, wantCalls: 5,
			wantInfo: retry.Info{Attempts: 5, Code: grpccodes.Unavailable, Reason: observe.ReasonMaxAttempts, Elapsed: 1500 * time.Millisecond}, wantEvents: 10, wantReported: true},
		{name: "Disable", f: always(unavailable), opts: []grpc.CallOption{retry.Disable()}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "report success" {
				tt.f = func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
					return okCompare, nil
				}
			}
			s := newSetup(t, retry.Config{Jitter: retry.JitterNone}, 0)
			srv := testkit.Start(t, &testkit.Server{CompareF: tt.f})
			info := retry.Info{Attempts: -1}
			opts := append(slices.Clone(tt.opts), retry.Report(&info))
			_, _ = kycv1.NewFaceMatchServiceClient(s.dial(t, srv)).Compare(context.Background(), &kycv1.CompareRequest{}, opts...)
			s.drv.stop()
			if got := srv.Calls(testkit.MethodCompare); got != tt.wantCalls {
				t.Fatalf("calls = %d, want %d", got, tt.wantCalls)
			}
			if !tt.wantReported {
				tt.wantInfo = retry.Info{Attempts: -1}
			}
			if info != tt.wantInfo {
				t.Fatalf("info = %+v, want %+v", info, tt.wantInfo)
			}
			if got := len(s.rec.Events()); got != tt.wantEvents {
				t.Fatalf("events = %d, want %d", got, tt.wantEvents)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	s := newSetup(t, retry.Config{MaxAttempts: 2, Jitter: retry.JitterNone}, 0)
	srv := testkit.Start(t, &testkit.Server{CompareF: always(status.Error(grpccodes.ResourceExhausted, "slow down"))})
	_, _ = kycv1.NewFaceMatchServiceClient(s.dial(t, srv)).Compare(context.Background(), &kycv1.CompareRequest{})
	s.drv.stop()
	evs := s.rec.Events()
	type ev struct {
		kind    observe.Kind
		attempt int
		delay   time.Duration
		reason  string
	}
	want := []ev{{observe.AttemptFinished, 1, 0, ""}, {observe.RetryScheduled, 1, 100 * time.Millisecond, ""}, {observe.AttemptFinished, 2, 0, ""}, {observe.RetriesExhausted, 2, 0, observe.ReasonMaxAttempts}}
	if len(evs) != len(want) {
		t.Fatalf("events = %+v", evs)
	}
	for i, e := range evs {
		got := ev{e.Kind, e.Attempt, e.Delay, e.Reason}
		if got != want[i] || e.Service != "kyc.v1.FaceMatchService" || e.Method != testkit.MethodCompare ||
			e.Policy != observe.PolicyRetry || e.Code != grpccodes.ResourceExhausted || e.Class != codes.Throttled {
			t.Errorf("event %d = %+v, want %+v", i, e, want[i])
		}
	}
	if evs[3].Duration != 100*time.Millisecond {
		t.Errorf("exhausted duration = %v", evs[3].Duration)
	}
}

func TestNew(t *testing.T) {
	if _, err := retry.New(retry.Config{MaxAttempts: -1}); err == nil {
		t.Error("invalid config accepted")
	}
	if _, err := retry.New(retry.Config{ReplayBufferBytes: 2 << 30}); err == nil || !strings.Contains(err.Error(), "replay_buffer_bytes") {
		t.Errorf("replay_buffer_bytes of 2 GiB: err = %v", err)
	}
	// Report, a per-call option, can no longer be given to New: Option is not a CallOption.
	if _, ok := any(retry.WithClock(nil)).(grpc.CallOption); ok {
		t.Error("retry.Option is a grpc.CallOption: passing one to a call would compile")
	}
	for _, o := range []any{retry.Report(nil), retry.WithMax(2), retry.Disable(), retry.WithIdempotent(true), retry.WithCallObserver(nil)} {
		if _, ok := o.(grpc.CallOption); !ok {
			t.Errorf("%T is not a grpc.CallOption", o)
		}
	}
	p, err := retry.New(retry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := retry.Config{MaxAttempts: 3, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, Multiplier: 2, Jitter: retry.JitterFull, PerAttemptCut: retry.CutAlways, ReplayBufferBytes: 256 << 10}
	if got := p.Config(); got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
}

// A call whose caller's deadline had passed before it began, which grpc fails before sending
// it, takes nothing from the retry budget (before the fix each took a token, as a failure of
// the service: a caller past its deadline drained the bucket and stopped the retries of
// everyone else's calls). One whose deadline passes during the attempt still takes one.
func TestDeadlineBeforeTheCallSparesTheBudget(t *testing.T) {
	s := newSetup(t, retry.Config{Jitter: retry.JitterNone, Throttle: retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.1}}, -1)
	deadlineExceeded := status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded")
	ended, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	budget := s.p.Budget("kyc.v1.FaceMatchService")
	for range 10 {
		err := s.p.Unary()(ended, testkit.MethodCompare, nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			return deadlineExceeded
		})
		if !errors.Is(err, deadlineExceeded) {
			t.Fatalf("call = %v, want the invoker's DeadlineExceeded", err)
		}
	}
	if got := budget.Tokens(); got != 10 {
		t.Fatalf("tokens = %v after calls that began past their deadline, want 10", got)
	}
	expiring := testkit.NewExpiring(t, context.Background())
	_ = s.p.Unary()(expiring, testkit.MethodCompare, nil, nil, nil, func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		expiring.Expire()
		return deadlineExceeded
	})
	if got := budget.Tokens(); got != 9 {
		t.Fatalf("tokens = %v after a call whose deadline passed during its attempt, want 9", got)
	}
}

// TestBudgetRefusesFractionsItCannotCount: the token bucket counts thousandths of a
// token, so a positive token_ratio or max_tokens below half a thousandth counted as 0: a
// token_ratio of 0.0001 was accepted and gave a bucket that successes never refilled (after
// one outage, retries stopped for the life of the process), a max_tokens of 0.0001 one that
// never allowed a retry. The ratio budget counts thousandths of a retry: a ratio, or a floor
// of min_per_second·window, below half a thousandth allowed none by it. Validate refuses
// them, naming the field, the value and the rule.
func TestBudgetRefusesFractionsItCannotCount(t *testing.T) {
	for _, tt := range []struct {
		th    retry.RetryBudgetConfig
		field string
	}{
		{retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.0001}, "throttle.token_ratio: 0.0001 "},
		{retry.RetryBudgetConfig{MaxTokens: 0.0001}, "throttle.max_tokens: 0.0001 "},
		// The ratio budget too: a ratio of 0.0004 per call was 0 retries per call.
		{retry.RetryBudgetConfig{Ratio: 0.0004, Window: 10 * time.Second}, "throttle.ratio: 0.0004 is below 0.0005"},
		{retry.RetryBudgetConfig{Ratio: 0.1, MinPerSecond: 0.00001, Window: 10 * time.Second}, "throttle.min_per_second: 1e-05 allows below 0.0005 retries in throttle.window (10s)"},
	} {
		if _, err := retry.New(retry.Config{Throttle: tt.th}); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%+v: err = %v, want one naming %q", tt.th, err, tt.field)
		}
	}
	// Three decimals (and what rounds to them) stay valid.
	for _, th := range []retry.RetryBudgetConfig{{MaxTokens: 0.001, TokenRatio: 0.001}, {MaxTokens: 10, TokenRatio: 0.0005},
		{Ratio: 0.0005, Window: 10 * time.Second}, {Ratio: 0.1, MinPerSecond: 0.0001, Window: 10 * time.Second}} {
		if _, err := retry.New(retry.Config{Throttle: th}); err != nil {
			t.Errorf("%+v: %v", th, err)
		}
	}
}

// TestExplainNamesTheTimeBudget: Config.Budget is a time (the call's total, attempts and
// sleeps), not the retry budget (Throttle), as its doc insists; Explain called it "retry
// budget 8s", which next to a throttle's "retries and hedges at most 0.6 per call" read as a
// second retry budget.
func TestExplainNamesTheTimeBudget(t *testing.T) {
	got := retry.Normalize(retry.Config{Budget: 8 * time.Second, Throttle: retry.RetryBudgetConfig{Ratio: 0.6}}).Explain()
	if strings.Contains(got, "retry budget") || !strings.Contains(got, "time budget 8s") {
		t.Fatalf("Explain() = %q, want the 8s named a time budget, not a retry budget", got)
	}
}

// TestExplainOfOneAttempt: with max_attempts 1 (an imported hedging policy, or a method that
// may not be retried) no retry follows, so no backoff: Explain said "1 attempts; backoff 100ms
// x2 up to 10s", describing sleeps that never happen.
func TestExplainOfOneAttempt(t *testing.T) {
	got := retry.Normalize(retry.Config{MaxAttempts: 1, PerAttemptTimeout: time.Second}).Explain()
	if !strings.HasPrefix(got, "1 attempt (no retry); per attempt 1s") || strings.Contains(got, "backoff") || strings.Contains(got, "jitter") {
		t.Fatalf("Explain() = %q, want it to start \"1 attempt (no retry); per attempt 1s\", without a backoff", got)
	}
	if got := retry.Normalize(retry.Config{MaxAttempts: 3}).Explain(); !strings.HasPrefix(got, "3 attempts; backoff ") {
		t.Fatalf("Explain() = %q, want it to start \"3 attempts; backoff \"", got)
	}
}

// TestExplainOfDecorrelatedJitter: decorrelated jitter draws each sleep from InitialBackoff
// to three times the previous one and never reads Multiplier; Explain said "backoff 100ms x2
// up to 10s, decorrelated jitter" (x5 with multiplier 5), a growth the sleeps do not have.
func TestExplainOfDecorrelatedJitter(t *testing.T) {
	got := retry.Normalize(retry.Config{Jitter: retry.JitterDecorrelated, Multiplier: 5}).Explain()
	want := "3 attempts; backoff 100ms to 3x the previous sleep, up to 10s, decorrelated jitter; "
	if !strings.HasPrefix(got, want) || strings.Contains(got, "x5") {
		t.Fatalf("Explain() = %q, want it to start %q, without the multiplier it does not use", got, want)
	}
	if got := retry.Normalize(retry.Config{Multiplier: 5}).Explain(); !strings.HasPrefix(got, "3 attempts; backoff 100ms x5 up to 10s, full jitter; ") {
		t.Fatalf("Explain() = %q, want the multiplier named for full jitter", got)
	}
}

// TestPushbackStopOnTheLastAttempt: a unary call does not read its last attempt's trailer, so
// a pushback there asking not to retry ends the call as max_attempts, as the package doc says.
func TestPushbackStopOnTheLastAttempt(t *testing.T) {
	s := newSetup(t, retry.Config{Jitter: retry.JitterNone, MaxAttempts: 2}, 0)
	srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if call == 2 {
			_ = grpc.SetTrailer(ctx, metadata.Pairs(codes.PushbackKey, "-1"))
		}
		return nil, status.Error(grpccodes.Unavailable, "busy")
	}})
	var info retry.Info
	_, err := kycv1.NewFaceMatchServiceClient(s.dial(t, srv)).Compare(context.Background(), &kycv1.CompareRequest{}, retry.Report(&info))
	s.drv.stop()
	if info.Attempts != 2 || info.Reason != observe.ReasonMaxAttempts || status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("info = %+v, err %v; want 2 attempts ended by %s", info, err, observe.ReasonMaxAttempts)
	}
}

// TestExplainSaysWhoIsRetried: a policy without idempotent: true retries only methods whose
// descriptors declare an idempotency level, which most services do not; Explain said "3
// attempts" alone, and a user reading it expected their calls retried.
func TestExplainSaysWhoIsRetried(t *testing.T) {
	for _, tc := range []struct {
		cfg      retry.Config
		want     string
		wantNone string
	}{
		{retry.Config{MaxAttempts: 3}, "; retries only methods declared idempotent", "; idempotent"},
		{retry.Config{MaxAttempts: 3, Idempotent: true}, "; idempotent", "declared"},
		{retry.Config{MaxAttempts: 1}, "1 attempt (no retry)", "declared"},
	} {
		got := retry.Normalize(tc.cfg).Explain()
		if !strings.HasSuffix(got, tc.want) && !strings.HasPrefix(got, tc.want) || strings.Contains(got, tc.wantNone) {
			t.Errorf("%+v: Explain() = %q, want %q and not %q", tc.cfg, got, tc.want, tc.wantNone)
		}
	}
}

// TestExplainNamesEveryJitter: Explain wrote the jitter mode before the word "jitter", so
// jitter: none read "none jitter". Every mode now reads as prose.
func TestExplainNamesEveryJitter(t *testing.T) {
	for j, want := range map[retry.Jitter]string{
		retry.JitterNone:         ", no jitter;",
		retry.JitterFull:         ", full jitter;",
		retry.JitterEqual:        ", equal jitter;",
		retry.JitterDecorrelated: ", decorrelated jitter;",
		retry.JitterAdditive:     ", additive jitter up to 50ms;",
	} {
		c := retry.Config{Jitter: j}
		if j == retry.JitterAdditive {
			c.JitterAmount = 50 * time.Millisecond
		}
		if got := retry.Normalize(c).Explain(); !strings.Contains(got, want) {
			t.Errorf("jitter %s: Explain() = %q, want it to contain %q", j, got, want)
		}
	}
}

// TestExplainOfAConstantBackoff: with multiplier 1 the backoff does not grow; Explain said
// "backoff 100ms x1 up to 10s", a growth that never happens.
func TestExplainOfAConstantBackoff(t *testing.T) {
	got := retry.Normalize(retry.Config{Multiplier: 1, Jitter: retry.JitterNone}).Explain()
	if !strings.HasPrefix(got, "3 attempts; backoff 100ms each time, up to 10s, no jitter;") {
		t.Fatalf("Explain() = %q, want it to start \"3 attempts; backoff 100ms each time, up to 10s, no jitter;\"", got)
	}
	if got := retry.Normalize(retry.Config{Multiplier: 1.5}).Explain(); !strings.HasPrefix(got, "3 attempts; backoff 100ms x1.5 up to 10s,") {
		t.Fatalf("Explain() = %q, want the x1.5 growth kept", got)
	}
}
