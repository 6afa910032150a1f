package promobs_test

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	grpccodes "google.golang.org/grpc/codes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	ocr     = "kyc.v1.OCRService"
	extract = "/kyc.v1.OCRService/Extract"
	face    = "kyc.v1.FaceMatchService"
	compare = "/kyc.v1.FaceMatchService/Compare"
)

// scrape returns the samples of the named families (histogram series included) as exposed
// in the text format: `name{labels}` → value.
func scrape(t *testing.T, reg *prometheus.Registry, names ...string) map[string]float64 {
	t.Helper()
	text := exposition(t, reg)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		series, val := line[:sp], line[sp+1:]
		name := series
		if i := strings.IndexByte(series, '{'); i >= 0 {
			name = series[:i]
		}
		for _, n := range names {
			if name == n || name == n+"_bucket" || name == n+"_sum" || name == n+"_count" {
				v, err := strconv.ParseFloat(val, 64)
				if err != nil {
					t.Fatalf("sample %q: %v", line, err)
				}
				out[series] = v
			}
		}
	}
	return out
}

func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.PanicOnError}).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func newMetrics(t *testing.T, opts ...promobs.Option) (*promobs.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := promobs.New(reg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, reg
}

func call(svc, method string, code grpccodes.Code, class codes.Class, attempts int, d time.Duration) observe.Event {
	return observe.Event{Kind: observe.CallFinished, Service: svc, Method: method, Policy: observe.PolicyRetry,
		Attempt: attempts, Code: code, Class: class, Duration: d}
}

func attempt(svc, method string, n int, code grpccodes.Code, class codes.Class, d time.Duration) observe.Event {
	return observe.Event{Kind: observe.AttemptFinished, Service: svc, Method: method, Policy: observe.PolicyRetry,
		Attempt: n, Code: code, Class: class, Duration: d}
}

func retry(svc, method string, n int, delay time.Duration) observe.Event {
	return observe.Event{Kind: observe.RetryScheduled, Service: svc, Method: method, Policy: observe.PolicyRetry,
		Attempt: n, Code: grpccodes.Unavailable, Class: codes.Transient, Delay: delay}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		reg     func() prometheus.Registerer
		opts    []promobs.Option
		wantIs  error
		wantAR  bool // want a prometheus.AlreadyRegisteredError
		wantErr string
	}{
		{name: "nil registerer", reg: func() prometheus.Registerer { return nil }, wantIs: promobs.ErrNilRegisterer},
		// The bucket errors name the option (two take buckets), the buckets and the rule.
		{name: "no buckets", opts: []promobs.Option{promobs.WithDurationBuckets()}, wantIs: promobs.ErrBadBuckets,
			wantErr: "promobs: bad histogram buckets: WithDurationBuckets: none given, want at least one"},
		{name: "decreasing buckets", opts: []promobs.Option{promobs.WithBackoffBuckets(1, 0.5)}, wantIs: promobs.ErrBadBuckets,
			wantErr: "promobs: bad histogram buckets: WithBackoffBuckets [1 0.5] is not increasing, want each bucket above the one before"},
		{name: "repeated bucket", opts: []promobs.Option{promobs.WithDurationBuckets(0.1, 0.1)}, wantIs: promobs.ErrBadBuckets,
			wantErr: "promobs: bad histogram buckets: WithDurationBuckets [0.1 0.1] repeats 0.1, want each bucket above the one before"},
		// NaN compares false both ways, so it passed the order checks and was exposed as a
		// bucket le="NaN".
		{name: "NaN bucket", opts: []promobs.Option{promobs.WithBackoffBuckets(0.1, math.NaN(), 1)}, wantIs: promobs.ErrBadBuckets,
			wantErr: "promobs: bad histogram buckets: WithBackoffBuckets [0.1 NaN 1] has NaN, want numbers"},
		{name: "const label clash", opts: []promobs.Option{promobs.WithConstLabels(prometheus.Labels{"service": "x"})},
			wantErr: `promobs: const label "service" clashes with a label promobs sets`},
		// The histograms' bucket label: New took it, and the first call's event then panicked
		// in WithLabelValues ("le" is not allowed as label name in histograms).
		{name: "const label le", opts: []promobs.Option{promobs.WithConstLabels(prometheus.Labels{"le": "x"})},
			wantErr: `promobs: const label "le" clashes with a label promobs sets`},
		{name: "registered twice", reg: func() prometheus.Registerer {
			reg := prometheus.NewRegistry()
			if _, err := promobs.New(reg); err != nil {
				t.Fatal(err)
			}
			return reg
		}, wantAR: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.Registerer(prometheus.NewRegistry())
			if tt.reg != nil {
				reg = tt.reg()
			}
			m, err := promobs.New(reg, tt.opts...)
			if err == nil || m != nil {
				t.Fatalf("New returned %p, %v; want nil and an error", m, err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v; want errors.Is %v", err, tt.wantIs)
			}
			if are := (prometheus.AlreadyRegisteredError{}); tt.wantAR && !errors.As(err, &are) {
				t.Errorf("err = %v; want a prometheus.AlreadyRegisteredError", err)
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Errorf("err = %q; want %q", err, tt.wantErr)
			}
		})
	}
}

