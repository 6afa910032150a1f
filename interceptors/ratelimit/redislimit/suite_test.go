package redislimit

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	bconfig "github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// A Redis that has stopped (a redis-server killed), through the built-in suite (OCR: retry
// with backoff and a ratio budget, hedging, a breaker, an adaptive throttle), under a fake
// clock so that the probe pause lasts the test. Fail-closed: the first call's round trip
// fails and starts the pause; every call is refused at once, class rejected, and neither
// retried nor hedged (one Redis round trip in all, none of the pause's calls reaches the
// server), the breaker stays closed; the caller's error names the limiter and Redis's
// failure, and each call emits LimiterDegraded fail_closed. Fail-open: the local guard (rate
// 5, burst 5) admits the first five calls to the service, then refuses with RATE_LIMITED and
// its RetryAfter, not retried either; each call emits LimiterDegraded fail_open.
func TestSuiteOnStoppedRedis(t *testing.T) {
	const calls = 25 // past the built-in breaker's 20 failures in a row
	for _, failOpen := range []bool{false, true} {
		t.Run(map[bool]string{false: "fail_closed", true: "fail_open"}[failOpen], func(t *testing.T) {
			s := ownServer(t)
			s.kill()
			cfg := bconfig.Builtin()
			p := cfg.Profiles["ocr"]
			p.RateLimit = &ratelimit.Config{Rate: 5, Redis: &ratelimit.RedisConfig{Addr: s.addr, Timeout: time.Second, FailOpen: failOpen}}
			cfg.Profiles["ocr"] = p
			var lim atomic.Pointer[Limiter]
			factory := Factory(nil)
			rec := &testkit.Recorder{}
			suite, err := interceptors.New(cfg, interceptors.WithClock(clocktest.New(time.Now())), interceptors.WithObserver(rec),
				interceptors.WithRemoteLimiter(func(key string, c ratelimit.Config, env ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
					l, closer, err := factory(key, c, env)
					if err == nil {
						lim.Store(l.(*Limiter))
					}
					return l, closer, err
				}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = suite.Close() })
			srv := testkit.Start(t, &testkit.Server{})
			ocr := kycv1.NewOCRServiceClient(srv.Dial(t, suite.DialOptions()...))

			admitted := 0
			if failOpen {
				admitted = 5 // the guard's burst
			}
			for i := range calls {
				// The refusals answer at once; the deadline only bounds what a retried refusal
				// would cost this test (a retry's sleep on the fake clock ends with it).
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err := ocr.Extract(ctx, &kycv1.ExtractRequest{})
				cancel()
				if n := rec.Count(observe.RetryScheduled); n != 0 {
					t.Fatalf("call %d: %d RetryScheduled events, want none: a refusal is not retried", i, n)
				}
				switch {
				case i < admitted:
					if err != nil {
						t.Fatalf("call %d: %v, want the guard to admit it", i, err)
					}
				case failOpen:
					if r, ok := rejection(err); !ok || r.Code.String() != "ResourceExhausted" || r.Reason != ratelimit.ReasonLimited || r.RetryAfter <= 0 {
						t.Fatalf("call %d: %v, want the guard's ResourceExhausted with its retry after", i, err)
					}
				default:
					if r, ok := rejection(err); !ok || r.Code.String() != "Unavailable" || r.Reason != ratelimit.ReasonUnavailable ||
						!errors.Is(err, ErrUnavailable) ||
						!strings.Contains(err.Error(), "redislimit: limiter kyc.v1.OCRService: redis unavailable: ") ||
						!strings.Contains(err.Error(), "connection refused") {
						t.Fatalf("call %d: %v, want Unavailable naming the limiter and Redis's failure", i, err)
					}
				}
			}
			l := lim.Load()
			if got := l.trips.Load(); got != 1 {
				t.Errorf("%d Redis round trips, want 1 (the failure that started the pause)", got)
			}
			if got := l.Degraded(); got != calls {
				t.Errorf("Degraded() = %d, want %d", got, calls)
			}
			if got := srv.Calls(testkit.MethodExtract); got != admitted {
				t.Errorf("the server saw %d requests, want %d", got, admitted)
			}
			want := ReasonFailClosed
			if failOpen {
				want = ReasonFailOpen
			}
			degraded := rec.Events(observe.LimiterDegraded)
			if len(degraded) != calls {
				t.Errorf("%d LimiterDegraded events, want %d", len(degraded), calls)
			}
			for _, ev := range degraded {
				if ev.Reason != want || ev.Service != "kyc.v1.OCRService" {
					t.Errorf("LimiterDegraded %+v, want reason %s for kyc.v1.OCRService", ev, want)
					break
				}
			}
			for _, k := range []observe.Kind{observe.RetryScheduled, observe.RetriesExhausted, observe.HedgeSent, observe.BreakerStateChanged} {
				if n := rec.Count(k); n != 0 {
					t.Errorf("%d %v events, want none", n, k)
				}
			}
			refusals := 0
			for _, ev := range rec.Events(observe.CallFinished) {
				if ev.Class == codes.Rejected {
					refusals++
				}
			}
			if refusals != calls-admitted {
				t.Errorf("%d calls finished rejected, want %d", refusals, calls-admitted)
			}
			suite.Levels(func(lv observe.Level) bool {
				if lv.Service == "kyc.v1.OCRService" && lv.Kind == observe.LevelBreakerState && lv.State != "closed" {
					t.Errorf("breaker %s, want closed", lv.State)
				}
				return true
			})
			if !errors.Is(l.pauseCause(), errProbePause) {
				t.Errorf("the limiter is not in its probe pause: %v", l.pauseCause())
			}
		})
	}
}

// rejection returns the bulwark rejection err is or wraps.
func rejection(err error) (*codes.Rejection, bool) {
	var r *codes.Rejection
	return r, errors.As(err, &r)
}
