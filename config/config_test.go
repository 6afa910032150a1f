package config_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// golden compares got with testdata/name.golden, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./config -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./config -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestExamplesLoad(t *testing.T) {
	tests := []struct {
		file         string
		wantWarnings []string
	}{
		{"examples/kyc.yaml", nil},
		// Its default profile fits deadline.max 5s but not deadline.default 2s.
		{"examples/strict.yaml", []string{"profiles.default"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, warns, err := config.Load(tt.file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			var got []string
			for _, w := range warns {
				got = append(got, w.Path)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantWarnings, ",") {
				t.Errorf("warnings at %v, want %v: %v", got, tt.wantWarnings, warns)
			}
		})
	}
}

// The kyc.yaml example spells out exactly the built-ins.
func TestKYCExampleIsBuiltin(t *testing.T) {
	cfg, _, err := config.Load("examples/kyc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := config.Builtin()
	if cfg.Budget != b.Budget {
		t.Errorf("budget %v, want %v", cfg.Budget, b.Budget)
	}
	for _, name := range b.ProfileNames() {
		if !cfg.Profiles[name].Equal(b.Profiles[name]) {
			t.Errorf("profile %s differs from the built-in: %v", name, cfg.Profiles[name].Changed(b.Profiles[name]))
		}
	}
	for _, name := range b.ServiceNames() {
		if got, want := cfg.Services[name].Profile, b.Services[name].Profile; got != want {
			t.Errorf("service %s bound to %q, want %q", name, got, want)
		}
	}
}

func TestBuiltin(t *testing.T) {
	b := config.Builtin()
	tests := []struct {
		profile          string
		wantAttempts     int
		wantInitial      time.Duration
		wantMax          time.Duration
		wantJitterAmount time.Duration
	}{
		{"ml", 4, time.Second, 20 * time.Second, 3 * time.Second},
		{"fast", 2, 200 * time.Millisecond, 2 * time.Second, 500 * time.Millisecond},
		{"ocr", 4, 500 * time.Millisecond, 10 * time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			p := b.Profiles[tt.profile]
			r := p.Retry
			if r == nil {
				t.Fatal("retry is off")
			}
			if r.MaxAttempts != tt.wantAttempts || r.InitialBackoff != tt.wantInitial || r.MaxBackoff != tt.wantMax ||
				r.Multiplier != 2 || r.Jitter != retry.JitterAdditive || r.JitterAmount != tt.wantJitterAmount {
				t.Errorf("retry = %+v", *r)
			}
			// ml and ocr race stalls with hedges and keep a timeout of 5s, for requests that
			// never answer (see builtin.yaml); fast, which does not hedge, cuts at 300ms.
			if want := map[bool]time.Duration{true: 5 * time.Second, false: 300 * time.Millisecond}[p.Hedge != nil]; r.PerAttemptTimeout != want {
				t.Errorf("per_attempt_timeout %v with hedge %+v, want %v", r.PerAttemptTimeout, p.Hedge, want)
			}
			if r.Throttle.Ratio < 0.5 || r.Throttle.MaxTokens != 0 || r.Throttle.MinPerSecond != 2 || !r.FitSchedule {
				t.Errorf("retry timeout, ratio budget or fitted schedule unset: %+v", *r)
			}
			if p.Breaker == nil || p.Bulkhead == nil || p.Deadline == nil || p.RateLimit != nil || p.Fallback != nil {
				t.Errorf("sections: %+v", p)
			}
			for _, reason := range []string{"DOCUMENT_UNREADABLE", "FACE_NOT_DETECTED"} {
				if got := p.Classifier.Reasons[reason]; got != codes.Business {
					t.Errorf("reason %s is %v, want business", reason, got)
				}
			}
		})
	}
	if b.Budget != 8*time.Second {
		t.Errorf("budget %v, want 8s", b.Budget)
	}
	for svc, want := range map[string]string{"kyc.v1.LivenessService": "ml", "kyc.v1.FaceMatchService": "ml", "kyc.v1.OCRService": "ocr"} {
		if got := b.Services[svc].Profile; got != want {
			t.Errorf("%s bound to %q, want %q", svc, got, want)
		}
	}
	// Builtin returns copies.
	b.Profiles["ml"].Retry.MaxAttempts = 99
	if config.Builtin().Profiles["ml"].Retry.MaxAttempts != 4 {
		t.Error("changing Builtin's result changed the built-ins")
	}
}

func TestWarningsGolden(t *testing.T) {
	_, warns, err := config.Parse("empty.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, w := range warns {
		b.WriteString(w.String() + "\n")
	}
	golden(t, "warnings_builtin", b.String())
}

func TestExplainGolden(t *testing.T) {
	tests := []struct{ name, file string }{
		{"explain_builtin", ""},
		{"explain_strict", "examples/strict.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Builtin()
			if tt.file != "" {
				var err error
				if cfg, _, err = config.Load(tt.file); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if err := config.Explain(&buf, cfg); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.String())
		})
	}
}

