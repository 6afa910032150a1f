package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// A section that leaves out a key it needs (a rate limit without its rate) is refused with the
// zero the key was read as, and says that the key is missing, so that the 0 quoted does not
// read as a value the file wrote; a key written as 0 is refused as written, without it.
func TestMissingKeySaysSo(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"profile, rate left out", "profiles: {p: {rate_limit: {burst: 5}}}\n",
			"x.yaml:1: profiles.p.rate_limit.rate: 0 is not a positive number of calls per second (the key is missing)"},
		{"service, rate left out", "services: {a.B: {rate_limit: {burst: 5}}}\n",
			`x.yaml:1: services."a.B".rate_limit.rate: 0 is not a positive number of calls per second (the key is missing)`},
		{"rate written as 0", "profiles: {p: {rate_limit: {rate: 0, burst: 5}}}\n",
			"x.yaml:1: profiles.p.rate_limit.rate: 0 is not a positive number of calls per second"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := config.Parse("x.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse gave no error")
			}
			if got := err.Error(); !strings.Contains(got, tt.want) || strings.Count(got, "(the key is missing)") != strings.Count(tt.want, "(the key is missing)") {
				t.Errorf("Parse: %s\nwant %s", got, tt.want)
			}
		})
	}
}