// failingRegisterer refuses the collector number failAt (1-based) and records the rest.
type failingRegisterer struct {
	failAt       int
	n            int
	registered   map[prometheus.Collector]bool
	unregistered int
}

func (r *failingRegisterer) Register(c prometheus.Collector) error {
	r.n++
	if r.n == r.failAt {
		return errors.New("refused")
	}
	r.registered[c] = true
	return nil
}

func (r *failingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *failingRegisterer) Unregister(c prometheus.Collector) bool {
	if !r.registered[c] {
		return false
	}
	delete(r.registered, c)
	r.unregistered++
	return true
}

// A failed New leaves nothing registered behind it, whichever collector was refused.
func TestNewRollsBackOnRefusal(t *testing.T) {
	for failAt := 1; failAt <= 12; failAt++ {
		t.Run(fmt.Sprint(failAt), func(t *testing.T) {
			reg := &failingRegisterer{failAt: failAt, registered: map[prometheus.Collector]bool{}}
			m, err := promobs.New(reg)
			if m != nil || err == nil || err.Error() != "refused" {
				t.Fatalf("New = %v, %v; want nil, refused", m, err)
			}
			if len(reg.registered) != 0 || reg.unregistered != failAt-1 {
				t.Errorf("left %d registered, unregistered %d; want 0 and %d", len(reg.registered), reg.unregistered, failAt-1)
			}
		})
	}
}

