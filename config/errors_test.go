package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// badInputs are configurations that must fail, with what each one is about. They also seed
// FuzzLoad.
var badInputs = []struct {
	name string
	yaml string
}{
	{"unknown_top_key", "budget: 8s\nprofils:\n  x: {}\n"},
	{"unknown_profile_key", "profiles:\n  p:\n    retries: {}\n"},
	{"unknown_section_key", "profiles:\n  p:\n    retry:\n      max_atempts: 3\n      backoff: 1s\n"},
	{"unknown_nested_key", "profiles:\n  p:\n    retry:\n      throttle: {tokens: 10}\n    rate_limit:\n      rate: 5\n      redis: {address: \"r:6379\"}\n"},
	{"bad_duration", "budget: soon\nprofiles:\n  p:\n    retry:\n      initial_backoff: 2\n      max_backoff: 1.5\n      per_attempt_timeout: 3 seconds\n"},
	{"negative_values", "budget: -1s\nprofiles:\n  p:\n    retry: {max_attempts: -1, initial_backoff: -1s}\n    bulkhead: {max_concurrent: -4}\n    breaker: {failure_rate_threshold: -0.5}\n"},
	{"explicit_zero", "budget: 0s\nprofiles:\n  p:\n    retry:\n      max_attempts: 0\n      multiplier: 0\n      max_backoff: 0s\n      per_attempt_timeout: 0s\n    breaker: {window_size: 0, recovery_timeout: 0s, failure_rate_threshold: 0}\n    bulkhead: {max_concurrent: 0, max_wait: 0s}\n"},
	{"explicit_zero_in_service", "services:\n  kyc.v1.OCRService:\n    retry:\n      max_attempts: 0\n"},
	{"empty_profile", "services:\n  kyc.v1.OCRService:\n    profile: \"\"\n    methods:\n      Extract: {profile: ''}\n  acme.v1.Geo: {profile: \"\"}\n"},
	{"unknown_profile", "services:\n  kyc.v1.OCRService:\n    profile: orc\n    methods:\n      Extract: {profile: fastest}\n"},
	{"bad_jitter", "profiles:\n  p:\n    retry: {jitter: wild, jitter_amount: 1s}\n  q:\n    retry: {jitter: \"\"}\n"},
	{"bad_class", "profiles:\n  p:\n    classifier:\n      reasons: {DOCUMENT_UNREADABLE: bussiness}\n      codes: {UNAVAILABLE: flaky}\n    fallback: {on_classes: [transient, oops]}\n"},
	{"bad_code_name", "profiles:\n  p:\n    fallback:\n      on_codes: [UNAVAILABLE, Unavailable, TIMEOUT]\n    classifier:\n      codes: {NOPE: business}\n"},
	{"ok_overridden", "profiles:\n  p:\n    classifier:\n      codes: {OK: transient}\nservices:\n  kyc.v1.OCRService:\n    classifier:\n      codes: {OK: business}\n"},
	{"fleet_rate_above_1e6", "profiles:\n  p:\n    rate_limit:\n      rate: 2e6\n      redis: {addr: \"r:6379\"}\n  local:\n    rate_limit: {rate: 2e6}\n"},
	{"rate_limit_without_rate", "profiles:\n  p:\n    rate_limit: {burst: 5}\n  q:\n    rate_limit:\n      rate: 10\n      redis: {addr: nohost}\n"},
	{"service_override", "services:\n  kyc.v1.OCRService:\n    retry:\n      max_backoff: 100ms\n    breaker:\n      minimum_calls: 150\n"},
	{"method_override", "services:\n  kyc.v1.OCRService:\n    methods:\n      Extract:\n        deadline: {default: 9s}\n        retry: {per_attempt_timeout: -1s}\n      2Bad: {}\n"},
	{"bad_names", "profiles:\n  \"no spaces\": {}\nservices:\n  OCRService: {profile: ocr}\n  kyc..v1: {}\n"},
	{"wrong_types", "budget: [1s]\nprofiles:\n  p:\n    retry:\n      max_attempts: three\n      idempotent: yes please\n      multiplier: \"2\"\n    breaker: 5\n    rate_limit: {rate: fast}\n"},
	{"duplicate_key", "profiles:\n  p:\n    retry: {max_attempts: 2}\n    retry: {max_attempts: 3}\n"},
	{"alias", "profiles:\n  p: &p\n    retry: {}\n  q: *p\n"},
	{"syntax_error", "profiles:\n  p:\n    retry: {max_attempts: 2\n"},
	{"two_documents", "budget: 1s\n---\nbudget: 2s\n"},
	{"consecutive_zero", "profiles:\n  p:\n    breaker: {consecutive_failures: 0}\n  rate_only:\n    breaker: {consecutive_failures: 0, failure_rate_threshold: 0.5}\nservices:\n  kyc.v1.OCRService:\n    breaker: {consecutive_failures: 0}\n  acme.v1.Geo:\n    profile: p\n    breaker: {consecutive_failures: 0}\n"},
	{"quoted_bare_duration", "profiles:\n  p:\n    deadline: {max: \"5\"}\n"},
	{"out_of_range", "budget: 9999999999h\nprofiles:\n  p:\n    retry:\n      max_attempts: 99999999999999999999\n      multiplier: 1e400\n      initial_backoff: -3000000h\n      max_backoff: 1e400s\n"},
	{"service_override_on_method_profile", "services:\n  kyc.v1.OCRService:\n    retry: {max_backoff: 600ms}\n    methods:\n      Extract: {profile: ml}\n      Check: {profile: ocr}\n  kyc.v1.FaceMatchService:\n    retry: {per_attempt_timeout: -1s}\n    methods:\n      Compare: {profile: fast}\n"},
	{"odd_durations", "budget: 0x10\nprofiles:\n  p:\n    retry: {initial_backoff: !!int 5s, max_backoff: !!str 5}\n"},
	{"numbers_as_written", "profiles:\n  p:\n    retry: {multiplier: 1000000}\n    breaker: {failure_rate_threshold: 1_500_000}\n"},
	{"null_value", "profiles:\n  p:\n    retry:\n      max_attempts:\n"},
	{"bad_breaker", "profiles:\n  p:\n    breaker: {failure_rate_threshold: 1, failure_rate_confidence: 0.99, initial_recovery_timeout: -1s, recovery_multiplier: 0.5}\n  q:\n    breaker: {consecutive_failures: 3, failure_rate_confidence: 1, recovery_timeout: 5s, initial_recovery_timeout: 0s, recovery_multiplier: 0}\n"},
	{"bad_half_open_max_wait", "profiles:\n  p:\n    breaker: {half_open_max_wait: 0s}\n  q:\n    breaker: {half_open_max_wait: -5s}\n  r:\n    breaker: {slow_call_duration: 10s, half_open_max_wait: 5s}\nservices:\n  kyc.v1.OCRService:\n    breaker: {slow_call_duration: 1m}\n"},
	{"bad_retry_budget", "profiles:\n  p:\n    retry: {throttle: {ratio: 0.5, max_tokens: 10, window: 500ms}}\n  q:\n    retry: {throttle: {ratio: 11, min_per_second: 0, window: 0}}\n  r:\n    retry: {fit_schedule: maybe, throttle: {min_per_second: 5, ratio: -1}}\n"},
	{"bad_hedge", "profiles:\n  p:\n    hedge: {max_attempts: 9, percentile: 1.5, min_delay: 2s, max_delay: 1s, window: 5, delay: -1ms}\n  q:\n    hedge: {window: 20, min_samples: 50, dealy: 1s}\n"},
	{"percentile_zero", "profiles:\n  adaptive:\n    hedge: {percentile: 0}\n  fixed:\n    hedge: {percentile: 0, delay: 50ms}\nservices:\n  kyc.v1.OCRService:\n    profile: fixed\n    hedge: {percentile: 0}\n  acme.v1.Geo:\n    profile: adaptive\n    hedge: {percentile: 0}\n"},
	{"bad_adaptive_throttle", "profiles:\n  p:\n    adaptive_throttle: {k: 0.5, window: 10ms, max_reject_probability: 2, min_requests: -1}\nservices:\n  kyc.v1.OCRService:\n    adaptive_throttle: {k: 500}\n"},
	{"shared_bucket_two_rates", "profiles:\n  p:\n    rate_limit: {rate: 10, shared: ml}\n  q:\n    rate_limit: {rate: 10, burst: 4, shared: ml}\nservices:\n  kyc.v1.OCRService:\n    profile: p\n    rate_limit: {rate: 20}\n    methods:\n      Extract: {}\n"},
	{"method_as_service", "services:\n  /kyc.v1.OCRService/Extract: {profile: ml}\n  kyc.v1.FaceMatchService/Compare:\n    retry: {max_attempts: 2}\n  kyc.v1.OCRService:\n    methods:\n      kyc.v1.OCRService/Extract: {}\n  kyc.v1.OCRService.Check: {}\n"},
	{"bad_adaptive_bulkhead", "profiles:\n  p:\n    bulkhead:\n      max_concurrent: 8\n      adaptive: {algorithm: vegas, min_limit: 10, initial_limit: 4, smoothing: 1.5, tolerance: 0.5, backoff_ratio: 0.2}\n  q:\n    bulkhead:\n      adaptive: {algorithm: aimd, min_limit: 0, long_window: 5}\n"},
}

func TestBadInputsGolden(t *testing.T) {
	for _, tt := range badInputs {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warns, err := config.Parse(tt.name+".yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error")
			}
			if cfg != nil || warns != nil {
				t.Errorf("Parse returned a config or warnings with an error")
			}
			golden(t, "errors/"+tt.name, tt.yaml+"=== errors\n"+err.Error()+"\n")
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, tt.name+".yaml") {
					t.Errorf("error %q does not name the file", line)
				}
			}
		})
	}
}
