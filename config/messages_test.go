package config_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// parseErrors returns the lines of the error Parse gives for src ("" when it accepts it).
func parseErrors(t *testing.T, src string) []string {
	t.Helper()
	_, _, err := config.Parse("t.yaml", []byte(src))
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// parseWarnings returns the warnings Parse gives for src, read from file, and their texts; src
// must parse.
func parseWarnings(t *testing.T, file, src string) ([]config.Warning, []string) {
	t.Helper()
	_, warns, err := config.Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	return warns, got
}

// TestWrongWindowOneError: a wrong window was reported, and so was a field beside it that the
// file does not set or that is right for any valid window:
//   - a negative hedge.window, and min_samples, left out, as "0 is above window (-1)";
//   - a service's negative hedge.window, and the min_samples its profile sets (ocr's 20, "is
//     above window (-1)");
//   - retry.throttle.window: -1s, twice, as negative and as below 1s.
func TestWrongWindowOneError(t *testing.T) {
	for src, want := range map[string]string{
		"profiles:\n  p:\n    hedge: {window: -1}\n":                   "t.yaml:3: profiles.p.hedge.window: -1 is below 10",
		"services:\n  kyc.v1.OCRService:\n    hedge: {window: -1}\n":   `t.yaml:3: services."kyc.v1.OCRService".hedge.window: -1 is below 10`,
		"profiles:\n  p:\n    retry:\n      throttle: {window: -1s}\n": "t.yaml:4: profiles.p.retry.throttle.window: -1s is negative",
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}
}

// TestTrailingEmptyDocument: a file ending in a bare "---" line (as tools that join
// documents leave one) was refused as holding "a second YAML document"; an empty document
// is no document, and a second one with content is still refused.
func TestTrailingEmptyDocument(t *testing.T) {
	for _, src := range []string{
		"budget: 2s\n---\n",
		"budget: 2s\n---",
		"budget: 2s\n--- # joined\n",
		"budget: 2s\n---\n---\n",
		"budget: 2s\n---\n...\n",
		"---\n---\nbudget: 2s\n",
	} {
		cfg, _, err := config.Parse("t.yaml", []byte(src))
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if cfg.Budget != 2e9 {
			t.Errorf("%q: budget %v, want 2s", src, cfg.Budget)
		}
	}
	for src, want := range map[string]string{
		"budget: 2s\n---\nbudget: 3s\n":      "t.yaml:2: a second YAML document is not allowed: a configuration file holds one",
		"budget: 2s\n---\n---\nbudget: 3s\n": "t.yaml:3: a second YAML document is not allowed: a configuration file holds one",
		"budget: 2s\n---\n~\n":               "t.yaml:2: a second YAML document is not allowed: a configuration file holds one",
	} {
		if _, _, err := config.Parse("t.yaml", []byte(src)); err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

// TestSectionOffCapitalisedFalse: YAML reads False and FALSE as the boolean false, as it reads
// false, and false turns a section off; but a section written "retry: False" was refused with
// "False is not a mapping of retry", which neither says what the key takes nor that the
// boolean was read.
func TestSectionOffCapitalisedFalse(t *testing.T) {
	cfg, _, err := config.Parse("t.yaml", []byte("profiles:\n  p:\n    retry: False\n    hedge: FALSE\n    deadline: {max: 1s}\n"+
		"services:\n  kyc.v1.OCRService:\n    retry: False\n  acme.v1.Geo:\n    profile: p\n    rate_limit: {rate: 5, redis: False}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Profiles["p"]; p.Retry != nil || p.Hedge != nil {
		t.Errorf("profile p: retry %v, hedge %v, want both off", p.Retry, p.Hedge)
	}
	if p := cfg.ResolveService("kyc.v1.OCRService"); p.Retry != nil {
		t.Errorf("kyc.v1.OCRService: retry %+v, want it off", *p.Retry)
	}
	if p := cfg.ResolveService("acme.v1.Geo"); p.RateLimit == nil || p.RateLimit.Redis != nil {
		t.Errorf("acme.v1.Geo: rate_limit %+v, want a local one", p.RateLimit)
	}
}

// TestMethodWithServiceTimelineNotWarnedAgain: a method whose entry only overrides its
// classifier runs its service's timeline, yet the service's budget warning was printed again
// for the method.
func TestMethodWithServiceTimelineNotWarnedAgain(t *testing.T) {
	_, warns, err := config.Parse("t.yaml", []byte("services:\n  kyc.v1.OCRService:\n    profile: ml\n    retry: {max_attempts: 9}\n"+
		"    methods:\n      Extract:\n        classifier: {codes: {UNAVAILABLE: business}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warns {
		if strings.HasPrefix(w.Path, "services.") {
			got = append(got, w.String())
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], `t.yaml:2: services."kyc.v1.OCRService": worst case`) {
		t.Fatalf("warnings about the service and its methods:\n%s\nwant one, about the service", strings.Join(got, "\n"))
	}
}

// TestSectionOffWordsAndHint: Off and OFF turn a section off as off does (YAML 1.1's
// spellings of the word); a scalar that does not, true say, is refused with what does, since
// such a value often means to switch the section.
func TestSectionOffWordsAndHint(t *testing.T) {
	cfg, _, err := config.Parse("t.yaml", []byte("profiles:\n  p:\n    retry: Off\n    hedge: OFF\n    deadline: {max: 1s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Profiles["p"]; p.Retry != nil || p.Hedge != nil {
		t.Errorf("profile p: retry %v, hedge %v, want both off", p.Retry, p.Hedge)
	}
	for src, want := range map[string]string{
		"profiles:\n  p:\n    retry: true\n":                       "t.yaml:3: profiles.p.retry: true is not a mapping of retry (off, false or null turns it off)",
		"services:\n  kyc.v1.OCRService:\n    breaker: on\n":       `t.yaml:3: services."kyc.v1.OCRService".breaker: "on" is not a mapping of breaker (off, false or null turns it off)`,
		"profiles:\n  p:\n    rate_limit: {rate: 5, redis: yes}\n": "t.yaml:3: profiles.p.rate_limit.redis: \"yes\" is not a mapping of rate_limit.redis (off, false or null turns it off)",
	} {
		if _, _, err := config.Parse("t.yaml", []byte(src)); err == nil || err.Error() != want {
			t.Errorf("%q: error %v\nwant %q", src, err, want)
		}
	}
}

// TestOutOfRangeValueOneError: a jitter_amount or slow_call_rate_threshold out of range was
// also reported as set without the field it goes with (jitter: additive, slow_call_duration),
// two rules at once where a wrong window reports only its own.
func TestOutOfRangeValueOneError(t *testing.T) {
	for src, want := range map[string]string{
		"profiles:\n  p:\n    retry: {jitter_amount: -1s}\n":                      "t.yaml:3: profiles.p.retry.jitter_amount: -1s is negative",
		"profiles:\n  p:\n    breaker: {slow_call_rate_threshold: -1}\n":          "t.yaml:3: profiles.p.breaker.slow_call_rate_threshold: -1 is outside [0, 1]",
		"profiles:\n  p:\n    breaker: {slow_call_rate_threshold: 1.5}\n":         "t.yaml:3: profiles.p.breaker.slow_call_rate_threshold: 1.5 is outside [0, 1]",
		"profiles:\n  p:\n    breaker: {failure_rate_confidence: 1}\n":            "t.yaml:3: profiles.p.breaker.failure_rate_confidence: 1 is outside [0, 1)",
		"profiles:\n  p:\n    retry: {throttle: {ratio: -1, max_tokens: 10}}\n":   "t.yaml:3: profiles.p.retry.throttle.ratio: -1 is negative",
		"profiles:\n  p:\n    retry: {throttle: {token_ratio: -1, ratio: 0.5}}\n": "t.yaml:3: profiles.p.retry.throttle.token_ratio: -1 is negative",
		"profiles:\n  p:\n    retry: {throttle: {token_ratio: 0.0001, max_tokens: 0.00001}}\n": "t.yaml:3: profiles.p.retry.throttle.max_tokens: 0.00001 is below 0.0005 (the bucket counts thousandths of a token)\n" +
			"t.yaml:3: profiles.p.retry.throttle.token_ratio: 0.0001 is below 0.0005 (the bucket counts thousandths of a token)",
		// Nor are other fields judged against one out of range: initial_limit, left out, was
		// "0 is above max_concurrent (-8)".
		"profiles:\n  p:\n    bulkhead: {max_concurrent: -8, adaptive: {algorithm: gradient, min_limit: 4}}\n": "t.yaml:3: profiles.p.bulkhead.max_concurrent: -8 is below 1",
		// A partner field out of range is reported alone, not as unset.
		"profiles:\n  p:\n    breaker: {failure_rate_threshold: -0.5, failure_rate_confidence: 0.99}\n": "t.yaml:3: profiles.p.breaker.failure_rate_threshold: -0.5 is outside [0, 1]",
		"profiles:\n  p:\n    breaker: {slow_call_duration: -1s, slow_call_rate_threshold: 0.5}\n":      "t.yaml:3: profiles.p.breaker.slow_call_duration: -1s is negative",
		// In range, the rule that pairs them still holds.
		"profiles:\n  p:\n    retry: {jitter_amount: 1s}\n":               "t.yaml:3: profiles.p.retry.jitter_amount: 1s is set but jitter is not additive",
		"profiles:\n  p:\n    breaker: {slow_call_rate_threshold: 0.5}\n": "t.yaml:3: profiles.p.breaker.slow_call_rate_threshold: 0.5 is set but slow_call_duration is not",
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}
}

// TestOverrideErrorAtWrittenField: an override that writes one end of a pair of fields, which
// the other end (from the profile) no longer fits, was reported at the end it did not write,
// with the profile's value: a service writing retry.initial_backoff: 30s over ocr's max_backoff
// 10s read `services."kyc.v1.OCRService".retry.max_backoff: 10s is below initial_backoff
// (30s)`, a field the service does not have. It is reported at the field written.
func TestOverrideErrorAtWrittenField(t *testing.T) {
	for src, want := range map[string]string{
		"services:\n  kyc.v1.OCRService:\n    retry:\n      max_attempts: 2\n      initial_backoff: 30s\n": `t.yaml:5: services."kyc.v1.OCRService".retry.initial_backoff: 30s is above max_backoff (10s)`,
		"services:\n  kyc.v1.OCRService:\n    retry: {per_attempt_timeout: 2s, budget: 1s}\n":              `t.yaml:3: services."kyc.v1.OCRService".retry.per_attempt_timeout: 2s is above budget (1s)`,
		"services:\n  kyc.v1.OCRService:\n    hedge: {min_delay: 5s}\n":                                    `t.yaml:3: services."kyc.v1.OCRService".hedge.min_delay: 5s is above max_delay (3s)`,
		"services:\n  kyc.v1.OCRService:\n    methods:\n      Extract:\n        deadline: {max: 2s}\n":     `t.yaml:5: services."kyc.v1.OCRService".methods.Extract.deadline.max: 2s is below default (8s)`,
		"services:\n  kyc.v1.OCRService:\n    breaker: {slow_call_duration: 1m}\n":                         `t.yaml:3: services."kyc.v1.OCRService".breaker.slow_call_duration: 1m is above half_open_max_wait (10s), so the breaker would give up on a probe it would count as fast`,
		"services:\n  kyc.v1.OCRService:\n    breaker: {window_size: 10}\n":                                `t.yaml:3: services."kyc.v1.OCRService".breaker.window_size: 10 is below minimum_calls (20), so the rate would never be judged`,
		// The end written is still the one reported.
		"services:\n  kyc.v1.OCRService:\n    retry: {max_backoff: 100ms}\n": `t.yaml:3: services."kyc.v1.OCRService".retry.max_backoff: 100ms is below initial_backoff (500ms)`,
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}
}

// TestBareNumberHintParses: a duration written as a bare number is refused with units to add
// ("such as 2s or 2ms"), but the hint appended the unit to the text as written, which
// time.ParseDuration does not read when it has '_' or an exponent (1_000s, 1e3s), and a word
// ParseFloat reads (inf, NaN) was called a bare number ("such as infs or infms"). The hint
// names durations that parse, and a word is not a duration.
func TestBareNumberHintParses(t *testing.T) {
	hint := regexp.MustCompile(`is a bare number: add a unit, such as (\S+) or (\S+)$`)
	for value, want := range map[string]string{
		"2":        "2s",
		"1_000":    "1000s",
		"1e3":      "1000s",
		"\"2e-3\"": "0.002s",
		"-1_5.5":   "-15.5s",
		"\"+.5\"":  "+.5s",
		"1e400":    "",
		"inf":      "",
		"\"NaN\"":  "",
		"Infinity": "",
	} {
		got := parseErrors(t, "profiles:\n  p:\n    retry: {initial_backoff: "+value+"}\n")
		if len(got) != 1 {
			t.Errorf("%s: errors %q, want one", value, got)
			continue
		}
		m := hint.FindStringSubmatch(got[0])
		switch {
		case want == "" && m != nil:
			t.Errorf("%s: %s, want no bare-number hint for a word", value, got[0])
		case want == "":
		case m == nil || m[1] != want:
			t.Errorf("%s: %s, want the hint %s", value, got[0], want)
		default:
			for _, d := range m[1:] {
				if _, err := time.ParseDuration(d); err != nil {
					t.Errorf("%s: hint %s does not parse: %v", value, d, err)
				}
			}
		}
	}
}

// TestNotAStringHint: a number or boolean where a word is expected was refused with "is not
// a string (quote it)", but for a field that takes one of a few words (jitter, scope,
// window_type, algorithm) quoting it only gave a second error; the rule says what the field
// takes. A code given by its number, as a gRPC service config may, is told its name.
func TestNotAStringHint(t *testing.T) {
	for src, want := range map[string]string{
		"profiles:\n  p:\n    retry: {jitter: 5}\n":                        `t.yaml:3: profiles.p.retry.jitter: "5" is not one of none, full, equal, decorrelated, additive`,
		"profiles:\n  p:\n    retry: {per_attempt_cut: late}\n":            `t.yaml:3: profiles.p.retry.per_attempt_cut: "late" is not one of always, overtaken`,
		"profiles:\n  p:\n    breaker: {scope: true}\n":                    `t.yaml:3: profiles.p.breaker.scope: "true" is not one of service, method`,
		"profiles:\n  p:\n    bulkhead: {adaptive: {algorithm: 1}}\n":      `t.yaml:3: profiles.p.bulkhead.adaptive.algorithm: "1" is not one of aimd, gradient`,
		"profiles:\n  p:\n    classifier:\n      codes: {14: transient}\n": `t.yaml:4: profiles.p.classifier.codes: "14" is a code's number: write its name, UNAVAILABLE`,
		"profiles:\n  p:\n    fallback: {on_codes: [\"4\"]}\n":             `t.yaml:3: profiles.p.fallback.on_codes[0]: "4" is a code's number: write its name, DEADLINE_EXCEEDED`,
		"profiles:\n  p:\n    rate_limit: {rate: 5, shared: 12}\n":         `t.yaml:3: profiles.p.rate_limit.shared: 12 is not a string (quote it)`,
	} {
		if got := parseErrors(t, src); strings.Join(got, "\n") != want {
			t.Errorf("%q: errors:\n%s\nwant:\n%s", src, strings.Join(got, "\n"), want)
		}
	}
}
