package redislimit

import (
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/observe"
)

// DefaultProbeInterval is how long a Limiter stops asking Redis after a failed round trip,
// unless WithProbeInterval says otherwise.
const DefaultProbeInterval = time.Second

// Option changes a Limiter at construction. Options are built only by the With functions.
type Option struct {
	apply func(*settings)
}

// settings is what options change.
type settings struct {
	clock   clock.Clock
	sink    observe.Sink
	service string
	probe   time.Duration
}

func defaultSettings() settings {
	return settings{clock: clock.Real, probe: DefaultProbeInterval}
}

// WithClock sets the clock that times maxWait waits, the local guard's refill and the probe
// interval. The default is clock.Real. Redis round trips are always bounded in real time, and
// the shared bucket runs on Redis's own clock (see the package documentation).
func WithClock(c clock.Clock) Option {
	return Option{apply: func(s *settings) { s.clock = clock.OrReal(c) }}
}

// WithObserver sets the sink that receives LimiterDegraded events. With none (the default) no
// event is built.
func WithObserver(sink observe.Sink) Option {
	return Option{apply: func(s *settings) { s.sink = sink }}
}

// WithService sets the service name carried by the events (Event.Service), such as
// kyc.v1.OCRService, when it differs from the limiter's name, the default (an empty name
// keeps it). A Factory sets the service of the suite's chain.
func WithService(name string) Option {
	return Option{apply: func(s *settings) { s.service = name }}
}

// WithProbeInterval sets how long the Limiter answers by its fail mode alone, without asking
// Redis, after a round trip failed; then one call probes Redis again while the others keep
// the fail mode until it answers. The default is DefaultProbeInterval (1s). 0 (or less) turns
// the pause off: every call asks Redis and, while Redis is down or stalled, pays the round
// trip's timeout.
func WithProbeInterval(d time.Duration) Option {
	return Option{apply: func(s *settings) { s.probe = max(d, 0) }}
}
