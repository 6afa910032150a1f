package section_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/section"
)

type keyFormConfig struct {
	N int `yaml:"n"`
}

// A key that is not a lower-case identifier is refused at Register, as Spec.Key requires: a
// dotted key ("my.pool") is read back by config as a section and a field ("my", "pool"), so
// that a service's override making the section invalid passed Validate silently, and errors
// pointed at the profile's line instead of the field's.
func TestRegisterRefusesKeysThatAreNotIdentifiers(t *testing.T) {
	for i, k := range []section.Key{"my.pool", "My", "two words", "9lives", "pool-size", `"q"`} {
		msg := func() (msg string) {
			defer func() {
				if r := recover(); r != nil {
					msg, _ = r.(string)
				}
			}()
			section.Register(section.Spec[keyFormConfig]{Key: k, Rank: section.Rank(-1000 - i)})
			return ""
		}()
		if !strings.Contains(msg, "not a lower-case identifier") {
			t.Errorf("Register(%q): panic %q, want one saying it is not a lower-case identifier", k, msg)
		}
		if _, ok := section.Lookup(k); ok {
			t.Errorf("key %q was registered", k)
		}
	}
}
