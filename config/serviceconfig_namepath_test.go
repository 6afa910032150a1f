package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// A service or method name bulwark cannot configure is an error at its JSON path, with the
// name and the rule, where before it came back by the path of the converted YAML
// ("the converted configuration is invalid: services.S: ..."), which the file does not have.
func TestServiceConfigBadNameNamesItsJSONPath(t *testing.T) {
	for _, tt := range []struct{ name, want string }{
		{`{"service":"S"}`, `sc.json: methodConfig[0].name[1].service: "S" is not a fully qualified service name (package and service, such as kyc.v1.OCRService)`},
		{`{"service":"a.v1.S "}`, `sc.json: methodConfig[0].name[1].service: "a.v1.S " is not a fully qualified service name (package and service, such as kyc.v1.OCRService)`},
		{`{"service":"a.v1.S/"}`, `sc.json: methodConfig[0].name[1].service: "a.v1.S/" is not a fully qualified service name (package and service, such as kyc.v1.OCRService)`},
		{`{"service":"a.v1.T","method":"M "}`, `sc.json: methodConfig[0].name[1].method: "M " is not a method name (an identifier such as Extract)`},
	} {
		sc := `{"methodConfig":[{"name":[{"service":"a.v1.S","method":"M"},` + tt.name + `],"timeout":"1s"}]}`
		_, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
		if err == nil || err.Error() != tt.want {
			t.Errorf("name %s:\n got %v\nwant %s", tt.name, err, tt.want)
		}
	}
}
