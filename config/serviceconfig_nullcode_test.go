package config_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// A null in a status code list is no code: it is refused by its path and index, where before
// it read as OK (as grpc-go reads it) and came back as "OK is not a failure code", naming the
// list but neither the null nor its index.
func TestServiceConfigNullCodeRefused(t *testing.T) {
	const rule = `null is not a status code: want a name such as "UNAVAILABLE" or a number (grpc-go reads null as OK, which is no failure)`
	for _, tt := range []struct{ mc, want string }{
		{`"retryPolicy":{"maxAttempts":3,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE", null]}`,
			"sc.json: methodConfig[0].retryPolicy.retryableStatusCodes[1]: " + rule},
		{`"hedgingPolicy":{"maxAttempts":2,"nonFatalStatusCodes":[null,"UNAVAILABLE"]}`,
			"sc.json: methodConfig[0].hedgingPolicy.nonFatalStatusCodes[0]: " + rule},
	} {
		sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],` + tt.mc + `}]}`
		_, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.mc, err, tt.want)
		}
	}
}
