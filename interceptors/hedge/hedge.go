package hedge

import (
	"strconv"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
)

// Defaults filled in by New for zero fields of Config.
const (
	DefaultMaxAttempts = 2
	DefaultDelay       = 100 * time.Millisecond
	DefaultPercentile  = 0.95
	// DefaultMedianMultiple caps the adaptive delay at 3 times the median latency.
	DefaultMedianMultiple = 3
	DefaultMinDelay       = time.Millisecond
	DefaultWindow         = 500
	DefaultMinSamples     = 50
)

// ReplayBufferBytes bounds the request messages (by proto.Size) a client stream keeps for
// replay to its hedges. A stream that sends more is not hedged.
const ReplayBufferBytes = 256 << 10

// PreviousAttemptsKey is the outgoing metadata key that tells the server, on each hedge, how
// many attempts of the call were sent before it (1 on the first hedge). The first attempt does
// not carry it. It is gRFC A6's header, which grpc-go passes through from metadata.
const PreviousAttemptsKey = "grpc-previous-rpc-attempts"

// maxAttempts is the cap Validate puts on Config.MaxAttempts.
const maxAttempts = 5

// previous holds the PreviousAttemptsKey values, indexed by attempt number.
var previous = func() (p [maxAttempts + 1]string) {
	for n := 2; n <= maxAttempts; n++ {
		p[n] = strconv.Itoa(n - 1)
	}
	return p
}()

// Policy hedges calls as its Config says. A Policy is safe for concurrent use; its adaptive
// delays are learnt per full method and shared by every call made through it.
type Policy struct {
	cfg   Config
	s     settings
	fixed bool // the delay is Config.Delay, not learnt

	methods cowmap.Map[string, *methodInfo]
}

// methodInfo is what the policy knows of one full method name.
type methodInfo struct {
	name    string
	service string
	safe    bool       // the descriptor says NO_SIDE_EFFECTS or IDEMPOTENT
	est     *estimator // nil when the delay is fixed
}

// New returns a hedging policy for cfg, with the zero fields of cfg set to their defaults.
// It returns the error of cfg.Validate when cfg is out of range.
func New(cfg Config, opts ...Option) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fixed := cfg.Percentile == 0 && cfg.Delay > 0
	cfg = Normalize(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{
		cfg:   cfg,
		fixed: fixed,
		s:     settings{clock: clock.Real, classifier: codes.Default()},
	}
	for _, o := range opts {
		if o.apply != nil {
			o.apply(&p.s)
		}
	}
	return p, nil
}

// Config returns the policy's configuration with defaults filled in.
func (p *Policy) Config() Config { return p.cfg }

// Delay returns the hedging delay a call of the full method would use now: Config.Delay when
// the delay is fixed or no latency of the method is known yet, else the learnt one.
func (p *Policy) Delay(method string) time.Duration {
	if p.fixed {
		return p.cfg.Delay
	}
	return p.method(method).est.current()
}

// delay is Delay for a known method.
func (p *Policy) delay(m *methodInfo) time.Duration {
	if m.est == nil {
		return p.cfg.Delay
	}
	return m.est.current()
}

// method returns what the policy knows of a full method name, learning it on first use.
func (p *Policy) method(name string) *methodInfo {
	if m, ok := p.methods.Load(name); ok {
		return m
	}
	return p.methods.LoadOrMake(name, p.newMethod)
}

func (p *Policy) newMethod(name string) *methodInfo {
	m := &methodInfo{name: name, service: grpcmethod.Service(name), safe: grpcmethod.SafeToRetry(name)}
	if !p.fixed {
		m.est = newEstimator(p.cfg)
	}
	return m
}

// eligible reports whether the idempotency rule lets the call be hedged at all.
func (p *Policy) eligible(m *methodInfo, cs *settings) bool {
	switch cs.idempotent {
	case 1:
		return true
	case -1:
		return false
	}
	return m.safe || p.cfg.Idempotent
}
