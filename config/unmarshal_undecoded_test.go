package config_test

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestUnmarshalYAMLUndecodedValueOnce: a value that could not be decoded is left zero, and
// Parse leaves out what Validate then says of that zero; yaml.Unmarshal into a Config did
// not, so rate: abc was reported twice, the second time as a 0 the file never wrote:
// "profiles.p.rate_limit.rate: 0 is not a positive number of calls per second".
func TestUnmarshalYAMLUndecodedValueOnce(t *testing.T) {
	var doc struct {
		Bulwark config.Config `yaml:"bulwark"`
	}
	err := yaml.Unmarshal([]byte("bulwark:\n  profiles:\n    p:\n      rate_limit: {rate: abc}\n"), &doc)
	want := `line 4: profiles.p.rate_limit.rate: "abc" is not a number`
	if err == nil || err.Error() != want {
		t.Fatalf("yaml.Unmarshal = %v, want %s", err, want)
	}
}