func TestObserve(t *testing.T) {
	tests := []struct {
		name   string
		events []observe.Event
		names  []string
		want   map[string]float64
	}{
		{
			name: "success on first attempt",
			events: []observe.Event{
				attempt(ocr, extract, 1, grpccodes.OK, codes.Success, 20*time.Millisecond),
				call(ocr, extract, grpccodes.OK, codes.Success, 1, 20*time.Millisecond),
			},
			names: []string{promobs.NameCalls, promobs.NameAttempts, promobs.NameRetries},
			want: map[string]float64{
				`bulwark_calls_total{class="success",code="OK",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`:    1,
				`bulwark_attempts_total{class="success",code="OK",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`: 1,
			},
		},
		{
			name: "two transient failures then success",
			events: []observe.Event{
				attempt(ocr, extract, 1, grpccodes.Unavailable, codes.Transient, 5*time.Millisecond),
				retry(ocr, extract, 1, 100*time.Millisecond),
				attempt(ocr, extract, 2, grpccodes.DeadlineExceeded, codes.Transient, 50*time.Millisecond),
				retry(ocr, extract, 2, 200*time.Millisecond),
				attempt(ocr, extract, 3, grpccodes.OK, codes.Success, 10*time.Millisecond),
				call(ocr, extract, grpccodes.OK, codes.Success, 3, 365*time.Millisecond),
			},
			names: []string{promobs.NameCalls, promobs.NameAttempts, promobs.NameRetries},
			want: map[string]float64{
				`bulwark_calls_total{class="success",code="OK",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`:                    1,
				`bulwark_attempts_total{class="success",code="OK",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`:                 1,
				`bulwark_attempts_total{class="transient",code="Unavailable",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`:      1,
				`bulwark_attempts_total{class="transient",code="DeadlineExceeded",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`: 1,
				`bulwark_retries_total{attempt="1",service="kyc.v1.OCRService"}`:                                                                    1,
				`bulwark_retries_total{attempt="2",service="kyc.v1.OCRService"}`:                                                                    1,
			},
		},
		{
			name: "attempt label is bucketed",
			events: []observe.Event{
				retry(face, compare, 0, time.Millisecond), // a bad attempt number counts as 1
				retry(face, compare, 1, time.Millisecond),
				retry(face, compare, 2, time.Millisecond),
				retry(face, compare, 3, time.Millisecond),
				retry(face, compare, 4, time.Millisecond),
				retry(face, compare, 5, time.Millisecond),
				retry(face, compare, 6, time.Millisecond),
				retry(face, compare, 99, time.Millisecond),
			},
			names: []string{promobs.NameRetries},
			want: map[string]float64{
				`bulwark_retries_total{attempt="1",service="kyc.v1.FaceMatchService"}`:  2,
				`bulwark_retries_total{attempt="2",service="kyc.v1.FaceMatchService"}`:  1,
				`bulwark_retries_total{attempt="3",service="kyc.v1.FaceMatchService"}`:  1,
				`bulwark_retries_total{attempt="4",service="kyc.v1.FaceMatchService"}`:  1,
				`bulwark_retries_total{attempt="5+",service="kyc.v1.FaceMatchService"}`: 3,
			},
		},
		{
			name: "exhaustion, rejections, fallbacks, deadlines, limiter",
			events: []observe.Event{
				{Kind: observe.RetriesExhausted, Service: ocr, Method: extract, Reason: observe.ReasonMaxAttempts, Attempt: 3},
				{Kind: observe.RetriesExhausted, Service: ocr, Method: extract, Reason: observe.ReasonMaxAttempts, Attempt: 3},
				{Kind: observe.RetriesExhausted, Service: ocr, Method: extract, Reason: observe.ReasonRetryBudget, Attempt: 2},
				{Kind: observe.Rejected, Service: ocr, Method: extract, Policy: observe.PolicyBreaker, Reason: "CIRCUIT_OPEN", Code: grpccodes.Unavailable, Delay: time.Second},
				{Kind: observe.Rejected, Service: ocr, Method: extract, Policy: observe.PolicyBulkhead, Reason: "BULKHEAD_FULL", Code: grpccodes.ResourceExhausted},
				{Kind: observe.Rejected, Service: face, Method: compare, Policy: observe.PolicyRateLimit, Reason: "RATE_LIMITED", Code: grpccodes.ResourceExhausted},
				{Kind: observe.Rejected, Service: face, Method: compare, Policy: observe.PolicyRateLimit, Reason: "RATE_LIMITED", Code: grpccodes.ResourceExhausted},
				{Kind: observe.FallbackServed, Service: face, Method: compare, Policy: observe.PolicyFallback, Code: grpccodes.Unavailable, Class: codes.Transient},
				{Kind: observe.DeadlineApplied, Service: ocr, Method: extract, Policy: observe.PolicyDeadline, Reason: observe.ReasonDefault, Delay: 5 * time.Second},
				{Kind: observe.DeadlineApplied, Service: ocr, Method: extract, Policy: observe.PolicyDeadline, Reason: observe.ReasonCap, Delay: 2 * time.Second},
				{Kind: observe.LimiterDegraded, Service: face, Method: compare, Policy: observe.PolicyRateLimit, Reason: "fail_open"},
			},
			names: []string{promobs.NameRetriesExhausted, promobs.NameRejections, promobs.NameFallbacks,
				promobs.NameDeadlinesApplied, promobs.NameLimiterDegraded},
			want: map[string]float64{
				`bulwark_retries_exhausted_total{reason="max_attempts",service="kyc.v1.OCRService"}`:                    2,
				`bulwark_retries_exhausted_total{reason="retry_budget",service="kyc.v1.OCRService"}`:                    1,
				`bulwark_rejections_total{policy="breaker",reason="CIRCUIT_OPEN",service="kyc.v1.OCRService"}`:          1,
				`bulwark_rejections_total{policy="bulkhead",reason="BULKHEAD_FULL",service="kyc.v1.OCRService"}`:        1,
				`bulwark_rejections_total{policy="rate_limit",reason="RATE_LIMITED",service="kyc.v1.FaceMatchService"}`: 2,
				`bulwark_fallbacks_total{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService"}`:  1,
				`bulwark_deadlines_applied_total{reason="default",service="kyc.v1.OCRService"}`:                         1,
				`bulwark_deadlines_applied_total{reason="cap",service="kyc.v1.OCRService"}`:                             1,
				`bulwark_limiter_degraded_total{reason="fail_open",service="kyc.v1.FaceMatchService"}`:                  1,
			},
		},
		{
			name: "breaker transitions and state from events",
			events: []observe.Event{
				{Kind: observe.BreakerStateChanged, Service: ocr, Policy: observe.PolicyBreaker, From: "closed", To: "open", Reason: "failure_rate"},
				{Kind: observe.BreakerStateChanged, Service: ocr, Policy: observe.PolicyBreaker, From: "open", To: "half_open"},
				{Kind: observe.BreakerStateChanged, Service: ocr, Policy: observe.PolicyBreaker, From: "half_open", To: "open"},
				{Kind: observe.BreakerStateChanged, Service: face, Policy: observe.PolicyBreaker, From: "closed", To: "forced_open"},
				{Kind: observe.BreakerStateChanged, Service: face, Method: compare, Policy: observe.PolicyBreaker, From: "closed", To: "open"},
			},
			names: []string{promobs.NameBreakerTransitions, promobs.NameBreakerState},
			want: map[string]float64{
				`bulwark_breaker_transitions_total{from="closed",method="",service="kyc.v1.OCRService",to="open"}`:                                       1,
				`bulwark_breaker_transitions_total{from="open",method="",service="kyc.v1.OCRService",to="half_open"}`:                                    1,
				`bulwark_breaker_transitions_total{from="half_open",method="",service="kyc.v1.OCRService",to="open"}`:                                    1,
				`bulwark_breaker_transitions_total{from="closed",method="",service="kyc.v1.FaceMatchService",to="forced_open"}`:                          1,
				`bulwark_breaker_state{method="",service="kyc.v1.OCRService",state="closed"}`:                                                            0,
				`bulwark_breaker_state{method="",service="kyc.v1.OCRService",state="open"}`:                                                              1,
				`bulwark_breaker_state{method="",service="kyc.v1.OCRService",state="half_open"}`:                                                         0,
				`bulwark_breaker_state{method="",service="kyc.v1.OCRService",state="forced_open"}`:                                                       0,
				`bulwark_breaker_state{method="",service="kyc.v1.OCRService",state="disabled"}`:                                                          0,
				`bulwark_breaker_state{method="",service="kyc.v1.FaceMatchService",state="closed"}`:                                                      0,
				`bulwark_breaker_state{method="",service="kyc.v1.FaceMatchService",state="open"}`:                                                        0,
				`bulwark_breaker_state{method="",service="kyc.v1.FaceMatchService",state="half_open"}`:                                                   0,
				`bulwark_breaker_state{method="",service="kyc.v1.FaceMatchService",state="forced_open"}`:                                                 1,
				`bulwark_breaker_state{method="",service="kyc.v1.FaceMatchService",state="disabled"}`:                                                    0,
				`bulwark_breaker_transitions_total{from="closed",method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService",to="open"}`: 1,
				`bulwark_breaker_state{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService",state="closed"}`:                      0,
				`bulwark_breaker_state{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService",state="open"}`:                        1,
				`bulwark_breaker_state{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService",state="half_open"}`:                   0,
				`bulwark_breaker_state{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService",state="forced_open"}`:                 0,
				`bulwark_breaker_state{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService",state="disabled"}`:                    0,
			},
		},
		{
			name: "unknown kinds and empty states are ignored",
			events: []observe.Event{
				{Kind: 0, Service: ocr},
				{Kind: 200, Service: ocr},
				{Kind: observe.BreakerStateChanged, Service: ocr, From: "closed"},
			},
			names: []string{promobs.NameBreakerState, promobs.NameBreakerTransitions},
			want: map[string]float64{
				`bulwark_breaker_transitions_total{from="closed",method="",service="kyc.v1.OCRService",to=""}`: 1,
			},
		},
		{
			name: "invalid UTF-8 is made valid",
			events: []observe.Event{
				{Kind: observe.FallbackServed, Service: "bad\xffsvc", Method: "/bad\xffsvc/M"},
			},
			names: []string{promobs.NameFallbacks},
			want: map[string]float64{
				`bulwark_fallbacks_total{method="/bad` + "\uFFFD" + `svc/M",service="bad` + "\uFFFD" + `svc"}`: 1,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t)
			for _, e := range tt.events {
				m.Observe(e)
			}
			got := scrape(t, reg, tt.names...)
			assertSamples(t, got, tt.want)
		})
	}
}

