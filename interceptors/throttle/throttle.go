package throttle

import (
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// Throttle is client-side adaptive throttling for one service. Ask it with Allow before a call
// and tell it the outcome with Record after, or use its Unary and Stream interceptors.
//
// A Throttle is safe for concurrent use.
type Throttle struct {
	name    string
	service string // named in rejections, events and levels
	method  string // the full method of a throttle of one method; "" for a service's
	cfg     Config // Normalized: every default filled in.

	clock      clock.Clock
	sink       observe.Sink
	classifier *codes.Classifier
	rand       func() float64
	origin     time.Time // The window's zero.

	win *window
}

// Normalize returns cfg with every documented default filled in, so that two configurations
// that mean the same compare equal. It does not validate.
func Normalize(cfg Config) Config {
	if cfg.K == 0 {
		cfg.K = 2
	}
	if cfg.Window == 0 {
		cfg.Window = 2 * time.Minute
	}
	if cfg.MaxRejectProbability == 0 {
		cfg.MaxRejectProbability = 0.9
	}
	return cfg
}

// New returns a throttle named name, configured by cfg with its documented defaults filled in,
// and an empty window. name is the fully qualified gRPC service the throttle guards, or the
// full method "/pkg.Service/Method" of a throttle of one method (as a suite names the throttle
// of a method with one of its own): rejections, events and levels name that method's service
// as the service and the full method as the method, so that an observer tells a method's
// throttle from its service's; any other name is the service, with no method. It returns
// cfg.Validate's error when cfg is out of range.
func New(name string, cfg Config, opts ...Option) (*Throttle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = Normalize(cfg)
	o := buildOptions(opts)
	if err := o.CheckTypedNil(); err != nil {
		return nil, err
	}
	service, method := grpcmethod.Owner(name, "")
	return &Throttle{
		name:       name,
		service:    service,
		method:     method,
		cfg:        cfg,
		clock:      o.Clock,
		sink:       o.Sink,
		classifier: o.Classifier,
		rand:       o.Rand,
		origin:     o.Clock.Now(),
		win:        newWindow(cfg.Window),
	}, nil
}

// Name returns the name given to New.
func (t *Throttle) Name() string { return t.name }

// Config returns the throttle's configuration with its defaults filled in.
func (t *Throttle) Config() Config { return t.cfg }

// epochNow returns the window's current epoch (see clock.Since: with the real clock, a reading
// of the monotonic clock alone).
func (t *Throttle) epochNow() int64 { return t.win.epoch(clock.Since(t.clock, t.origin)) }

// minProbability is the largest p read as 0. With requests exactly K·accepts as written, the
// formula's 0 comes out of float64 as the rounding error of K·accepts when K has no exact
// binary form (1.1e-16 for K 1.4, 45 accepts and 63 requests), and a draw of 0 fell below it.
// That error stays under 1e-15 at any count, while a real excess e of requests over K·accepts
// makes p = e/(requests+1), above 1e-12 while requests+1 < 1e12·e: a whole request's up to
// 1e12 − 2 requests in the window, a hundredth of one's up to 1e10 − 2 (at 1e10 − 1 it is
// exactly 1e-12, read as 0).
const minProbability = 1e-12

// probability is the rejection probability at counts requests and accepts: the SRE formula,
// zero below MinRequests, and capped at MaxRejectProbability.
func (t *Throttle) probability(requests, accepts int64) float64 {
	if requests == 0 || requests < int64(t.cfg.MinRequests) {
		return 0
	}
	p := (float64(requests) - t.cfg.K*float64(accepts)) / float64(requests+1)
	if p <= minProbability {
		return 0
	}
	return min(p, t.cfg.MaxRejectProbability)
}

// Allow asks to send one request to the service. It returns nil when the request may go
// ahead: the caller then makes it and reports its outcome with Record. Otherwise the request
// is rejected locally with the current rejection probability: Allow counts it as a request
// (never an accept), emits an observe.Rejected event, and returns a *codes.Rejection wrapping
// ErrThrottled (code Unavailable, reason ADAPTIVE_THROTTLE); the caller must not Record it.
// method is the full gRPC method, carried in the event; it may be empty.
//
// Allow takes the window's mutex for a few additions, and allocates only to reject.
func (t *Throttle) Allow(method string) error {
	e := t.epochNow()
	p := t.probability(t.win.counts(e))
	if p == 0 || t.rand() >= p {
		return nil
	}
	t.win.add(e, false)
	return t.reject(method, p)
}

func (t *Throttle) reject(method string, p float64) error {
	return outcome.Reject(t.sink, t.clock, method, &codes.Rejection{
		Err: ErrThrottled, Code: grpccodes.Unavailable, Reason: ReasonThrottled,
		Policy: observe.PolicyAdaptiveThrottle, Service: t.service,
	}, p)
}

// Record reports the outcome of a request that Allow let through, as classified by a
// codes.Classifier. An ignored class (canceled, or rejected by another bulwark policy before
// it reached the service) counts as nothing; any other counts as a request, and as an accept
// unless the class is a failure (transient, throttled, server_fault): a business error is the
// service's answer, so it is an accept.
//
// Record takes the window's mutex for a few additions, and allocates nothing.
func (t *Throttle) Record(v codes.Verdict) { t.record(v.Class) }

func (t *Throttle) record(class codes.Class) {
	if class.Ignored() {
		return
	}
	e := t.epochNow()
	t.win.add(e, !class.Failure())
}

// Probability returns the rejection probability that Allow would use now: zero while the
// window holds fewer than MinRequests requests, and never above MaxRejectProbability.
func (t *Throttle) Probability() float64 {
	e := t.epochNow()
	return t.probability(t.win.counts(e))
}

// Counts returns the requests (local rejections included) and the accepts the window holds
// now.
func (t *Throttle) Counts() (requests, accepts int64) {
	e := t.epochNow()
	return t.win.counts(e)
}

// Reset empties the window, so the throttle admits every request until the service turns
// some away again. Outcomes of calls in flight at the time are counted in the new window.
func (t *Throttle) Reset() { t.win.reset() }
