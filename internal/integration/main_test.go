package integration_test

import (
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"go.uber.org/goleak"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	svcFaceMatch = "kyc.v1.FaceMatchService"
	svcUnlisted  = "test.v1.Unlisted" // no registered descriptor, not named in the configuration
)

func unavailable() error { return status.Error(grpccodes.Unavailable, "down") }

// quickRetry is a retry section with millisecond backoffs, so that the tests count attempts
// without waiting.
func quickRetry(attempts int) *retry.Config {
	return &retry.Config{MaxAttempts: attempts, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retry.JitterNone}
}