func assertSamples(t *testing.T, got, want map[string]float64) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !wok:
			t.Errorf("unexpected sample %s = %v", k, g)
		case !gok:
			t.Errorf("missing sample %s (want %v)", k, w)
		case g != w:
			t.Errorf("%s = %v; want %v", k, g, w)
		}
	}
}

func TestHistograms(t *testing.T) {
	tests := []struct {
		name   string
		opts   []promobs.Option
		events []observe.Event
		want   map[string]float64
	}{
		{
			name: "call duration by class, default buckets",
			events: []observe.Event{
				call(ocr, extract, grpccodes.OK, codes.Success, 1, 3*time.Millisecond),
				call(ocr, extract, grpccodes.OK, codes.Success, 2, 500*time.Millisecond),
				// Another code of the same class shares the class's histogram.
				call(ocr, extract, grpccodes.Unavailable, codes.Transient, 3, 2*time.Second),
				call(ocr, extract, grpccodes.Aborted, codes.Transient, 3, 30*time.Second),
			},
			want: map[string]float64{
				`bulwark_call_duration_seconds_count{class="success",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`:   2,
				`bulwark_call_duration_seconds_sum{class="success",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`:     0.503,
				`bulwark_call_duration_seconds_count{class="transient",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`: 2,
				`bulwark_call_duration_seconds_sum{class="transient",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`:   32,
			},
		},
		{
			name: "backoff sleeps by service",
			events: []observe.Event{
				retry(ocr, extract, 1, 100*time.Millisecond),
				retry(ocr, extract, 2, 250*time.Millisecond),
				retry(face, compare, 1, 20*time.Second),
			},
			want: map[string]float64{
				`bulwark_retry_backoff_seconds_count{service="kyc.v1.OCRService"}`:       2,
				`bulwark_retry_backoff_seconds_sum{service="kyc.v1.OCRService"}`:         0.35,
				`bulwark_retry_backoff_seconds_count{service="kyc.v1.FaceMatchService"}`: 1,
				`bulwark_retry_backoff_seconds_sum{service="kyc.v1.FaceMatchService"}`:   20,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t, tt.opts...)
			for _, e := range tt.events {
				m.Observe(e)
			}
			got := scrape(t, reg, promobs.NameCallDuration, promobs.NameRetryBackoff)
			for k := range got {
				if !strings.Contains(k, "_count{") && !strings.Contains(k, "_sum{") {
					delete(got, k) // buckets are checked in TestBuckets
				}
			}
			assertSamples(t, got, tt.want)
		})
	}
}

