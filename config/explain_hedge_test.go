package config_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// hedgeLines returns the hedge lines of cfg's explanation, by the profile or service (and
// method) whose block holds each.
func hedgeLines(t *testing.T, cfg *config.Config) map[string]string {
	t.Helper()
	var b bytes.Buffer
	if err := config.Explain(&b, cfg); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	block := ""
	for line := range strings.Lines(b.String()) {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "profile "), strings.HasPrefix(line, "service "), strings.HasPrefix(line, "  method "):
			block, _, _ = strings.Cut(trimmed, ":")
		case strings.HasPrefix(trimmed, "hedge "):
			out[block] = trimmed
		}
	}
	return out
}

// -explain says a hedge draws on the retry budget only where there is one: a chain whose retry
// step has no throttle, or has no retry step, gives its hedges none (retry.Policy.Budget is
// nil), and they are bounded by max_attempts and the allowance of losing hedges alone. A
// service whose override takes the budget away says so on its own hedge line.
func TestExplainHedgeBudget(t *testing.T) {
	cfg, _, err := config.Parse("hedge.yaml", []byte(`
profiles:
  alone: {hedge: {delay: 40ms}}
  unthrottled: {retry: {idempotent: true}, hedge: {delay: 40ms}}
  budgeted: {retry: {idempotent: true, throttle: {ratio: 0.5}}, hedge: {delay: 40ms}}
services:
  a.v1.Alone: {profile: alone}
  a.v1.Unthrottled: {profile: unthrottled}
  a.v1.Budgeted: {profile: budgeted}
  a.v1.NoRetry: {profile: budgeted, retry: off}
  kyc.v1.OCRService: {retry: off}
`))
	if err != nil {
		t.Fatal(err)
	}
	const draws, none = "draws on the retry budget", "no retry budget to draw on"
	lines := hedgeLines(t, cfg)
	for block, want := range map[string]string{
		"profile alone":             none,
		"profile unthrottled":       none,
		"profile budgeted":          draws,
		"profile ml":                draws,
		"profile ocr":               draws,
		"service a.v1.NoRetry":      none,
		"service kyc.v1.OCRService": none,
	} {
		line, ok := lines[block]
		switch {
		case !ok:
			t.Errorf("%s: no hedge line in the explanation", block)
		case !strings.Contains(line, want) || want == none && strings.Contains(line, draws):
			t.Errorf("%s: %q, want it to say %q", block, line, want)
		}
	}
}
