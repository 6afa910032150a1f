package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// A key written twice whose earlier value is of another JSON type than the field's is an
// error, as in grpc-go (encoding/json checks every value's type, then keeps the last): it
// names the value that is wrong, by its JSON path with each list's index. It named
// "methodConfig.retryPolicy.maxAttempts: a JSON string", without the index nor the value, as
// the last value, which was looked at alone, is of the right type.
func TestServiceConfigDuplicateKeyWrongTypeNamesItsPath(t *testing.T) {
	const policy = `"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]`
	for _, tt := range []struct{ doc, want string }{
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}]},{"name":[{"service":"b.v1.S"}],"retryPolicy":{"maxAttempts":"x","maxAttempts":3,` + policy + `}}]}`,
			`sc.json: methodConfig[1].retryPolicy.maxAttempts: "x" is not an integer (a JSON number without a fraction, within 64 bits)`},
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}]},{"name":[{"service":"b.v1.S"},{"service":5,"service":"c.v1.S"}]}]}`,
			`sc.json: methodConfig[1].name[1].service: 5 is not a JSON string`},
		// The earlier spelling of two that differ in case, by the field's name, as every path is.
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}]},{"name":[{"service":"b.v1.S"}],"retryPolicy":{"MaxAttempts":"x","maxAttempts":3,` + policy + `}}]}`,
			`sc.json: methodConfig[1].retryPolicy.maxAttempts: "x" is not an integer (a JSON number without a fraction, within 64 bits)`},
		// A whole list written twice: the bad element of the earlier one.
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}]},{"name":[{"service":"b.v1.S"},"c.v1.S"],"name":[{"service":"b.v1.S"}]}]}`,
			`sc.json: methodConfig[1].name[1]: "c.v1.S" is not a JSON object`},
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}]}],"retryThrottling":{"maxTokens":"10","maxTokens":10,"tokenRatio":0.1}}`,
			`sc.json: retryThrottling.maxTokens: "10" is not a JSON number`},
	} {
		_, _, err := config.ParseServiceConfig("sc.json", []byte(tt.doc))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.doc, err, tt.want)
		}
	}
}

// A value of another JSON type in a later entry's list is named there: an earlier entry's
// list, well formed, was blamed for it, as a list where one object was wanted
// ("methodConfig[0].name: [{"service":"a.v1.S"}] is not a JSON object").
func TestServiceConfigWrongTypeInALaterList(t *testing.T) {
	doc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}]},{"name":[{"service":"b.v1.S"},"c.v1.S"]}]}`
	want := `sc.json: methodConfig[1].name[1]: "c.v1.S" is not a JSON object`
	if _, _, err := config.ParseServiceConfig("sc.json", []byte(doc)); err == nil || err.Error() != want {
		t.Errorf("%s:\n got %v\nwant %s", doc, err, want)
	}
}
