package ratelimit

import (
	"io"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/observe"
)

// RemoteEnv is what a RemoteFactory is given besides the section: what the building suite
// knows.
type RemoteEnv struct {
	// Service is the fully qualified gRPC service the limiter guards, for events.
	Service string
	// Clock is the suite's clock.
	Clock clock.Clock
	// Sink receives the limiter's events (LimiterDegraded); nil means none.
	Sink observe.Sink
}

// RemoteFactory builds the fleet-wide Limiter of a rate_limit section with a remote store
// (cfg.Redis set). key names the bucket: cfg.Shared when set, else the limiter's object name
// (section.Env.Name): its service ("kyc.v1.OCRService"), or the full method for a method
// that resolves rate_limit otherwise than its service does (a rate limit neither classifies
// outcomes nor bounds itself by the budget: a method that overrides only those shares its
// service's limiter). The
// Closer, when not nil, releases what the limiter opened (its own connections); the suite
// calls it when it closes.
//
// A factory is how a remote store plugs into interceptors without the core depending on its
// client: package redislimit provides one (redislimit.Factory), given to the suite with
// interceptors.WithRemoteLimiter.
type RemoteFactory func(key string, cfg Config, env RemoteEnv) (Limiter, io.Closer, error)
