package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// An OK in a status code list, by name or number, is refused by its index and as written, as
// a null is: it came back naming the list alone ("retryableStatusCodes: OK is not a failure
// code"), which left the reader to find it.
func TestServiceConfigOKCodeNamesItsIndex(t *testing.T) {
	const retry = `"retryPolicy":{"maxAttempts":3,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":`
	for _, tt := range []struct{ mc, want string }{
		{retry + `["UNAVAILABLE","OK"]}`,
			`sc.json: methodConfig[0].retryPolicy.retryableStatusCodes[1]: "OK" is not a failure code (OK is the code of every success)`},
		{retry + `[0,"UNAVAILABLE"]}`,
			`sc.json: methodConfig[0].retryPolicy.retryableStatusCodes[0]: 0 is not a failure code (OK is the code of every success)`},
		{`"hedgingPolicy":{"maxAttempts":2,"nonFatalStatusCodes":["UNAVAILABLE","ABORTED","OK"]}`,
			`sc.json: methodConfig[0].hedgingPolicy.nonFatalStatusCodes[2]: "OK" is not a failure code (OK is the code of every success)`},
		// Each one, by its index.
		{retry + `["OK","UNAVAILABLE",0]}`,
			`sc.json: methodConfig[0].retryPolicy.retryableStatusCodes[0]: "OK" is not a failure code (OK is the code of every success)` + "\n" +
				`sc.json: methodConfig[0].retryPolicy.retryableStatusCodes[2]: 0 is not a failure code (OK is the code of every success)`},
	} {
		sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],` + tt.mc + `}]}`
		_, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.mc, err, tt.want)
		}
	}
}