func TestErrorsAreTyped(t *testing.T) {
	_, _, err := config.Parse("ocr.yaml", []byte("services:\n  kyc.v1.OCRService:\n    retry:\n      max_attempts: 0\n"))
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	want := config.Error{File: "ocr.yaml", Line: 4, Path: `services."kyc.v1.OCRService".retry.max_attempts`, Value: "0", Rule: "is below 1"}
	if *ce != want {
		t.Errorf("got %+v, want %+v", *ce, want)
	}
	if got, want := err.Error(), `ocr.yaml:4: services."kyc.v1.OCRService".retry.max_attempts: 0 is below 1`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
}

func TestUnmarshalYAML(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr string
	}{
		{"valid", "budget: 5s\nprofiles:\n  p: {retry: {max_attempts: 2}}\nservices:\n  a.B: {profile: p}\n", ""},
		{"invalid", "budget: 5s\nprofiles:\n  p: {retry: {max_attempts: 0}}\n", "line 3: profiles.p.retry.max_attempts: 0 is below 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg config.Config
			err := yaml.Unmarshal([]byte(tt.src), &cfg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p := cfg.Resolve("/a.B/C"); p.Budget != 5*time.Second || p.Retry == nil || p.Retry.MaxAttempts != 2 {
				t.Errorf("policy %+v", p)
			}
		})
	}
}

// config/doc.go: writing 0 where 0 means the default is an error, in every section, so that
// hedge: {max_attempts: 0} does not silently mean 2. Where 0 means none or off it is accepted.
func TestWrittenZeroMeaningTheDefault(t *testing.T) {
	refused := map[string]string{
		"hedge: {max_attempts: 0}":                       "profiles.p.hedge.max_attempts: 0 is below 2",
		"hedge: {delay: 0s}":                             "profiles.p.hedge.delay: 0s is not positive (leave it out for the default 100ms)",
		"hedge: {median_multiple: 0}":                    "profiles.p.hedge.median_multiple: 0 is below 1",
		"hedge: {min_delay: 0s}":                         "profiles.p.hedge.min_delay: 0s is not positive (leave it out for the default 1ms)",
		"hedge: {window: 0}":                             "profiles.p.hedge.window: 0 is below 10",
		"hedge: {min_samples: 0}":                        "profiles.p.hedge.min_samples: 0 is below 1",
		"hedge: {percentile: 0}":                         "profiles.p.hedge.percentile: 0 is outside (0, 1) (0 makes the delay fixed only beside a delay; leave it out for the default 0.95)",
		"adaptive_throttle: {k: 0}":                      "profiles.p.adaptive_throttle.k: 0 is below 1",
		"adaptive_throttle: {window: 0s}":                "profiles.p.adaptive_throttle.window: 0s is not positive (leave it out for the default 2m)",
		"adaptive_throttle: {max_reject_probability: 0}": "profiles.p.adaptive_throttle.max_reject_probability: 0 is not in (0, 1] (leave it out for the default 0.9)",
		"bulkhead: {max_concurrent: 8, adaptive: {algorithm: gradient, smoothing: 0}}": "profiles.p.bulkhead.adaptive.smoothing: 0 is not in (0, 1]",
		"bulkhead: {max_concurrent: 8, adaptive: {algorithm: gradient, tolerance: 0}}": "profiles.p.bulkhead.adaptive.tolerance: 0 is below 1",
		"bulkhead: {max_concurrent: 8, adaptive: {algorithm: aimd, backoff_ratio: 0}}": "profiles.p.bulkhead.adaptive.backoff_ratio: 0 is below 0.5",
	}
	for section, want := range refused {
		_, _, err := config.Parse("p.yaml", []byte("profiles:\n  p:\n    "+section+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", section, err, want)
		}
	}
	for _, section := range []string{
		"hedge: {percentile: 0, delay: 50ms}", "hedge: {max_delay: 0s}", "adaptive_throttle: {min_requests: 0}",
		"bulkhead: {max_concurrent: 8, adaptive: {algorithm: aimd, latency_threshold: 0s}}",
	} {
		if _, _, err := config.Parse("p.yaml", []byte("profiles:\n  p:\n    "+section+"\n")); err != nil {
			t.Errorf("%s: %v", section, err)
		}
	}
}

// An explicit profile: "" used to mean the default profile silently (for a method, the
// service's): config/doc.go's rule is that a written zero meaning the default is an error,
// and the way to the default is to leave the field out.
func TestEmptyProfileRefused(t *testing.T) {
	for yml, want := range map[string]string{
		"services:\n  acme.v1.Geo: {profile: \"\"}\n":                          `e.yaml:2: services."acme.v1.Geo".profile: "" is not a profile name: leave the field out for the default (the built-in binding's profile, else the profile named "default")`,
		"services:\n  acme.v1.Geo:\n    methods:\n      Find: {profile: ''}\n": `e.yaml:4: services."acme.v1.Geo".methods.Find.profile: "" is not a profile name: leave the field out for the service's profile`,
	} {
		_, _, err := config.Parse("e.yaml", []byte(yml))
		if err == nil || err.Error() != want {
			t.Errorf("%q: err = %v, want %q", yml, err, want)
		}
	}
	// Left out, the field still means the default.
	if _, _, err := config.Parse("e.yaml", []byte("services:\n  acme.v1.Geo:\n    methods:\n      Find: {}\n")); err != nil {
		t.Errorf("profile left out: %v", err)
	}
}
