package interceptors_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// Regression: ServiceConfig read its base's numbers as float64, so an integer above 2^53 (a
// load balancing policy's uint64 setting, say) came out as another number: the base's other
// settings are kept as written.
func TestServiceConfigKeepsTheBasesNumbers(t *testing.T) {
	s := suiteOf(t, &config.Config{})
	const n = "9007199254740993" // 2^53 + 1: no float64
	base := `{"loadBalancingConfig": [{"ring_hash_experimental": {"maxRingSize": ` + n + `}}]}`
	out, err := s.ServiceConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"maxRingSize":`+n) {
		t.Errorf("ServiceConfig(%s) = %s, want maxRingSize %s kept", base, out, n)
	}
}
