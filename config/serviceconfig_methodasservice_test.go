package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// A service name that is a method of another service the config names (a.v1.S.M beside
// a.v1.S, before or after it, or with a method of its own) configures no call: it is an error
// at its JSON path, with the name and the rule, where before it came back by the converted
// YAML's path ("the converted configuration is invalid: services."a.v1.S.M": ..."), which the
// file does not have.
func TestServiceConfigMethodAsServiceNamesItsJSONPath(t *testing.T) {
	const rule = `"a.v1.S.M" is the method M of the service a.v1.S, which the config names too: "service" is the fully qualified service name and "method" the method's short name ({"service": "a.v1.S", "method": "M"})`
	for _, tt := range []struct{ doc, want string }{
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}]},{"name":[{"service":"b.v1.T"},{"service":"a.v1.S.M"}],"timeout":"1s"}]}`,
			"sc.json: methodConfig[1].name[1].service: " + rule},
		{`{"methodConfig":[{"name":[{"service":"a.v1.S.M"},{"service":"a.v1.S"}],"timeout":"1s"}]}`,
			"sc.json: methodConfig[0].name[0].service: " + rule},
		{`{"methodConfig":[{"name":[{"service":"a.v1.S.M","method":"N"}],"timeout":"1s"},{"name":[{"service":"a.v1.S","method":"N"}]}]}`,
			"sc.json: methodConfig[0].name[0].service: " + rule},
	} {
		_, _, err := config.ParseServiceConfig("sc.json", []byte(tt.doc))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.doc, err, tt.want)
		}
	}
	// A package part that starts with a lower-case letter is no service: a.v1.s.M is the
	// service M of the package a.v1.s, as Validate reads it.
	if _, _, err := config.ParseServiceConfig("sc.json", []byte(`{"methodConfig":[{"name":[{"service":"a.v1.s"},{"service":"a.v1.s.M"}],"timeout":"1s"}]}`)); err != nil {
		t.Errorf("a.v1.s.M beside a.v1.s: %v, want none", err)
	}
}
