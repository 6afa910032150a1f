package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestUndecodedFieldJudgesNoOther: a value that could not be decoded is left zero, and a rule
// that weighs another field against it then judged its default or its absence, not what the
// file wrote: "max_backoff: 50ms is below initial_backoff (100ms)" under an initial_backoff of
// 10, a second error naming a value nobody wrote. Only the field's own error is reported; a
// rule between two fields that both decoded still is.
func TestUndecodedFieldJudgesNoOther(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{{
		"profiles: {p: {retry: {initial_backoff: 10, max_backoff: 50ms}}}",
		`x.yaml:1: profiles.p.retry.initial_backoff: 10 is a bare number: add a unit, such as 10s or 10ms`,
	}, {
		"profiles: {p: {retry: {initial_backoff: abc, max_backoff: 50ms}}}",
		`x.yaml:1: profiles.p.retry.initial_backoff: "abc" is not a duration (such as 500ms or 2s)`,
	}, {
		"profiles: {p: {breaker: {failure_rate_threshold: 0.5, window_size: ten, minimum_calls: 50}}}",
		`x.yaml:1: profiles.p.breaker.window_size: "ten" is not a whole number`,
	}, {
		"profiles: {p: {breaker: {failure_rate_threshold: x, window_size: 10}}}",
		`x.yaml:1: profiles.p.breaker.failure_rate_threshold: "x" is not a number`,
	}, {
		"profiles: {p: {retry: {throttle: {ratio: x, window: 10s}}}}",
		`x.yaml:1: profiles.p.retry.throttle.ratio: "x" is not a number`,
	}, {
		"services: {a.B: {profile: ml, retry: {initial_backoff: x, max_backoff: 50ms}}}",
		`x.yaml:1: services."a.B".retry.initial_backoff: "x" is not a duration (such as 500ms or 2s)`,
	}, {
		"profiles: {p: {retry: {initial_backoff: 1s, max_backoff: 50ms}}}",
		`x.yaml:1: profiles.p.retry.max_backoff: 50ms is below initial_backoff (1s)`,
	}} {
		_, _, err := config.Parse("x.yaml", []byte(tc.yaml))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%s) =\n%v\nwant\n%s", tc.yaml, err, tc.want)
		}
	}
}
