package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestServiceConfigWrongTypeNamesItsPath: a field of a service config whose JSON value is not
// of the type gRPC reads there (a string for maxAttempts, an object for the name list) is one
// *Error naming the file, the field's JSON path with the index of each list on the way
// (methodConfig[1].retryPolicy.maxAttempts, methodConfig[0].name[1].service), the value as
// written and the JSON type the field wants. It used to be encoding/json's words, naming a
// type of the package's own code and no list index ("not a gRPC service config: json: cannot
// unmarshal string into Go struct field scDoc.methodConfig.retryPolicy.maxAttempts of type
// int").
func TestServiceConfigWrongTypeNamesItsPath(t *testing.T) {
	const retry = `"initialBackoff":"1s","maxBackoff":"2s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]`
	for _, tc := range []struct {
		name, doc string
		want      config.Error
	}{
		{"string for an integer", `{"methodConfig":[{"name":[{"service":"a.v1.S"}]},{"name":[{"service":"b.v1.S"}],"retryPolicy":{"maxAttempts":"3",` + retry + `}}]}`,
			config.Error{File: "sc.json", Path: "methodConfig[1].retryPolicy.maxAttempts", Value: `"3"`, Rule: "is not an integer (a JSON number without a fraction, within 64 bits)"}},
		{"integer out of range", `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":1e30,` + retry + `}}]}`,
			config.Error{File: "sc.json", Path: "methodConfig[0].retryPolicy.maxAttempts", Value: `1e30`, Rule: "is not an integer (a JSON number without a fraction, within 64 bits)"}},
		{"number for a name", `{"methodConfig":[{"name":[{"service":"a.v1.S"},{"service":7}]}]}`,
			config.Error{File: "sc.json", Path: "methodConfig[0].name[1].service", Value: `7`, Rule: "is not a JSON string"}},
		{"list for a string", `{"methodConfig":[{"name":[{"service":"a.v1.S","method":["Do"]}]}]}`,
			config.Error{File: "sc.json", Path: "methodConfig[0].name[0].method", Value: `["Do"]`, Rule: "is not a JSON string"}},
		{"object for the name list", `{"methodConfig":[{"name":{"service":"a.v1.S"}}]}`,
			config.Error{File: "sc.json", Path: "methodConfig[0].name", Value: `{"service":"a.v1.S"}`, Rule: "is not a JSON array"}},
		{"string in the name list", `{"methodConfig":[{"name":[{"service":"a.v1.S"},"b.v1.S"]}]}`,
			config.Error{File: "sc.json", Path: "methodConfig[0].name[1]", Value: `"b.v1.S"`, Rule: "is not a JSON object"}},
		{"object for methodConfig", `{"methodConfig":{"name":[]}}`,
			config.Error{File: "sc.json", Path: "methodConfig", Value: `{"name":[]}`, Rule: "is not a JSON array"}},
		{"string for a token count", `{"retryThrottling":{"maxTokens":"10","tokenRatio":0.1}}`,
			config.Error{File: "sc.json", Path: "retryThrottling.maxTokens", Value: `"10"`, Rule: "is not a JSON number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := config.ParseServiceConfig("sc.json", []byte(tc.doc))
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a *config.Error", err)
			}
			if *ce != tc.want {
				t.Fatalf("error %q\nwant  %q", ce.Error(), tc.want.Error())
			}
		})
	}
}
