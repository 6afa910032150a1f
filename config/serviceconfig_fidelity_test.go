package config_test

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
)

// warningsAt returns the messages of the warnings at path.
func warningsAt(ws []config.Warning, path string) []string {
	var msgs []string
	for _, w := range ws {
		if w.Path == path {
			msgs = append(msgs, w.Message)
		}
	}
	return msgs
}

// grpc-go's retryThrottling takes a token only for a failure whose code is in the policy's
// retryableStatusCodes (stream.go shouldRetry returns before throttle() for any other code);
// bulwark's token bucket takes one for every failure, INTERNAL or an unlisted UNAVAILABLE
// alike, so the same config stops retrying sooner. That must not pass in silence.
func TestServiceConfigThrottlingWarnsOfUnlistedFailures(t *testing.T) {
	_, warns, err := config.ParseServiceConfig("a6.json", []byte(a6Retry))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range warningsAt(warns, "retryThrottling") {
		if strings.Contains(m, "retryableStatusCodes") {
			return
		}
	}
	t.Errorf("no warning at retryThrottling that failures of codes not in retryableStatusCodes take tokens; got %v", warns)
}

// gRFC A6 (gRPC core's retry filter) retries an attempt cut by perAttemptRecvTimeout whatever
// retryableStatusCodes lists. bulwark's cut attempt ends in DEADLINE_EXCEEDED, which the
// import makes server_fault when the list leaves it out: the first attempt to time out ends
// the call. The warning must not then say the timeout is applied as A6 defines it.
func TestServiceConfigPerAttemptRecvTimeoutWithoutDeadlineExceeded(t *testing.T) {
	const path = "methodConfig[0].retryPolicy.perAttemptRecvTimeout"
	sc := func(codes string) string {
		return `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":[` + codes + `],"perAttemptRecvTimeout":"0.5s"}}]}`
	}
	_, warns, err := config.ParseServiceConfig("sc.json", []byte(sc(`"UNAVAILABLE"`)))
	if err != nil {
		t.Fatal(err)
	}
	msgs := warningsAt(warns, path)
	if len(msgs) != 1 || !strings.Contains(msgs[0], "not retried") || strings.Contains(msgs[0], "as gRFC A6 defines it") {
		t.Errorf("DEADLINE_EXCEEDED not listed: warnings at %s %q, want one saying a timed-out attempt is not retried", path, msgs)
	}
	_, warns, err = config.ParseServiceConfig("sc.json", []byte(sc(`"UNAVAILABLE","DEADLINE_EXCEEDED"`)))
	if err != nil {
		t.Fatal(err)
	}
	msgs = warningsAt(warns, path)
	if len(msgs) != 1 || strings.Contains(msgs[0], "not retried") {
		t.Errorf("DEADLINE_EXCEEDED listed: warnings at %s %q, want one, not saying a timed-out attempt is not retried", path, msgs)
	}
}

// grpc-go sleeps min(initialBackoff·multiplier^n, maxBackoff) times a random factor in
// [0.8, 1.2) (stream.go shouldRetry); the import's full jitter sleeps random(0, that), half as
// long on average, which no bulwark jitter matches. The difference must be a warning, not
// passed off as gRPC's schedule.
func TestServiceConfigWarnsOfJitter(t *testing.T) {
	_, warns, err := config.ParseServiceConfig("a6.json", []byte(a6Retry))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range warningsAt(warns, "methodConfig[0].retryPolicy") {
		if strings.Contains(m, "0.8") && strings.Contains(m, "1.2") {
			return
		}
	}
	t.Errorf("no warning at methodConfig[0].retryPolicy that grpc-go's sleeps are 0.8-1.2 times the backoff; got %v", warns)
}

// grpc-go retries only a failure the server sent without response headers (trailers-only,
// stream.go shouldRetry); an attempt whose headers arrived is committed. bulwark's unary
// retry does not look at headers, so a server or proxy that sends headers and then fails
// UNAVAILABLE is retried where grpc-go returned the error. The import must say so.
func TestServiceConfigWarnsOfRetryAfterHeaders(t *testing.T) {
	_, warns, err := config.ParseServiceConfig("a6.json", []byte(a6Retry))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range warningsAt(warns, "methodConfig[0].retryPolicy") {
		if strings.Contains(m, "headers") {
			return
		}
	}
	t.Errorf("no warning at methodConfig[0].retryPolicy that grpc-go does not retry after response headers; got %v", warns)
}
