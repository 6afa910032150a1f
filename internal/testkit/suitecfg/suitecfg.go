// Package suitecfg holds the configuration of "the full suite" that the suite's own tests and
// the allocation test in internal/integration measure, written once so that they measure the
// same thing. It is a package of its own, apart from testkit, because it imports config and
// the policy packages, whose in-package tests import testkit.
package suitecfg

import (
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// Full is the benchmarks' BenchConfig for FaceMatchService: every policy but fallback and
// hedging — the ml profile's retry with a 5 s per-attempt timeout and its budget, the ml
// breaker, a 1024-slot bulkhead, a 1e9/s limiter and a 5 s default deadline under an 8 s budget.
func Full() *config.Config {
	return &config.Config{
		Budget: 8 * time.Second,
		Profiles: map[string]config.Profile{
			"bench": {
				Retry: &retry.Config{
					MaxAttempts: 4, InitialBackoff: time.Second, MaxBackoff: 20 * time.Second, Multiplier: 2,
					Jitter: retry.JitterAdditive, JitterAmount: 3 * time.Second, PerAttemptTimeout: 5 * time.Second,
					Throttle: retry.RetryBudgetConfig{MaxTokens: 10, TokenRatio: 0.1},
				},
				Breaker: &breaker.Config{
					ConsecutiveFailures: 5, FailureRateThreshold: 0.5, WindowType: breaker.WindowCount,
					WindowSize: 20, MinimumCalls: 10, RecoveryTimeout: 30 * time.Second, HalfOpenMaxCalls: 1,
				},
				Bulkhead:  &bulkhead.Config{MaxConcurrent: 1024},
				RateLimit: &ratelimit.Config{Rate: 1e9, Burst: 1e9},
				Deadline:  &deadline.Config{Default: 5 * time.Second},
			},
		},
		Services: map[string]config.Service{"kyc.v1.FaceMatchService": {Profile: "bench"}},
	}
}

// DefaultProfile is a configuration whose only profile is "default", so that every service,
// named or not, gets a breaker (tripping after failures consecutive failures, recovering after
// an hour) and a bulkhead of slots built on its methods' first call.
func DefaultProfile(failures, slots int) *config.Config {
	return &config.Config{Profiles: map[string]config.Profile{config.DefaultProfile: {
		Breaker:  &breaker.Config{ConsecutiveFailures: failures, RecoveryTimeout: time.Hour},
		Bulkhead: &bulkhead.Config{MaxConcurrent: slots},
	}}}
}

// Personal is a configuration under which the calls of testkit.CallPersonal to
// testkit.PersonalServer meet every policy that reports on a failed call: FaceMatch retries,
// with a deadline, a bulkhead and a breaker that opens after two failures and then rejects;
// OCR retries and then serves a fallback reply; Liveness retries what is retryable (its stub
// answers InvalidArgument, which is not).
func Personal() *config.Config {
	r := &retry.Config{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retry.JitterNone}
	return &config.Config{
		Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{
			"face": {
				Retry: r, Deadline: &deadline.Config{Default: 2 * time.Second, Max: 4 * time.Second},
				Bulkhead: &bulkhead.Config{MaxConcurrent: 4},
				Breaker:  &breaker.Config{ConsecutiveFailures: 2, RecoveryTimeout: time.Hour},
			},
			"ocr":      {Retry: r, Fallback: &fallback.Config{ReplyJSON: `{"confidence": 0}`}},
			"liveness": {Retry: r},
		},
		Services: map[string]config.Service{
			"kyc.v1.FaceMatchService": {Profile: "face"},
			"kyc.v1.OCRService":       {Profile: "ocr"},
			"kyc.v1.LivenessService":  {Profile: "liveness"},
		},
	}
}
