package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestExplainSharedBucketSaysWithWhom: a rate limit line said 'shared bucket "pool"' and no
// more, so an operator could not tell from -explain which other services and methods take
// their tokens from the same bucket (one rate for all of them together). Each line now names
// them: a profile's, every service and method that draws on it; a service's or method's, the
// others. A method drawing as its service does is its service's name; a fleet-wide bucket on
// another Redis server, or of another name, is another bucket.
func TestExplainSharedBucketSaysWithWhom(t *testing.T) {
	cfg, _, err := config.Parse("b.yaml", []byte(`
profiles:
  pooled:
    rate_limit: {rate: 10, shared: pool}
services:
  a.v1.A:
    profile: pooled
    methods: {Get: {deadline: {max: 1s}}}
  a.v1.B:
    profile: fast
    rate_limit: {rate: 10, shared: pool}
  a.v1.C:
    profile: fast
    methods: {M: {rate_limit: {rate: 10, shared: pool}}}
  a.v1.D:
    profile: fast
    rate_limit: {rate: 5, shared: alone}
  a.v1.E:
    profile: fast
    rate_limit: {rate: 5, shared: fleet, redis: {addr: "r1:6379"}}
  a.v1.F:
    profile: fast
    rate_limit: {rate: 5, shared: fleet, redis: {addr: "r2:6379"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	blocks := explainBlocks(t, cfg)
	for _, tc := range []struct{ block, want string }{
		{"profile pooled", `shared bucket "pool", drawn on by a.v1.A, a.v1.B, /a.v1.C/M`},
		{"service a.v1.B", `shared bucket "pool" with a.v1.A, /a.v1.C/M;`},
		{"service a.v1.C method M", `shared bucket "pool" with a.v1.A, a.v1.B;`},
		{"service a.v1.D", `shared bucket "alone" with no other service or method;`},
		{"service a.v1.E", `shared bucket "fleet" with no other service or method;`},
		{"service a.v1.F", `shared bucket "fleet" with no other service or method;`},
	} {
		if line := sectionLine(blocks[tc.block], "rate_limit"); !strings.Contains(line+";", tc.want) {
			t.Errorf("%s: rate_limit line %q, want it to say %q", tc.block, line, tc.want)
		}
	}
}
