package interceptors_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// redisOCR binds OCR to a profile whose rate limit is fleet-wide (rate_limit.redis).
func redisOCR() *config.Config {
	cfg := threeProfiles()
	ocr := cfg.Profiles["ocr"]
	ocr.RateLimit = &ratelimit.Config{Rate: 5, Redis: &ratelimit.RedisConfig{Addr: "127.0.0.1:1"}}
	cfg.Profiles["ocr"] = ocr
	return cfg
}

// TestRedisSectionNeedsRemoteFactory: the suite does not dial Redis itself; a rate_limit.redis
// section without WithRemoteLimiter is an error naming the section and the option.
func TestRedisSectionNeedsRemoteFactory(t *testing.T) {
	_, err := interceptors.New(redisOCR())
	if err == nil {
		t.Fatal("New accepted rate_limit.redis without a remote limiter factory")
	}
	for _, w := range []string{"rate_limit.redis", "WithRemoteLimiter"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %s", err, w)
		}
	}
}

// refusing is a remote limiter that refuses every token.
type refusing struct{}

func (refusing) Take(context.Context, time.Duration) (ratelimit.Decision, error) {
	return ratelimit.Decision{RetryAfter: time.Second}, nil
}

type closeCounter struct {
	mu sync.Mutex
	n  int
}

func (c *closeCounter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return nil
}

func (c *closeCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestRemoteLimiterFactory: the factory builds the limiter of a rate_limit.redis section with
// the policy's key and service, its limiter answers the calls, and the suite closes what it
// returned when the suite closes (once), and when a reload replaces it.
func TestRemoteLimiterFactory(t *testing.T) {
	type built struct {
		key, service string
		cfg          ratelimit.Config
	}
	var (
		mu      sync.Mutex
		calls   []built
		closers []*closeCounter
	)
	factory := func(key string, cfg ratelimit.Config, env ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, built{key: key, service: env.Service, cfg: cfg})
		c := &closeCounter{}
		closers = append(closers, c)
		return refusing{}, c, nil
	}
	s, err := interceptors.New(redisOCR(), interceptors.WithRemoteLimiter(factory))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(calls) != 1 || calls[0].key != svcOCR || calls[0].service != svcOCR || calls[0].cfg.Redis == nil ||
		calls[0].cfg.Redis.Timeout != ratelimit.DefaultRedisTimeout {
		t.Errorf("factory calls = %+v, want one for %s with the normalized redis section", calls, svcOCR)
	}
	mu.Unlock()

	srv := testkit.Start(t, &testkit.Server{})
	cc := srv.Dial(t, s.DialOptions()...)
	_, err = kycv1.NewOCRServiceClient(cc).Extract(context.Background(), &kycv1.ExtractRequest{})
	if st, _ := status.FromError(err); st.Code() != grpccodes.ResourceExhausted || !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("call through a refusing remote limiter: %v, want ResourceExhausted wrapping ErrLimited", err)
	}

	// A reload that changes the limit builds a new limiter; the old one is closed with the suite.
	next := redisOCR()
	next.Profiles["ocr"].RateLimit.Rate = 7
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(closers) != 2 {
		t.Fatalf("factory called %d times, want 2 (New, then the changed reload)", len(closers))
	}
	for i, c := range closers {
		if c.count() != 1 {
			t.Errorf("limiter %d closed %d times, want 1", i, c.count())
		}
	}
}