func TestBuckets(t *testing.T) {
	tests := []struct {
		name  string
		opts  []promobs.Option
		event observe.Event
		want  map[string]float64
	}{
		{
			name:  "default buckets span 1ms to 20s",
			event: call(ocr, extract, grpccodes.OK, codes.Success, 1, 7*time.Millisecond),
			want: map[string]float64{
				"0.001": 0, "0.0025": 0, "0.005": 0, "0.01": 1, "0.025": 1, "0.05": 1, "0.1": 1, "0.25": 1,
				"0.5": 1, "1": 1, "2.5": 1, "5": 1, "10": 1, "20": 1, "+Inf": 1,
			},
		},
		{
			name:  "custom duration buckets",
			opts:  []promobs.Option{promobs.WithDurationBuckets(0.1, 1)},
			event: call(ocr, extract, grpccodes.OK, codes.Success, 1, 700*time.Millisecond),
			want:  map[string]float64{"0.1": 0, "1": 1, "+Inf": 1},
		},
		{
			name:  "custom backoff buckets",
			opts:  []promobs.Option{promobs.WithBackoffBuckets(0.05, 0.5, 5)},
			event: retry(ocr, extract, 1, 50*time.Millisecond),
			want:  map[string]float64{"0.05": 1, "0.5": 1, "5": 1, "+Inf": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t, tt.opts...)
			m.Observe(tt.event)
			got := map[string]float64{}
			for k, v := range scrape(t, reg, promobs.NameCallDuration, promobs.NameRetryBackoff) {
				if i := strings.Index(k, `le="`); i >= 0 {
					le := k[i+4:]
					got[le[:strings.IndexByte(le, '"')]] = v
				}
			}
			assertSamples(t, got, tt.want)
		})
	}
}

type fakeBulkhead struct{ inFlight, capacity atomic.Int64 }

func (b *fakeBulkhead) InFlight() int { return int(b.inFlight.Load()) }
func (b *fakeBulkhead) Capacity() int { return int(b.capacity.Load()) }

