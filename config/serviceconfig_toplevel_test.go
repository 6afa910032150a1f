package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// A document that is JSON but no object is refused with its value and the rule, not with
// encoding/json's words naming the package's own type ("json: cannot unmarshal array into Go
// value of type config.scDoc").
func TestServiceConfigNotAnObject(t *testing.T) {
	const rule = ` is not a gRPC service config: want a JSON object, such as {"methodConfig": [...]}`
	for doc, want := range map[string]string{
		`[{"methodConfig":[]}]`: `sc.json: [{"methodConfig":[]}]` + rule,
		` "x" `:                 `sc.json: "x"` + rule,
		`3`:                     `sc.json: 3` + rule,
	} {
		if _, _, err := config.ParseServiceConfig("sc.json", []byte(doc)); err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", doc, err, want)
		}
	}
}
