package config_test

import (
	"slices"
	"testing"
)

// TestWrittenZeroNamesTheInheritedValue: a 0 written in a service's or a method's override,
// where 0 is an error, was told to "leave it out for the default", quoting the policy
// package's default: left out there, the field keeps what the profile (or the service) gives
// it, such as ml's min_per_second 2 rather than the default 10. The rule now says so, and
// keeps the default where nothing above sets the field.
func TestWrittenZeroNamesTheInheritedValue(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"service over its profile", "services:\n  kyc.v1.LivenessService:\n    retry: {throttle: {min_per_second: 0}}\n",
			`t.yaml:3: services."kyc.v1.LivenessService".retry.throttle.min_per_second: 0 is not positive (leave it out to keep the inherited 2)`},
		{"duration", "services:\n  kyc.v1.OCRService:\n    retry:\n      initial_backoff: 0s\n",
			`t.yaml:4: services."kyc.v1.OCRService".retry.initial_backoff: 0s is not positive (leave it out to keep the inherited 500ms)`},
		{"method over its service", "services:\n  kyc.v1.LivenessService:\n    retry: {max_backoff: 5s}\n    methods:\n      Check: {retry: {max_backoff: 0s}}\n",
			`t.yaml:5: services."kyc.v1.LivenessService".methods.Check.retry.max_backoff: 0s is not positive (leave it out to keep the inherited 5s)`},
		{"method with a profile of its own", "services:\n  kyc.v1.LivenessService:\n    methods:\n      Check: {profile: fast, breaker: {initial_recovery_timeout: 0s}}\n",
			`t.yaml:4: services."kyc.v1.LivenessService".methods.Check.breaker.initial_recovery_timeout: 0s is not positive (leave it out to keep the inherited 500ms)`},
		{"advice before another", "profiles:\n  p:\n    retry: {replay_buffer_bytes: 1000}\nservices:\n  a.v1.S:\n    profile: p\n    retry: {replay_buffer_bytes: 0}\n",
			`t.yaml:7: services."a.v1.S".retry.replay_buffer_bytes: 0 means the default 256 KiB: leave it out to keep the inherited 1000, or write -1 to never buffer`},
		{"nothing inherited", "services:\n  acme.v1.Geo:\n    retry: {initial_backoff: 0s}\n",
			`t.yaml:3: services."acme.v1.Geo".retry.initial_backoff: 0s is not positive (leave it out for the default 100ms)`},
		{"profile", "profiles:\n  p:\n    retry: {initial_backoff: 0s}\n",
			`t.yaml:3: profiles.p.retry.initial_backoff: 0s is not positive (leave it out for the default 100ms)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseErrors(t, tc.src); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("Parse errors:\n %q\nwant\n %q", got, tc.want)
			}
		})
	}
}
