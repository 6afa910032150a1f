package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// FuzzLoad checks that Parse never panics, that it returns either a valid configuration or
// located errors, and that a configuration it accepts resolves and explains.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"examples/kyc.yaml", "examples/strict.yaml", "builtin.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, b := range badInputs {
		f.Add([]byte(b.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warns, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			if cfg != nil || warns != nil {
				t.Fatal("config or warnings returned with an error")
			}
			for _, e := range fielderr.Flatten(err) {
				var ce *config.Error
				if !errors.As(e, &ce) {
					t.Fatalf("error %v is not a *config.Error", e)
				}
				if ce.Rule == "" {
					t.Fatalf("error %q says no rule", ce)
				}
				if ce.Path != "" && ce.Line == 0 {
					t.Fatalf("error %q about a field has no line", ce)
				}
				if ce.File != "fuzz.yaml" {
					t.Fatalf("error %q is not located in the file", ce)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		for _, p := range cfg.Policies() {
			_ = p.WorstCase().Cut()
			if _, err := p.NewClassifier(); err != nil {
				t.Fatalf("%s: classifier: %v", p.FullMethod(), err)
			}
			if err := validSections(p.Profile); err != nil {
				t.Fatalf("%s: accepted config resolves to an invalid policy: %v", p.FullMethod(), err)
			}
		}
		if err := config.Explain(&bytes.Buffer{}, cfg); err != nil {
			t.Fatal(err)
		}
	})
}

// validSections runs the Validate of each section p has on, as the policies' New would.
func validSections(p config.Profile) error {
	var errs []error
	for _, s := range []interface{ Validate() error }{p.Retry, p.Hedge, p.Breaker, p.AdaptiveThrottle, p.Bulkhead, p.RateLimit, p.Deadline, p.Fallback} {
		if v := reflect.ValueOf(s); !v.IsNil() {
			errs = append(errs, s.Validate())
		}
	}
	return errors.Join(errs...)
}

// FuzzParseServiceConfig checks that ParseServiceConfig never panics, that it returns either
// errors naming the file, each but a syntax error a *config.Error with a value and a rule
// (none by the converted configuration's paths), or a valid configuration, and that a
// configuration it returns resolves and explains.
func FuzzParseServiceConfig(f *testing.F) {
	for _, s := range []string{a6Retry, a6Hedging, grpcGoRetry,
		`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"0s"}]}`,
		`{"methodConfig":[{"name":[{"service":"/a.v1.S/M"},{"service":"a.v1.S","method":"a.v1.S/M"}]}]}`,
		`{"methodConfig":[{"name":[{"service":"a.v1.S","method":"M"},{}],"timeout":"315576000000.999999999s","retryPolicy":{"maxAttempts":9,"initialBackoff":"10000000000s","maxBackoff":"1s","backoffMultiplier":0.5,"retryableStatusCodes":["CANCELLED",1,"unavailable"],"perAttemptRecvTimeout":".5s"}}]}`,
		`{"retryThrottling":{"maxTokens":0},"methodConfig":[{"name":[{"method":"M"},{"service":"a.v1.S/M"}],"retryPolicy":{"maxAttempts":1}},{"name":[{"service":"a.v1.S/M"}],"hedgingPolicy":{"nonFatalStatusCodes":[0]}}]}`,
		`{"retryThrottling":{"maxTokens":1000,"tokenRatio":1e-9},"methodConfig":[{"name":[{"service":"a.v1.S"}],"hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"0s","nonFatalStatusCodes":[16]}}]}`,
		`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"+1s","retryPolicy":{"maxAttempts":3,"initialBackoff":"-.5s","maxBackoff":"+2.s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"],"perAttemptRecvTimeout":"-9223372036.854775809s"}},{"name":[{"service":"b.v1.S"}],"timeout":"-1s","hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"--1s"}}]}`,
		`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE",null]}},{"name":[{"service":"b.v1.S"}],"hedgingPolicy":{"maxAttempts":2,"nonFatalStatusCodes":[null]}}]}`,
		`{"methodConfig":[{"name":[{"service":"S"},{"service":"a.v1.S/"},{"service":"a.v1.T","method":"M "}],"timeout":"1s"}]}`,
		`{"methodConfig":[{"name":[{"service":"a.v1.S.M"},{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"maxAttempts":"3","retryableStatusCodes":["OK",0]}}]}`,
		`{"retryThrottling":{"maxTokens":0.0001,"tokenRatio":1},"methodConfig":[{"name":[{"service":"a.v1.S"},"b.v1.S"],"name":[]}]}`,
		`[{"methodConfig":[]}]`,
		`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"1m","Timeout":"--1s","timeout":"1s","retryPolicy":{"initialBackoff":null,"retryableStatusCodes":[null,17]},"retryPolicy":{"maxAttempts":2,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":[14]}}],"methodConfig":[{"timeout":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warns, err := config.ParseServiceConfig("sc.json", data)
		if err != nil {
			if cfg != nil || warns != nil {
				t.Fatal("config or warnings returned with an error")
			}
			var syntax *json.SyntaxError
			for _, e := range fielderr.Flatten(err) {
				if !strings.HasPrefix(e.Error(), "sc.json: ") {
					t.Fatalf("error %q does not name the file", e)
				}
				// Every error but the document's syntax names a field of the JSON (or the
				// document), the value and the rule.
				// A syntax error says where, within the document, quoting at most 40 bytes of it (each
				// escaped in at most 4).
				var se *config.SyntaxError
				if errors.As(e, &se) && (se.Line < 1 || se.Column < 1 || se.Offset < 0 || se.Offset > int64(len(data)) || len(se.Excerpt) > 4*40+len("......")) {
					t.Fatalf("syntax error %q: line %d, column %d, offset %d of %d bytes, excerpt %d bytes", e, se.Line, se.Column, se.Offset, len(data), len(se.Excerpt))
				}
				var ce *config.Error
				if !errors.As(e, &syntax) && (!errors.As(e, &ce) || ce.Value == "" || ce.Rule == "" || strings.Contains(e.Error(), "converted configuration")) {
					t.Fatalf("error %q does not name a JSON field's value and rule", e)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("returned config does not validate: %v", err)
		}
		for _, p := range cfg.Policies() {
			_ = p.WorstCase().Cut()
			if _, err := p.NewClassifier(); err != nil {
				t.Fatalf("%s: classifier: %v", p.FullMethod(), err)
			}
		}
		if err := config.Explain(&bytes.Buffer{}, cfg); err != nil {
			t.Fatal(err)
		}
	})
}