func TestTrackBulkhead(t *testing.T) {
	m, reg := newMetrics(t)
	ocrBH, faceBH := &fakeBulkhead{}, &fakeBulkhead{}
	ocrBH.capacity.Store(10)
	faceBH.capacity.Store(4)
	m.TrackBulkhead(ocr, ocrBH)
	m.TrackBulkhead(face, faceBH)

	steps := []struct {
		name string
		do   func()
		want map[string]float64
	}{
		{
			name: "idle",
			do:   func() {},
			want: map[string]float64{
				`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`:       0,
				`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:        10,
				`bulwark_bulkhead_in_flight{method="",service="kyc.v1.FaceMatchService"}`: 0,
				`bulwark_bulkhead_capacity{method="",service="kyc.v1.FaceMatchService"}`:  4,
			},
		},
		{
			name: "read at scrape time",
			do:   func() { ocrBH.inFlight.Store(9); faceBH.inFlight.Store(1) },
			want: map[string]float64{
				`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`:       9,
				`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:        10,
				`bulwark_bulkhead_in_flight{method="",service="kyc.v1.FaceMatchService"}`: 1,
				`bulwark_bulkhead_capacity{method="",service="kyc.v1.FaceMatchService"}`:  4,
			},
		},
		{
			name: "tracking again replaces",
			do: func() {
				b := &fakeBulkhead{}
				b.capacity.Store(20)
				b.inFlight.Store(3)
				m.TrackBulkhead(ocr, b)
			},
			want: map[string]float64{
				`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`:       3,
				`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:        20,
				`bulwark_bulkhead_in_flight{method="",service="kyc.v1.FaceMatchService"}`: 1,
				`bulwark_bulkhead_capacity{method="",service="kyc.v1.FaceMatchService"}`:  4,
			},
		},
		{
			name: "nil stops tracking",
			do:   func() { m.TrackBulkhead(face, nil) },
			want: map[string]float64{
				`bulwark_bulkhead_in_flight{method="",service="kyc.v1.OCRService"}`: 3,
				`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:  20,
			},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			assertSamples(t, scrape(t, reg, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity), st.want)
		})
	}
}

func stateSamples(svc, current string) map[string]float64 {
	return methodStateSamples(svc, "", current)
}

func methodStateSamples(svc, method, current string) map[string]float64 {
	out := map[string]float64{}
	for _, st := range promobs.BreakerStates() {
		v := 0.0
		if st == current {
			v = 1
		}
		out[fmt.Sprintf(`bulwark_breaker_state{method=%q,service=%q,state=%q}`, method, svc, st)] = v
	}
	return out
}

func merge(ms ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestTrackBreaker(t *testing.T) {
	m, reg := newMetrics(t)
	var ocrState atomic.Value
	ocrState.Store("closed")
	steps := []struct {
		name string
		do   func()
		want map[string]float64
	}{
		{name: "nothing known", do: func() {}, want: map[string]float64{}},
		{
			name: "tracked state",
			do:   func() { m.TrackBreaker(ocr, func() string { return ocrState.Load().(string) }) },
			want: stateSamples(ocr, "closed"),
		},
		{
			name: "read at scrape time",
			do:   func() { ocrState.Store("half_open") },
			want: stateSamples(ocr, "half_open"),
		},
		{
			name: "tracked state wins over events",
			do: func() {
				m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: ocr, From: "half_open", To: "open"})
			},
			want: stateSamples(ocr, "half_open"),
		},
		{
			name: "untracked service follows events",
			do: func() {
				m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: face, From: "closed", To: "disabled"})
			},
			want: merge(stateSamples(ocr, "half_open"), stateSamples(face, "disabled")),
		},
		{
			name: "nil stops tracking, events take over",
			do:   func() { m.TrackBreaker(ocr, nil) },
			want: merge(stateSamples(ocr, "open"), stateSamples(face, "disabled")),
		},
		{
			name: "an unknown state gets its own series",
			do: func() {
				m.TrackBreaker(face, func() string { return "state(9)" })
			},
			want: merge(stateSamples(ocr, "open"), stateSamples(face, ""),
				map[string]float64{`bulwark_breaker_state{method="",service="kyc.v1.FaceMatchService",state="state(9)"}`: 1}),
		},
		{
			name: "a method-scoped breaker is named by its full method",
			do: func() {
				m.TrackBreaker(face, nil)
				m.TrackBreaker(compare, func() string { return "open" })
				m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: ocr, Method: extract, From: "closed", To: "half_open"})
			},
			want: merge(stateSamples(ocr, "open"), stateSamples(face, "disabled"),
				methodStateSamples(face, compare, "open"), methodStateSamples(ocr, extract, "half_open")),
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			assertSamples(t, scrape(t, reg, promobs.NameBreakerState), st.want)
		})
	}
}

func TestConstLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := promobs.New(reg, promobs.WithConstLabels(prometheus.Labels{"client": "a"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := promobs.New(reg, promobs.WithConstLabels(prometheus.Labels{"client": "b"}))
	if err != nil {
		t.Fatalf("second Metrics with other const labels: %v", err)
	}
	a.Observe(call(ocr, extract, grpccodes.OK, codes.Success, 1, time.Millisecond))
	b.Observe(call(ocr, extract, grpccodes.OK, codes.Success, 1, time.Millisecond))
	b.Observe(call(ocr, extract, grpccodes.OK, codes.Success, 1, time.Millisecond))
	bh := &fakeBulkhead{}
	bh.capacity.Store(2)
	a.TrackBulkhead(ocr, bh)
	assertSamples(t, scrape(t, reg, promobs.NameCalls, promobs.NameBulkheadCapacity), map[string]float64{
		`bulwark_calls_total{class="success",client="a",code="OK",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`: 1,
		`bulwark_calls_total{class="success",client="b",code="OK",method="/kyc.v1.OCRService/Extract",service="kyc.v1.OCRService"}`: 2,
		`bulwark_bulkhead_capacity{client="a",method="",service="kyc.v1.OCRService"}`:                                               2,
	})
}

// allEvents returns one event of every kind, each with every field set, the per-request ones
// (Time, Duration, Delay) to values that differ with i.
func allEvents(i int) []observe.Event {
	base := observe.Event{
		Time: time.Unix(int64(i), 0), Service: ocr, Method: extract, Policy: observe.PolicyRetry,
		Attempt: 2, Code: grpccodes.Unavailable, Class: codes.Transient, Reason: observe.ReasonBudget,
		Delay: time.Duration(i) * time.Microsecond, Duration: time.Duration(i) * time.Millisecond,
		From: "closed", To: "open",
	}
	var out []observe.Event
	for k := observe.CallFinished; k <= observe.LimitChanged; k++ {
		e := base
		e.Kind = k
		out = append(out, e)
	}
	e := base
	e.Kind = observe.AttemptSpared
	return append(out, e)
}

// Labels carry only bounded values taken from the event's labelled fields: per-request values
// (time, durations, delays) never become labels, so the series count does not grow with traffic.
func TestBoundedCardinality(t *testing.T) {
	m, reg := newMetrics(t)
	allowed := map[string]bool{"service": true, "method": true, "code": true, "class": true, "attempt": true,
		"state": true, "from": true, "to": true, "policy": true, "reason": true, "le": true}
	count := func() int {
		n := 0
		for _, name := range promobs.MetricNames() {
			n += testutil.CollectAndCount(reg, name)
		}
		return n
	}
	for i := 1; i <= 10; i++ {
		for _, e := range allEvents(i) {
			m.Observe(e)
		}
	}
	after10 := count()
	for i := 11; i <= 1000; i++ {
		for _, e := range allEvents(i) {
			m.Observe(e)
		}
	}
	if got := count(); got != after10 {
		t.Errorf("series after 1000 calls = %d; after 10 = %d; want equal", got, after10)
	}
	const want = 15 + 5 // one series per counter family and histogram, five breaker states
	if after10 != want {
		t.Errorf("series = %d; want %d", after10, want)
	}
	for series := range scrape(t, reg, promobs.MetricNames()...) {
		body := series[strings.IndexByte(series, '{')+1 : len(series)-1]
		for _, pair := range strings.Split(body, ",") {
			name := pair[:strings.IndexByte(pair, '=')]
			if !allowed[name] {
				t.Errorf("series %s has label %q; want only %v", series, name, allowed)
			}
		}
		for _, leak := range []string{"1970", time.Unix(500, 0).String()} {
			if strings.Contains(series, leak) {
				t.Errorf("series %s carries a per-request value %q", series, leak)
			}
		}
	}
}

// Every name MetricNames lists is exposed, and nothing else is.
func TestMetricNames(t *testing.T) {
	m, reg := newMetrics(t)
	for _, e := range allEvents(1) {
		m.Observe(e)
	}
	m.TrackBulkhead(ocr, &fakeBulkhead{})
	m.Scrape(adaptiveBounds(ocr)) // an adaptive bulkhead's floor and ceiling, which Track leaves out
	m.TrackThrottle(ocr, func() float64 { return 0.25 })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		got = append(got, mf.GetName())
	}
	want := append([]string(nil), promobs.MetricNames()...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("exposed families\n got %v\nwant %v", got, want)
	}
}

func TestConcurrentObserve(t *testing.T) {
	m, reg := newMetrics(t)
	bh := &fakeBulkhead{}
	m.TrackBulkhead(ocr, bh)
	m.TrackBreaker(face, func() string { return "closed" })
	const goroutines, calls = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				// Spread over a few methods so that the caches grow while others read them.
				method := fmt.Sprintf("/kyc.v1.OCRService/M%d", (g+i)%4)
				m.Observe(attempt(ocr, method, 1, grpccodes.OK, codes.Success, time.Millisecond))
				m.Observe(call(ocr, method, grpccodes.OK, codes.Success, 1, time.Millisecond))
				m.Observe(observe.Event{Kind: observe.BreakerStateChanged, Service: ocr, From: "closed", To: "open"})
				if i%50 == 0 {
					_ = exposition(t, reg)
				}
			}
		})
	}
	wg.Wait()
	var total float64
	for k, v := range scrape(t, reg, promobs.NameCalls) {
		if strings.HasPrefix(k, promobs.NameCalls) {
			total += v
		}
	}
	if want := float64(goroutines * calls); total != want {
		t.Errorf("calls = %v; want %v", total, want)
	}
	want := map[string]float64{`bulwark_breaker_transitions_total{from="closed",method="",service="kyc.v1.OCRService",to="open"}`: goroutines * calls}
	assertSamples(t, scrape(t, reg, promobs.NameBreakerTransitions), want)
}

