package config_test

import (
	"fmt"

	"github.com/bulwarkrpc/bulwark/config"
)

// The configuration of the README's "Configuration" section, as written there: its ml
// replaces the built-in profile as a whole (the retry section alone, so the warning), and
// the OCR service keeps the ocr profile's fields but max_attempts, Extract its deadline.
func ExampleParse_readme() {
	cfg, warns, err := config.Parse("readme.yaml", []byte(`
budget: 8s                      # bounds every call: attempts and sleeps, a stream's whole life
profiles:
  ml:                           # built in: 4 attempts, 1s..20s, additive jitter 3s
    retry: {max_attempts: 4, initial_backoff: 1s, max_backoff: 20s, jitter: additive, jitter_amount: 3s}
services:
  kyc.v1.OCRService:
    profile: ocr                # built in: 4 attempts, 0.5s..10s, jitter 1s
    retry: {max_attempts: 2, per_attempt_timeout: 2s}   # field-level overrides
    methods:
      Extract: {deadline: {default: 4s, max: 5s}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range warns {
		fmt.Println("warning:", w)
	}
	live := cfg.Resolve("/kyc.v1.LivenessService/Check")
	fmt.Println(live.ProfileName, live.Retry.MaxAttempts, live.Retry.PerAttemptTimeout, live.Breaker == nil, live.Deadline == nil)
	ocr := cfg.Resolve("/kyc.v1.OCRService/Extract")
	fmt.Println(ocr.ProfileName, ocr.Retry.MaxAttempts, ocr.Retry.InitialBackoff, ocr.Retry.PerAttemptTimeout, ocr.Deadline.Default, ocr.Deadline.Max)
	// Output:
	// warning: readme.yaml:4: profiles.ml: attempt 1 has no timeout (no retry.per_attempt_timeout or deadline.max), so in the worst case it runs until the budget 8s ends the call, and attempts 2, 3 and 4 never run
	// ml 4 0s true true
	// ocr 2 500ms 2s 4s 5s
}

// The README's one-line binding of a service of one's own to a built-in profile.
func ExampleParse_readmeOwnService() {
	cfg, warns, err := config.Parse("own.yaml", []byte(`services: {my.v1.Service: {profile: fast, retry: {idempotent: true}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(warns), "warnings")
	p := cfg.Resolve("/my.v1.Service/Get")
	fmt.Println(p.ProfileName, p.Retry.Idempotent, p.Retry.MaxAttempts, p.Deadline.Default)
	// Output:
	// 0 warnings
	// fast true 2 1s
}
