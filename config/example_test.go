package config_test

import (
	"fmt"
	"os"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

func ExampleParse() {
	cfg, warns, err := config.Parse("kyc.yaml", []byte(`
services:
  kyc.v1.OCRService:
    retry:
      max_attempts: 2   # the other retry fields stay the ocr profile's
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range warns {
		fmt.Println("warning:", w)
	}
	p := cfg.Resolve("/kyc.v1.OCRService/Extract")
	fmt.Println(p.ProfileName, p.Retry.MaxAttempts, p.Retry.InitialBackoff, p.Retry.PerAttemptTimeout, p.Budget)
	// Output:
	// ocr 2 500ms 5s 8s
}

func ExampleParse_errors() {
	_, _, err := config.Parse("ocr.yaml", []byte(`
services:
  kyc.v1.OCRService:
    profile: orc
    retry:
      max_attempts: 0
      initial_backoff: 2
`))
	fmt.Println(err)
	// Output:
	// ocr.yaml:4: services."kyc.v1.OCRService".profile: "orc" is not a profile (profiles: fast, ml, ocr)
	// ocr.yaml:6: services."kyc.v1.OCRService".retry.max_attempts: 0 is below 1
	// ocr.yaml:7: services."kyc.v1.OCRService".retry.initial_backoff: 2 is a bare number: add a unit, such as 2s or 2ms
}

func ExampleSet() {
	cfg := config.Builtin()
	cfg.Services["kyc.v1.FaceMatchService"] = config.Service{
		Profile: "ml",
		Overrides: config.Overrides{
			Retry: config.Set(retry.Config{MaxAttempts: 2, PerAttemptTimeout: 2e9}, "max_attempts", "per_attempt_timeout"),
		},
	}
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	p := cfg.ResolveService("kyc.v1.FaceMatchService")
	tl := p.WorstCase()
	fmt.Println(p.Retry.MaxAttempts, p.Retry.JitterAmount, tl.Total, tl.Over())
	// Output:
	// 2 3s 8s 0s
}

func ExampleExplain() {
	cfg, _, err := config.Parse("geo.yaml", []byte(`
profiles:
  geo:
    retry: {max_attempts: 3, initial_backoff: 100ms, jitter: full, per_attempt_timeout: 500ms}
    deadline: {max: 2s}
services:
  acme.geo.v1.GeoService:
    profile: geo
    methods:
      Lookup:
        retry: {max_attempts: 5}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg.Profiles = map[string]config.Profile{"geo": cfg.Profiles["geo"]}
	cfg.Services = map[string]config.Service{"acme.geo.v1.GeoService": cfg.Services["acme.geo.v1.GeoService"]}
	_ = config.Explain(os.Stdout, cfg)
	// Output:
	// budget 8s
	//
	// profile geo
	//   retry              3 attempts; backoff 100ms x2 up to 10s, full jitter; per attempt 500ms; no throttle; retries only methods declared idempotent
	//   hedge              off
	//   breaker            off
	//   adaptive_throttle  off
	//   bulkhead           off
	//   rate_limit         off
	//   deadline           default none, max 2s
	//   fallback           off
	//   classifier         defaults
	//   worst case: 1.8s, within deadline.max 2s (200ms to spare)
	//     0s .. 500ms     attempt 1 (up to 500ms)
	//     500ms .. 600ms  sleep up to 100ms
	//     600ms .. 1.1s   attempt 2 (up to 500ms)
	//     1.1s .. 1.3s    sleep up to 200ms
	//     1.3s .. 1.8s    attempt 3 (up to 500ms)
	//
	// service acme.geo.v1.GeoService: profile geo, no overrides
	//   method Lookup (/acme.geo.v1.GeoService/Lookup): profile geo, overriding retry
	//     retry  5 attempts; backoff 100ms x2 up to 10s, full jitter; per attempt 500ms; no throttle; retries only methods declared idempotent
	//     worst case: 4s, over deadline.max 2s by 2s
	//       0s .. 500ms     attempt 1 (up to 500ms)
	//       500ms .. 600ms  sleep up to 100ms
	//       600ms .. 1.1s   attempt 2 (up to 500ms)
	//       1.1s .. 1.3s    sleep up to 200ms
	//       1.3s .. 1.8s    attempt 3 (up to 500ms)
	//       1.8s .. 2.2s    sleep up to 400ms        <- cut at 2s
	//       2.2s .. 2.7s    attempt 4 (up to 500ms)  never runs
	//       2.7s .. 3.5s    sleep up to 800ms        never runs
	//       3.5s .. 4s      attempt 5 (up to 500ms)  never runs
}