// The success path of a call (one AttemptFinished, one CallFinished) allocates nothing once
// its series exist.
func TestSuccessPathAllocs(t *testing.T) {
	m, _ := newMetrics(t)
	a := attempt(ocr, extract, 1, grpccodes.OK, codes.Success, 3*time.Millisecond)
	c := call(ocr, extract, grpccodes.OK, codes.Success, 1, 3*time.Millisecond)
	r := retry(ocr, extract, 1, time.Millisecond)
	m.Observe(a)
	m.Observe(c)
	m.Observe(r)
	if got := testing.AllocsPerRun(1000, func() {
		m.Observe(a)
		m.Observe(c)
		m.Observe(r)
	}); got != 0 {
		t.Errorf("allocs per success path = %v; want 0", got)
	}
}

// The exposition passes client_golang's linter and promtool's.
func TestLint(t *testing.T) {
	m, reg := newMetrics(t)
	for _, e := range allEvents(1) {
		m.Observe(e)
	}
	m.TrackBulkhead(ocr, &fakeBulkhead{})
	m.TrackBulkhead(compare, &fakeBulkhead{})

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition(t, reg))
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// Hedge events count hedges by why they were sent and wins by method; a tracked throttle's
// probability is read at scrape time.
func TestHedgeAndThrottleMetrics(t *testing.T) {
	m, reg := newMetrics(t)
	for _, reason := range []string{observe.ReasonHedgeDelay, observe.ReasonHedgeDelay, "other"} {
		m.Observe(observe.Event{Kind: observe.HedgeSent, Service: face, Method: compare, Policy: observe.PolicyHedge, Attempt: 2, Reason: reason})
	}
	m.Observe(observe.Event{Kind: observe.HedgeWon, Service: face, Method: compare, Policy: observe.PolicyHedge, Attempt: 2})
	p := 0.5
	m.TrackThrottle(ocr, func() float64 { return p })
	want := `
# HELP bulwark_hedges_total Hedged attempts started, by why (delay: the hedging delay passed with no answer); those a bulwark policy below refused (bulwark_hedges_refused_total) included.
# TYPE bulwark_hedges_total counter
bulwark_hedges_total{reason="delay",service="kyc.v1.FaceMatchService"} 2
bulwark_hedges_total{reason="other",service="kyc.v1.FaceMatchService"} 1
# HELP bulwark_hedge_wins_total Hedged calls answered by an attempt other than the first.
# TYPE bulwark_hedge_wins_total counter
bulwark_hedge_wins_total{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService"} 1
# HELP bulwark_adaptive_throttle_probability Probability with which client-side adaptive throttling rejects a call now; method is empty for a throttle that serves the whole service.
# TYPE bulwark_adaptive_throttle_probability gauge
bulwark_adaptive_throttle_probability{method="",service="kyc.v1.OCRService"} 0.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), promobs.NameHedges, promobs.NameHedgeWins, promobs.NameThrottleProbability); err != nil {
		t.Error(err)
	}
	p = 0
	m.TrackThrottle(ocr, nil)
	if n := testutil.CollectAndCount(reg, promobs.NameThrottleProbability); n != 0 {
		t.Errorf("untracked throttle: %d series, want 0", n)
	}
}
