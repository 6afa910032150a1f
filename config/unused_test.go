package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestUnusedRetryBudgetFields: retry.throttle's min_per_second and window without a ratio, and
// its token_ratio without max_tokens, were accepted and did nothing (Explain said "no
// throttle"). Written so, in a profile or an override, they are refused like a jitter_amount
// without additive jitter; kept from a profile by a service that turns the budget off with
// ratio: 0 (or max_tokens: 0) alone, which cannot write their 0, they are a warning.
func TestUnusedRetryBudgetFields(t *testing.T) {
	for src, want := range map[string]string{
		"profiles:\n  p:\n    retry: {throttle: {min_per_second: 5, window: 30s}}\n": "t.yaml:3: profiles.p.retry.throttle.min_per_second: 5 is set but throttle.ratio is not: only the ratio budget reads it\n" +
			"t.yaml:3: profiles.p.retry.throttle.window: 30s is set but throttle.ratio is not: only the ratio budget reads it",
		"profiles:\n  p:\n    retry: {throttle: {max_tokens: 10, window: 30s}}\n": "t.yaml:3: profiles.p.retry.throttle.window: 30s is set but throttle.ratio is not: only the ratio budget reads it",
		"profiles:\n  p:\n    retry: {throttle: {token_ratio: 0.5}}\n":            "t.yaml:3: profiles.p.retry.throttle.token_ratio: 0.5 is set but throttle.max_tokens is not: only the token bucket reads it",
		// An override that writes one is refused at it.
		"services:\n  kyc.v1.OCRService:\n    retry:\n      throttle:\n        ratio: 0\n        min_per_second: 5\n":                   `t.yaml:6: services."kyc.v1.OCRService".retry.throttle.min_per_second: 5 is set but throttle.ratio is not: only the ratio budget reads it`,
		"services:\n  kyc.v1.OCRService:\n    retry:\n      throttle:\n        ratio: 0\n        max_tokens: 10\n        window: 20s\n": `t.yaml:7: services."kyc.v1.OCRService".retry.throttle.window: 20s is set but throttle.ratio is not: only the ratio budget reads it`,
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}

	// ocr's ratio budget turned off by a service: its floor and window stay, unused.
	for _, src := range []string{
		"services:\n  kyc.v1.OCRService:\n    retry:\n      throttle: {ratio: 0}\n",
		"services:\n  kyc.v1.OCRService:\n    retry:\n      throttle: {max_tokens: 0, ratio: 0}\n",
	} {
		warns, _ := parseWarnings(t, "t.yaml", src)
		want := []string{
			"retry.throttle.min_per_second: 2 is set but throttle.ratio is not: only the ratio budget reads it (kept from what this overrides, it has no effect here)",
			"retry.throttle.window: 10s is set but throttle.ratio is not: only the ratio budget reads it (kept from what this overrides, it has no effect here)",
		}
		if got := warningsAt(warns, `services."kyc.v1.OCRService"`); !slices.Equal(got, want) {
			t.Errorf("%q: warnings at the service:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, w := range warns { // at the service, which turns the budget off
			if strings.HasPrefix(w.Message, "retry.throttle") && (w.File != "t.yaml" || w.Line != 2) {
				t.Errorf("%q: warning %q not located in t.yaml", src, w.String())
			}
		}
	}
}

// TestUnusedBreakerWindowFields: a breaker's window_duration with a count window,
// window_size with a time window, and any of the window's fields without a failure rate or a
// slow-call rate were accepted and never read. Written so they are refused; kept from ml's
// count window by a service that changes the window's type, or turns the rate off, they are a
// warning (window_size cannot be written 0).
func TestUnusedBreakerWindowFields(t *testing.T) {
	for src, want := range map[string]string{
		"profiles:\n  p:\n    breaker: {failure_rate_threshold: 0.5, window_duration: 30s}\n":                     "t.yaml:3: profiles.p.breaker.window_duration: 30s is set but window_type is not time: a count window reads window_size",
		"profiles:\n  p:\n    breaker: {failure_rate_threshold: 0.5, window_type: count, window_duration: 30s}\n": "t.yaml:3: profiles.p.breaker.window_duration: 30s is set but window_type is not time: a count window reads window_size",
		"profiles:\n  p:\n    breaker: {slow_call_duration: 1s, window_type: time, window_size: 50}\n":            "t.yaml:3: profiles.p.breaker.window_size: 50 is set with window_type time: a time window reads window_duration",
		"profiles:\n  p:\n    breaker: {consecutive_failures: 5, window_size: 50}\n":                              "t.yaml:3: profiles.p.breaker.window_size: 50 is set but failure_rate_threshold is not, nor slow_call_duration: only a rate reads the window",
		"profiles:\n  p:\n    breaker: {window_type: time, window_duration: 30s}\n": "t.yaml:3: profiles.p.breaker.window_type: \"time\" is set but failure_rate_threshold is not, nor slow_call_duration: only a rate reads the window\n" +
			"t.yaml:3: profiles.p.breaker.window_duration: 30s is set but failure_rate_threshold is not, nor slow_call_duration: only a rate reads the window",
		// An override that writes one is refused at it.
		"services:\n  kyc.v1.OCRService:\n    breaker:\n      window_duration: 30s\n": `t.yaml:4: services."kyc.v1.OCRService".breaker.window_duration: 30s is set but window_type is not time: a count window reads window_size`,
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}

	for src, want := range map[string][]string{
		"services:\n  kyc.v1.OCRService:\n    breaker: {window_type: time, window_duration: 30s}\n": {
			"breaker.window_size: 100 is set with window_type time: a time window reads window_duration (kept from what this overrides, it has no effect here)",
		},
		"services:\n  kyc.v1.OCRService:\n    breaker: {failure_rate_threshold: 0, failure_rate_confidence: 0}\n": {
			`breaker.window_type: "count" is set but failure_rate_threshold is not, nor slow_call_duration: only a rate reads the window (kept from what this overrides, it has no effect here)`,
			"breaker.window_size: 100 is set but failure_rate_threshold is not, nor slow_call_duration: only a rate reads the window (kept from what this overrides, it has no effect here)",
			"breaker.minimum_calls: 20 is set but failure_rate_threshold is not, nor slow_call_duration: only a rate reads the window (kept from what this overrides, it has no effect here)",
		},
	} {
		warns, _ := parseWarnings(t, "t.yaml", src)
		if got := warningsAt(warns, `services."kyc.v1.OCRService"`); !slices.Equal(got, want) {
			t.Errorf("%q: warnings at the service:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestUnusedBulkheadAdaptiveFields: bulkhead.adaptive's fields without an algorithm were
// accepted and the limit stayed fixed. Written so they are refused; kept from ml's gradient
// by a service that turns the adaptive limit off with adaptive: {algorithm: ""} alone, they
// are a warning, and the service's bulkhead is fixed.
func TestUnusedBulkheadAdaptiveFields(t *testing.T) {
	for src, want := range map[string]string{
		"profiles:\n  p:\n    bulkhead: {adaptive: {tolerance: 2, min_limit: 4}}\n": "t.yaml:3: profiles.p.bulkhead.adaptive.min_limit: 4 is set but adaptive.algorithm is not: a fixed limit reads none of adaptive's fields\n" +
			"t.yaml:3: profiles.p.bulkhead.adaptive.tolerance: 2 is set but adaptive.algorithm is not: a fixed limit reads none of adaptive's fields",
		"profiles:\n  p:\n    bulkhead: {adaptive: {algorithm: \"\", latency_threshold: 60ms}}\n": "t.yaml:3: profiles.p.bulkhead.adaptive.latency_threshold: 60ms is set but adaptive.algorithm is not: a fixed limit reads none of adaptive's fields",
		// An override that writes one is refused at it, over a profile without adaptive
		// or with it turned off in the same override.
		"services:\n  kyc.v1.OCRService:\n    profile: fast\n    bulkhead:\n      adaptive:\n        tolerance: 3\n":             `t.yaml:6: services."kyc.v1.OCRService".bulkhead.adaptive.tolerance: 3 is set but adaptive.algorithm is not: a fixed limit reads none of adaptive's fields`,
		"services:\n  kyc.v1.FaceMatchService:\n    bulkhead:\n      adaptive:\n        algorithm: \"\"\n        tolerance: 3\n": `t.yaml:6: services."kyc.v1.FaceMatchService".bulkhead.adaptive.tolerance: 3 is set but adaptive.algorithm is not: a fixed limit reads none of adaptive's fields`,
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}

	src := "services:\n  kyc.v1.FaceMatchService:\n    bulkhead:\n      adaptive: {algorithm: \"\"}\n"
	cfg, warns, err := config.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"bulkhead.adaptive.min_limit: 8 is set but adaptive.algorithm is not: a fixed limit reads none of adaptive's fields (kept from what this overrides, it has no effect here)",
		"bulkhead.adaptive.initial_limit: 32 is set but adaptive.algorithm is not: a fixed limit reads none of adaptive's fields (kept from what this overrides, it has no effect here)",
		"bulkhead.adaptive.tolerance: 2 is set but adaptive.algorithm is not: a fixed limit reads none of adaptive's fields (kept from what this overrides, it has no effect here)",
	}
	if got := warningsAt(warns, `services."kyc.v1.FaceMatchService"`); !slices.Equal(got, want) {
		t.Errorf("warnings at the service:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b := cfg.ResolveService("kyc.v1.FaceMatchService").Bulkhead; b == nil || b.Adaptive.Algorithm != "" {
		t.Errorf("bulkhead %+v, want a fixed one", b)
	}
}

// TestUnusedBulkheadAlgorithmFields: an adaptive limit's fields that its algorithm never reads
// (smoothing, tolerance and long_window beside aimd, latency_threshold beside gradient) were
// accepted and did nothing. Written so they are refused; kept from a profile by an override
// that switches the algorithm (ml's gradient with tolerance 2 to aimd, an aimd's
// latency_threshold to gradient), they are a warning at the override.
func TestUnusedBulkheadAlgorithmFields(t *testing.T) {
	const aimd = "is set with adaptive.algorithm aimd: only gradient reads it"
	const gradient = "is set with adaptive.algorithm gradient: only aimd reads it"
	for src, want := range map[string]string{
		"profiles:\n  p:\n    bulkhead: {adaptive: {algorithm: aimd, long_window: 100, smoothing: 0.5, tolerance: 2, latency_threshold: 60ms}}\n": "t.yaml:3: profiles.p.bulkhead.adaptive.smoothing: 0.5 " + aimd + "\n" +
			"t.yaml:3: profiles.p.bulkhead.adaptive.tolerance: 2 " + aimd + "\n" +
			"t.yaml:3: profiles.p.bulkhead.adaptive.long_window: 100 " + aimd,
		"profiles:\n  p:\n    bulkhead: {adaptive: {algorithm: gradient, tolerance: 2, latency_threshold: 60ms}}\n": "t.yaml:3: profiles.p.bulkhead.adaptive.latency_threshold: 60ms " + gradient,
		// An override that writes one is refused at it: beside the algorithm it writes, or
		// the one it keeps from its profile (ml's gradient).
		"services:\n  kyc.v1.FaceMatchService:\n    bulkhead:\n      adaptive:\n        latency_threshold: 60ms\n":                                `t.yaml:5: services."kyc.v1.FaceMatchService".bulkhead.adaptive.latency_threshold: 60ms ` + gradient,
		"services:\n  kyc.v1.FaceMatchService:\n    bulkhead:\n      adaptive:\n        algorithm: aimd\n        smoothing: 0.5\n":                `t.yaml:6: services."kyc.v1.FaceMatchService".bulkhead.adaptive.smoothing: 0.5 ` + aimd,
		"services:\n  kyc.v1.FaceMatchService:\n    methods:\n      Compare:\n        bulkhead: {adaptive: {algorithm: aimd, long_window: 50}}\n": `t.yaml:5: services."kyc.v1.FaceMatchService".methods.Compare.bulkhead.adaptive.long_window: 50 ` + aimd,
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}

	for _, tt := range []struct {
		src, at string
		want    []string
	}{
		// ml's gradient switched to aimd: its tolerance stays, unused; min_limit and
		// initial_limit are aimd's too.
		{"services:\n  kyc.v1.FaceMatchService:\n    bulkhead:\n      adaptive: {algorithm: aimd}\n", `services."kyc.v1.FaceMatchService"`,
			[]string{"bulkhead.adaptive.tolerance: 2 " + aimd + " (kept from what this overrides, it has no effect here)"}},
		// A profile's aimd switched to gradient by a method: its latency_threshold stays.
		{"profiles:\n  p:\n    bulkhead: {adaptive: {algorithm: aimd, latency_threshold: 60ms}}\nservices:\n  kyc.v1.OCRService:\n    profile: p\n    methods:\n      Extract:\n        bulkhead: {adaptive: {algorithm: gradient}}\n",
			`services."kyc.v1.OCRService".methods.Extract`,
			[]string{"bulkhead.adaptive.latency_threshold: 60ms " + gradient + " (kept from what this overrides, it has no effect here)"}},
	} {
		cfg, warns, err := config.Parse("t.yaml", []byte(tt.src))
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		if got := warningsAt(warns, tt.at); !slices.Equal(got, tt.want) {
			t.Errorf("%q: warnings at %s:\n%s\nwant:\n%s", tt.src, tt.at, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
		if cfg == nil {
			t.Fatalf("%q: no config", tt.src)
		}
	}
}

// TestUnusedKeptFromAMethodsProfile: a method on a profile of its own gets its service's
// overrides on top of that profile, and what they leave unused of it (an aimd profile's
// latency_threshold under the service's gradient, a ratio budget's window under its ratio:
// 0) was warned of nowhere: not at the service, whose profile has no such field, nor at the
// method, judged against its profile with the service's overrides already on. It is now
// warned of at the method; a method whose profile is its service's is not warned again.
func TestUnusedKeptFromAMethodsProfile(t *testing.T) {
	const kept = " (kept from what this overrides, it has no effect here)"
	_, warns, err := config.Parse("t.yaml", []byte(`
profiles:
  slow:
    bulkhead: {adaptive: {algorithm: aimd, latency_threshold: 60ms}}
  budget:
    retry: {throttle: {ratio: 0.5, window: 30s}}
services:
  a.v1.S:
    profile: ml
    bulkhead: {adaptive: {algorithm: gradient}}
    methods:
      M: {profile: slow}
      N: {profile: ml}
  a.v1.T:
    profile: budget
    retry: {throttle: {ratio: 0}}
    methods:
      M: {profile: budget}
  a.v1.U:
    retry: {throttle: {ratio: 0}}
    methods:
      M: {profile: budget}
`))
	if err != nil {
		t.Fatal(err)
	}
	windowUnused := "retry.throttle.window: 30s is set but throttle.ratio is not: only the ratio budget reads it" + kept
	for at, want := range map[string][]string{
		`services."a.v1.S".methods.M`: {"bulkhead.adaptive.latency_threshold: 60ms is set with adaptive.algorithm gradient: only aimd reads it" + kept},
		`services."a.v1.S".methods.N`: nil,
		`services."a.v1.S"`:           nil,
		// Said at the service, whose profile it is, not again at its method.
		`services."a.v1.T"`:           {windowUnused},
		`services."a.v1.T".methods.M`: nil,
		`services."a.v1.U".methods.M`: {windowUnused},
	} {
		var got []string
		for _, m := range warningsAt(warns, at) {
			if strings.HasSuffix(m, kept) {
				got = append(got, m)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("unused-field warnings at %s:\n%s\nwant:\n%s", at, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestUnusedServiceFieldOnAMethodsProfile: a field a service's overrides write for its own
// profile, which reads it (a ratio budget's window, a gradient limit's tolerance), and that
// a method's own profile leaves unused (it has no ratio budget; its algorithm is aimd) is no
// mistake of the service's, nor one the method could undo (it cannot write the field's 0):
// it is a warning at the method, as a field a service's overrides keep unused of a method's
// profile is, not an error that refuses the file.
func TestUnusedServiceFieldOnAMethodsProfile(t *testing.T) {
	const kept = " (kept from what this overrides, it has no effect here)"
	for _, tc := range []struct{ yaml, want string }{{`
profiles:
  budget:
    retry: {max_attempts: 3, throttle: {ratio: 0.5}}
  plain:
    retry: {max_attempts: 3}
services:
  a.v1.S:
    profile: budget
    retry: {throttle: {window: 30s}}
    methods:
      M: {profile: plain}
`, "retry.throttle.window: 30s is set but throttle.ratio is not: only the ratio budget reads it" + kept}, {`
profiles:
  gradient:
    bulkhead: {max_concurrent: 10, adaptive: {algorithm: gradient}}
  aimd:
    bulkhead: {max_concurrent: 10, adaptive: {algorithm: aimd}}
services:
  a.v1.S:
    profile: gradient
    bulkhead: {adaptive: {tolerance: 3}}
    methods:
      M: {profile: aimd}
`, "bulkhead.adaptive.tolerance: 3 is set with adaptive.algorithm aimd: only gradient reads it" + kept}} {
		_, warns, err := config.Parse("t.yaml", []byte(tc.yaml))
		if err != nil {
			t.Errorf("Parse: %v, want no error (a warning at the method)", err)
			continue
		}
		var got []string
		for _, m := range warningsAt(warns, `services."a.v1.S".methods.M`) {
			if strings.HasSuffix(m, kept) {
				got = append(got, m)
			}
		}
		if want := []string{tc.want}; !slices.Equal(got, want) {
			t.Errorf("unused-field warnings at the method:\n%s\nwant:\n%s", strings.Join(got, "\n"), tc.want)
		}
		if w := warningsAt(warns, `services."a.v1.S"`); len(w) > 0 {
			t.Errorf("warnings at the service, whose profile reads the field: %q, want none", w)
		}
	}
}
