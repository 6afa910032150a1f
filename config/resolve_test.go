package config_test

import (
	"cmp"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	grpccodes "google.golang.org/grpc/codes"
)

func mustParse(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

// A service override of one retry field keeps every other retry field of the profile.
func TestOverrideFieldByField(t *testing.T) {
	cfg := mustParse(t, `
services:
  kyc.v1.OCRService:
    retry:
      max_attempts: 2
    methods:
      Extract:
        retry:
          per_attempt_timeout: 1s
          throttle: {min_per_second: 5}
      Other:
        profile: fast
`)
	ocr := *config.Builtin().Profiles["ocr"].Retry
	fast := *config.Builtin().Profiles["fast"].Retry
	withDefaults := func(r retry.Config) retry.Config {
		r.ReplayBufferBytes = 256 << 10
		r.PerAttemptCut = cmp.Or(r.PerAttemptCut, retry.CutAlways)
		return r
	}

	svc := withDefaults(ocr)
	svc.MaxAttempts = 2
	extract := svc
	extract.PerAttemptTimeout = time.Second
	extract.Throttle.MinPerSecond = 5 // ratio and window stay ocr's
	other := withDefaults(fast)
	other.MaxAttempts = 2 // the service's override applies over the method's profile

	tests := []struct {
		fullMethod  string
		wantProfile string
		want        retry.Config
	}{
		{"/kyc.v1.OCRService/Unlisted", "ocr", svc},
		{"/kyc.v1.OCRService/Extract", "ocr", extract},
		{"/kyc.v1.OCRService/Other", "fast", other},
	}
	for _, tt := range tests {
		t.Run(tt.fullMethod, func(t *testing.T) {
			p := cfg.Resolve(tt.fullMethod)
			if p.ProfileName != tt.wantProfile {
				t.Errorf("profile %q, want %q", p.ProfileName, tt.wantProfile)
			}
			if p.Retry == nil || *p.Retry != tt.want {
				t.Errorf("retry =\n%+v, want\n%+v", p.Retry, tt.want)
			}
		})
	}
	// Resolving does not change the configuration.
	if got := cfg.Profiles["ocr"].Retry.MaxAttempts; got != 4 {
		t.Errorf("profile ocr changed: max_attempts %d", got)
	}
}

func TestResolve(t *testing.T) {
	cfg := mustParse(t, `
budget: 5s
profiles:
  default:
    bulkhead: {max_concurrent: 3, adaptive: off}
services:
  kyc.v1.FaceMatchService:
    retry: off
    rate_limit: {rate: 7.5}
    classifier:
      codes: {NOT_FOUND: transient}
      reasons: {DOCUMENT_UNREADABLE: transient}
  acme.v1.Bare: {}
`)
	tests := []struct {
		name      string
		method    string
		wantName  string
		wantCheck func(p config.Policy) bool
	}{
		{"unlisted service gets default", "/acme.v1.Unlisted/Get", "default", func(p config.Policy) bool {
			return p.Retry == nil && p.Bulkhead != nil && *p.Bulkhead == bulkhead.Config{MaxConcurrent: 3} && p.Budget == 5*time.Second
		}},
		{"service without profile gets default", "/acme.v1.Bare/Get", "default", func(p config.Policy) bool {
			return p.Bulkhead != nil && p.Bulkhead.MaxConcurrent == 3
		}},
		{"off turns retry off, rate limit on with defaults", "/kyc.v1.FaceMatchService/Compare", "ml", func(p config.Policy) bool {
			return p.Retry == nil && p.RateLimit != nil && *p.RateLimit == ratelimit.Config{Rate: 7.5, Burst: 8} && p.Breaker != nil
		}},
		{"classifier entries merge", "/kyc.v1.FaceMatchService/Compare", "ml", func(p config.Policy) bool {
			return p.Classifier.Codes[grpccodes.NotFound] == codes.Transient &&
				p.Classifier.Reasons["DOCUMENT_UNREADABLE"] == codes.Transient &&
				p.Classifier.Reasons["FACE_NOT_DETECTED"] == codes.Business
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cfg.Resolve(tt.method)
			if p.ProfileName != tt.wantName {
				t.Errorf("profile %q, want %q", p.ProfileName, tt.wantName)
			}
			if !tt.wantCheck(p) {
				t.Errorf("policy = %+v", p)
			}
		})
	}
}

func TestResolveWithoutDefaultProfile(t *testing.T) {
	var cfg config.Config
	p := cfg.Resolve("/acme.v1.X/Y")
	want := config.Policy{Service: "acme.v1.X", Method: "Y", Budget: 8 * time.Second}
	if !p.Equal(want) || p.ProfileName != "" || p.Retry != nil || p.Breaker != nil {
		t.Errorf("got %+v, want no policies", p)
	}
}

func TestDefaultsFilled(t *testing.T) {
	cfg := &config.Config{Profiles: map[string]config.Profile{"p": {
		Retry: &retry.Config{}, Deadline: &deadline.Config{},
	}}, Services: map[string]config.Service{"a.B": {Profile: "p"}}}
	p := cfg.ResolveService("a.B")
	want := retry.Config{MaxAttempts: 3, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second,
		Multiplier: 2, Jitter: retry.JitterFull, PerAttemptCut: retry.CutAlways, ReplayBufferBytes: 256 << 10}
	if *p.Retry != want {
		t.Errorf("retry = %+v, want %+v", *p.Retry, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// Go code builds overrides with Set and Off; unknown field paths are reported.
func TestOverridesFromGo(t *testing.T) {
	cfg := config.Builtin()
	cfg.Services["kyc.v1.OCRService"] = config.Service{Profile: "ocr", Overrides: config.Overrides{
		Retry:    config.Set(retry.Config{MaxAttempts: 5, Jitter: retry.JitterNone}, "max_attempts"),
		Bulkhead: config.Off[bulkhead.Config](),
	}}
	p := cfg.ResolveService("kyc.v1.OCRService")
	if p.Retry.MaxAttempts != 5 || p.Retry.Jitter != retry.JitterAdditive || p.Bulkhead != nil {
		t.Errorf("got retry %+v, bulkhead %v", *p.Retry, p.Bulkhead)
	}
	cfg.Services["kyc.v1.OCRService"] = config.Service{Profile: "ocr", Overrides: config.Overrides{
		Retry: config.Set(retry.Config{}, "max_atempts"),
	}}
	err := cfg.Validate()
	if want := `services."kyc.v1.OCRService".retry: "max_atempts" is not a field of retry`; err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %q", err, want)
	}
}

// The suite keeps breaker state across a reload when the breaker section did not change.
func TestPolicyEqualAndChanged(t *testing.T) {
	before := mustParse(t, "")
	after := mustParse(t, "services:\n  kyc.v1.OCRService:\n    retry: {max_attempts: 2}\n    rate_limit: {rate: 5, redis: {addr: \"r:6379\"}}\n")
	again := mustParse(t, "services:\n  kyc.v1.OCRService:\n    retry: {max_attempts: 2}\n    rate_limit: {rate: 5, redis: {addr: \"r:6379\"}}\n")
	const m = "/kyc.v1.OCRService/Extract"
	tests := []struct {
		name        string
		a, b        config.Policy
		wantEqual   bool
		wantChanged []config.Section
	}{
		{"same", before.Resolve(m), before.Resolve(m), true, nil},
		{"retry and rate limit changed", before.Resolve(m), after.Resolve(m), false, []config.Section{config.SectionRetry, config.SectionRateLimit}},
		{"equal values, different pointers", after.Resolve(m), again.Resolve(m), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.wantEqual {
				t.Errorf("Equal = %v, want %v", got, tt.wantEqual)
			}
			got := tt.a.Changed(tt.b.Profile)
			if len(got) != len(tt.wantChanged) {
				t.Fatalf("Changed = %v, want %v", got, tt.wantChanged)
			}
			for i := range got {
				if got[i] != tt.wantChanged[i] {
					t.Errorf("Changed = %v, want %v", got, tt.wantChanged)
				}
			}
			if !tt.a.SameSection(tt.b.Profile, config.SectionBreaker) {
				t.Error("breaker reported changed")
			}
		})
	}
}

func TestUserFileOverBuiltins(t *testing.T) {
	cfg := mustParse(t, `
budget: 6s
profiles:
  ml:
    retry: {max_attempts: 2}
services:
  kyc.v1.OCRService:
    bulkhead: {max_concurrent: 2, adaptive: off}
  kyc.v1.LivenessService:
    profile: fast
`)
	tests := []struct {
		service      string
		wantProfile  string
		wantAttempts int
	}{
		{"kyc.v1.FaceMatchService", "ml", 2},  // redefined ml replaces the built-in wholesale
		{"kyc.v1.OCRService", "ocr", 4},       // no profile: the built-in binding stays
		{"kyc.v1.LivenessService", "fast", 2}, // rebound
	}
	for _, tt := range tests {
		p := cfg.ResolveService(tt.service)
		if p.ProfileName != tt.wantProfile || p.Retry.MaxAttempts != tt.wantAttempts || p.Budget != 6*time.Second {
			t.Errorf("%s: profile %q attempts %d budget %v, want %q %d 6s", tt.service, p.ProfileName, p.Retry.MaxAttempts, p.Budget, tt.wantProfile, tt.wantAttempts)
		}
	}
	if cfg.Profiles["ml"].Breaker != nil {
		t.Error("redefined ml kept the built-in breaker")
	}
}

func TestPolicies(t *testing.T) {
	cfg := mustParse(t, "services:\n  kyc.v1.OCRService:\n    methods:\n      Extract: {retry: {max_attempts: 1}}\n")
	var got []string
	for _, p := range cfg.Policies() {
		got = append(got, p.FullMethod())
	}
	want := []string{"/kyc.v1.FaceMatchService/", "/kyc.v1.LivenessService/", "/kyc.v1.OCRService/", "/kyc.v1.OCRService/Extract"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}

// The sections of issue 10 — hedge, adaptive_throttle and the adaptive bulkhead — resolve
// with their packages' defaults and take overrides field by field.
func TestAdaptiveSectionsResolve(t *testing.T) {
	cfg := mustParse(t, `
profiles:
  gpu:
    hedge: {}
    adaptive_throttle: {k: 1.5}
    bulkhead:
      max_concurrent: 64
      adaptive: {algorithm: gradient}
  fixed:
    hedge: {delay: 40ms, max_attempts: 3}
    bulkhead:
      adaptive: {algorithm: aimd, latency_threshold: 500ms}
services:
  kyc.v1.FaceMatchService:
    profile: gpu
    hedge: {percentile: 0.9}
    methods:
      Compare:
        adaptive_throttle: off
        bulkhead:
          adaptive: {min_limit: 4}
  kyc.v1.OCRService:
    profile: fixed
`)
	svc := cfg.ResolveService("kyc.v1.FaceMatchService")
	wantHedge := hedge.Config{MaxAttempts: 2, Delay: 100 * time.Millisecond, Percentile: 0.9, MedianMultiple: 3, MinDelay: time.Millisecond, Window: 500, MinSamples: 50, ReplayBufferBytes: hedge.DefaultReplayBufferBytes}
	if svc.Hedge == nil || *svc.Hedge != wantHedge {
		t.Errorf("hedge = %+v, want %+v", svc.Hedge, wantHedge)
	}
	wantThrottle := throttle.Config{K: 1.5, Window: 2 * time.Minute, MaxRejectProbability: 0.9}
	if svc.AdaptiveThrottle == nil || *svc.AdaptiveThrottle != wantThrottle {
		t.Errorf("adaptive_throttle = %+v, want %+v", svc.AdaptiveThrottle, wantThrottle)
	}
	// The gradient backs off by backoff_ratio on an overload failure, so it resolves too.
	wantBulkhead := bulkhead.Config{MaxConcurrent: 64, Adaptive: bulkhead.Adaptive{
		Algorithm: bulkhead.AlgorithmGradient, MinLimit: 1, InitialLimit: 16, Smoothing: 0.2, Tolerance: 1.5, LongWindow: 600, BackoffRatio: 0.9}}
	if svc.Bulkhead == nil || *svc.Bulkhead != wantBulkhead {
		t.Errorf("bulkhead = %+v, want %+v", svc.Bulkhead, wantBulkhead)
	}

	m := cfg.Resolve("/kyc.v1.FaceMatchService/Compare")
	if m.AdaptiveThrottle != nil {
		t.Errorf("Compare: adaptive_throttle = %+v, want off", m.AdaptiveThrottle)
	}
	wantBulkhead.Adaptive.MinLimit = 4
	if m.Bulkhead == nil || *m.Bulkhead != wantBulkhead {
		t.Errorf("Compare: bulkhead = %+v, want %+v", m.Bulkhead, wantBulkhead)
	}
	if got := m.Profile.Changed(svc.Profile); len(got) != 2 || got[0] != config.SectionAdaptiveThrottle || got[1] != config.SectionBulkhead {
		t.Errorf("Compare changes %v against its service, want [adaptive_throttle bulkhead]", got)
	}

	ocr := cfg.ResolveService("kyc.v1.OCRService")
	// A fixed delay stays fixed (no percentile); the other fields take hedge.New's defaults.
	if want := (hedge.Config{MaxAttempts: 3, Delay: 40 * time.Millisecond, MinDelay: time.Millisecond, Window: 500, MinSamples: 50, ReplayBufferBytes: hedge.DefaultReplayBufferBytes}); ocr.Hedge == nil || *ocr.Hedge != want {
		t.Errorf("fixed hedge = %+v, want %+v", ocr.Hedge, want)
	}
	wantAIMD := bulkhead.Config{MaxConcurrent: 10, Adaptive: bulkhead.Adaptive{
		Algorithm: bulkhead.AlgorithmAIMD, MinLimit: 1, InitialLimit: 2, LatencyThreshold: 500 * time.Millisecond, BackoffRatio: 0.9}}
	if ocr.Bulkhead == nil || *ocr.Bulkhead != wantAIMD {
		t.Errorf("aimd bulkhead = %+v, want %+v", ocr.Bulkhead, wantAIMD)
	}
	// Filled-in defaults are themselves valid.
	for _, p := range cfg.Policies() {
		for _, err := range []error{validate(p.Hedge), validate(p.AdaptiveThrottle), validate(p.Bulkhead)} {
			if err != nil {
				t.Errorf("%s: resolved policy does not validate: %v", p.FullMethod(), err)
			}
		}
	}
}

func validate[T interface{ Validate() error }](p *T) error {
	if p == nil {
		return nil
	}
	return (*p).Validate()
}

// An override turns a policy off with "off", null or false (config's doc says so), and leaves
// the profile's section when the key is left out.
func TestOverrideOffSpellings(t *testing.T) {
	for _, spelling := range []string{"off", "null", "~", "false"} {
		t.Run(spelling, func(t *testing.T) {
			cfg := mustParse(t, `
services:
  kyc.v1.FaceMatchService:
    retry: `+spelling+`
  kyc.v1.OCRService:
    bulkhead: {max_concurrent: 3, adaptive: off}
`)
			if p := cfg.Resolve("/kyc.v1.FaceMatchService/Compare"); p.Retry != nil {
				t.Errorf("retry: %s left retry on: %+v", spelling, *p.Retry)
			}
			if p := cfg.Resolve("/kyc.v1.OCRService/Extract"); p.Retry == nil {
				t.Errorf("an override without a retry key turned the profile's retry off")
			}
		})
	}
}
