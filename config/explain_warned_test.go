package config_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// explainBlocks returns the lines of cfg's explanation by the profile, service or method
// (as "service S method M") whose block holds each, trimmed.
func explainBlocks(t *testing.T, cfg *config.Config) map[string][]string {
	t.Helper()
	var b bytes.Buffer
	if err := config.Explain(&b, cfg); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	block, service := "", ""
	for line := range strings.Lines(b.String()) {
		trimmed := strings.TrimSpace(line)
		head, _, _ := strings.Cut(trimmed, ":")
		switch {
		case strings.HasPrefix(line, "profile "):
			block = head
		case strings.HasPrefix(line, "service "):
			block, service = head, head
		case strings.HasPrefix(line, "  method "):
			name, _, _ := strings.Cut(strings.TrimPrefix(head, "method "), " ")
			block = service + " method " + name
		default:
			out[block] = append(out[block], trimmed)
		}
	}
	return out
}

// sectionLine returns the line of section s in lines, or "".
func sectionLine(lines []string, s string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, s+" ") {
			return l
		}
	}
	return ""
}

// TestExplainShowsHedgeAndTimeoutWarnings: Parse warns of a hedge that is never sent and of a
// per-attempt timeout that cuts no attempt, but -explain showed the hedge line ("next one
// after 2s") and the retry line ("per attempt 3s") as if both worked. Each now says what
// Parse warns, on the line of the section it concerns, in the block where it is warned
// about: the profile's, or a service's whose override (of that section or of another, such
// as deadline.max) brings it about; not where nothing is wrong.
func TestExplainShowsHedgeAndTimeoutWarnings(t *testing.T) {
	const never, hangs = "no hedge is ever sent", "no retry follows it"
	cfg, warns, err := config.Parse("w.yaml", []byte(`
profiles:
  fixed:
    hedge: {delay: 2s}
    retry: {max_attempts: 2, per_attempt_timeout: 1s}
  tight:
    retry: {max_attempts: 2, per_attempt_timeout: 3s, fit_schedule: true}
    deadline: {max: 3s}
  fits:
    hedge: {delay: 100ms}
    retry: {max_attempts: 2, per_attempt_timeout: 1s, fit_schedule: true}
services:
  a.v1.Fixed: {profile: fixed}
  a.v1.Cut:
    profile: fits
    retry: {per_attempt_timeout: 50ms}
  a.v1.Capped:
    profile: fits
    deadline: {max: 1s}
  a.v1.Fits: {profile: fits}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 4 {
		t.Fatalf("warnings %q, want 4 (the test's premise)", warns)
	}
	blocks := explainBlocks(t, cfg)
	for _, tc := range []struct {
		block, section, want string
	}{
		{"profile fixed", "hedge", "hedge.delay 2s (a fixed delay) is not below retry.per_attempt_timeout 1s, which ends each attempt first: " + never},
		{"profile tight", "retry", "retry.per_attempt_timeout 3s is not below deadline.max 3s, which ends the call first: an attempt that hangs runs until the call ends, and " + hangs},
		{"service a.v1.Cut", "hedge", "hedge.delay 100ms (a fixed delay) is not below retry.per_attempt_timeout 50ms, which ends each attempt first: " + never},
		{"service a.v1.Capped", "retry", "retry.per_attempt_timeout 1s is not below deadline.max 1s, which ends the call first: an attempt that hangs runs until the call ends, and " + hangs},
	} {
		if line := sectionLine(blocks[tc.block], tc.section); !strings.Contains(line, tc.want) {
			t.Errorf("%s: %s line %q, want it to say %q; block:\n%s", tc.block, tc.section, line, tc.want, strings.Join(blocks[tc.block], "\n"))
		}
	}
	for _, block := range []string{"profile fits", "service a.v1.Fits", "service a.v1.Fixed", "profile ml", "profile ocr"} {
		for _, l := range blocks[block] {
			if strings.Contains(l, never) || strings.Contains(l, hangs) {
				t.Errorf("%s: %q, want no warning there", block, l)
			}
		}
	}
}

// TestExplainAdaptiveHedgeBelowMinDelay: an adaptive hedge starts from delay kept within
// [min_delay, max_delay] and never goes below min_delay, so with min_delay not below the
// per-attempt timeout no hedge is ever sent, whatever a shorter delay says. The warning was
// judged on the shorter delay (100ms, "the delay until latencies are known") and said
// nothing, and -explain's hedge line ("150ms until the first answer" is 2s here) showed a
// hedge that never goes.
func TestExplainAdaptiveHedgeBelowMinDelay(t *testing.T) {
	const want = "hedge.min_delay 2s (the shortest adaptive delay) is not below retry.per_attempt_timeout 1s, which ends each attempt first: no hedge is ever sent"
	cfg, warns, err := config.Parse("w.yaml", []byte(`
profiles:
  late:
    hedge: {percentile: 0.9, delay: 100ms, min_delay: 2s, max_delay: 3s}
    retry: {max_attempts: 2, per_attempt_timeout: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.String())
	}
	if len(got) != 1 || got[0] != "w.yaml:3: profiles.late: "+want {
		t.Errorf("warnings %q, want one: %q", got, want)
	}
	if line := sectionLine(explainBlocks(t, cfg)["profile late"], "hedge"); !strings.Contains(line, want) {
		t.Errorf("hedge line %q, want it to say %q", line, want)
	}
}

// TestExplainShowsUnusedFieldWarnings: Parse warns of the fields an override keeps from what
// it overrides but leaves unused (ocr's ratio budget's floor and window under ratio: 0, ml's
// gradient tolerance under aimd, a profile's aimd latency_threshold under a method's
// gradient), but -explain showed the retry and bulkhead lines without a word of them, as it
// does for the hedge and timeout warnings. Each now ends the line of its section, in the
// block where it is warned about, and nowhere else: also in a block whose section behaves as
// its profile's ("no overrides": a method's aimd, on a profile's aimd, over its service's
// gradient with a tolerance, which it keeps).
func TestExplainShowsUnusedFieldWarnings(t *testing.T) {
	const kept = " (kept from what this overrides, it has no effect here)"
	cfg, warns, err := config.Parse("w.yaml", []byte(`
profiles:
  slow:
    bulkhead: {adaptive: {algorithm: aimd, latency_threshold: 60ms}}
  plain:
    bulkhead: {adaptive: {algorithm: aimd}}
services:
  kyc.v1.OCRService:
    retry:
      throttle: {ratio: 0}
  kyc.v1.FaceMatchService:
    bulkhead: {adaptive: {algorithm: aimd}}
    methods:
      Compare: {retry: {max_attempts: 2}}
  a.v1.Geo:
    profile: slow
    methods:
      Find:
        bulkhead: {adaptive: {algorithm: gradient}}
  a.v1.Maps:
    profile: ml
    bulkhead: {adaptive: {algorithm: gradient, tolerance: 3}}
    methods:
      Route:
        profile: plain
        bulkhead: {adaptive: {algorithm: aimd}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 5 {
		t.Fatalf("warnings %q, want 5 (the test's premise)", warns)
	}
	blocks := explainBlocks(t, cfg)
	for _, tc := range []struct {
		block, section string
		want           []string
	}{
		{"service kyc.v1.OCRService", "retry", []string{
			"; warning: retry.throttle.min_per_second: 2 is set but throttle.ratio is not: only the ratio budget reads it" + kept,
			"; warning: retry.throttle.window: 10s is set but throttle.ratio is not: only the ratio budget reads it" + kept}},
		{"service kyc.v1.FaceMatchService", "bulkhead", []string{"; warning: bulkhead.adaptive.tolerance: 2 is set with adaptive.algorithm aimd: only gradient reads it" + kept}},
		{"service a.v1.Geo method Find", "bulkhead", []string{"; warning: bulkhead.adaptive.latency_threshold: 60ms is set with adaptive.algorithm gradient: only aimd reads it" + kept}},
		{"service a.v1.Maps method Route", "bulkhead", []string{"; warning: bulkhead.adaptive.tolerance: 3 is set with adaptive.algorithm aimd: only gradient reads it" + kept}},
	} {
		line := sectionLine(blocks[tc.block], tc.section)
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: %s line %q, want it to say %q; block:\n%s", tc.block, tc.section, line, w, strings.Join(blocks[tc.block], "\n"))
			}
		}
	}
	// Said once, where the field goes unused: not at the profiles, nor at a method that
	// inherits its service's override.
	for block, lines := range blocks {
		switch block {
		case "service kyc.v1.OCRService", "service kyc.v1.FaceMatchService", "service a.v1.Geo method Find", "service a.v1.Maps method Route":
			continue
		}
		for _, l := range lines {
			if strings.Contains(l, kept) {
				t.Errorf("%s: %q, want no unused-field warning there", block, l)
			}
		}
	}
}

// TestExplainHeaderOfOverridesWithoutEffect: a block whose overrides behave as its profile's
// but keep fields they leave unused (Route's aimd, on a profile's aimd, over its service's
// gradient with a tolerance) showed its warned section under a header that said "no
// overrides", which the configuration plainly has. It says "no overrides in effect"; a block
// without overrides keeps its header.
func TestExplainHeaderOfOverridesWithoutEffect(t *testing.T) {
	cfg, _, err := config.Parse("w.yaml", []byte(`
profiles:
  plain:
    bulkhead: {adaptive: {algorithm: aimd}}
services:
  a.v1.Maps:
    profile: ml
    bulkhead: {adaptive: {algorithm: gradient, tolerance: 3}}
    methods:
      Route:
        profile: plain
        bulkhead: {adaptive: {algorithm: aimd}}
  a.v1.Geo:
    profile: plain
`))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := config.Explain(&b, cfg); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"  method Route (/a.v1.Maps/Route): profile plain, no overrides in effect\n", "service a.v1.Geo: profile plain, no overrides\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
