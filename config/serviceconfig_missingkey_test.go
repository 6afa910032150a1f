package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// TestServiceConfigMissingKeySaysSo: a key gRPC requires that the document leaves out was
// reported as the zero it was read as ("maxAttempts: 0 must be 2 or more"), a value nobody
// wrote, and the misspelt key written in its place went unmentioned (its warning is dropped
// with the error). The rule now says the key is missing and names a near miss; a key written
// with a bad value reads as before, and so does one whose case differs (gRPC reads it).
func TestServiceConfigMissingKeySaysSo(t *testing.T) {
	const name = `"name":[{"service":"a.v1.S"}]`
	for _, tc := range []struct{ doc, want string }{{
		`{"methodConfig":[{` + name + `,"retryPolicy":{"maxAttemps":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`,
		`sc.json: methodConfig[0].retryPolicy.maxAttempts: 0 must be 2 or more (the key is missing, and gRPC requires it; "maxAttemps", written instead, is no key gRPC reads)`,
	}, {
		`{"methodConfig":[{` + name + `,"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2}}]}`,
		`sc.json: methodConfig[0].retryPolicy.retryableStatusCodes: [] must name at least one code (the key is missing, and gRPC requires it)`,
	}, {
		`{"methodConfig":[{` + name + `,"hedgingPolicy":{"maxAttempt":3}}]}`,
		`sc.json: methodConfig[0].hedgingPolicy.maxAttempts: 0 must be 2 or more (the key is missing, and gRPC requires it; "maxAttempt", written instead, is no key gRPC reads)`,
	}, {
		`{"retryThrottling":{"maxTokens":10,"tokenRation":0.1}}`,
		`sc.json: retryThrottling.tokenRatio: 0 must be more than 0 (the key is missing, and gRPC requires it; "tokenRation", written instead, is no key gRPC reads)`,
	}, {
		`{"methodConfig":[{` + name + `,"retryPolicy":{"maxAttempts":1,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`,
		`sc.json: methodConfig[0].retryPolicy.maxAttempts: 1 must be 2 or more`,
	}, {
		`{"methodConfig":[{` + name + `,"retryPolicy":{"MAXATTEMPTS":1,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`,
		`sc.json: methodConfig[0].retryPolicy.maxAttempts: 1 must be 2 or more`,
	}} {
		_, _, err := config.ParseServiceConfig("sc.json", []byte(tc.doc))
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseServiceConfig(%s) =\n%v\nwant\n%s", tc.doc, err, tc.want)
		}
	}
}
