package integration_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
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

// defaultProfile is a configuration whose only profile is "default", so that every service,
// named or not, gets a breaker and a bulkhead built on its methods' first call.
func defaultProfile(failures, slots int) *config.Config {
	return &config.Config{Profiles: map[string]config.Profile{config.DefaultProfile: {
		Breaker:  &breaker.Config{ConsecutiveFailures: failures, RecoveryTimeout: time.Hour},
		Bulkhead: &bulkhead.Config{MaxConcurrent: slots},
	}}}
}

// countingInvoker answers every call with err and counts the calls per method.
type countingInvoker struct {
	mu    sync.Mutex
	calls map[string]int
	err   error
}

func (c *countingInvoker) invoke(_ context.Context, method string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[method]++
	return c.err
}
