package breaker

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/outcome"
	"github.com/bulwarkrpc/bulwark/observe"
	grpccodes "google.golang.org/grpc/codes"
)

// State is where a breaker stands.
type State uint8

// The states. Closed, Open and HalfOpen are the automatic cycle; ForcedOpen and Disabled are set
// by an operator and left only by another operator call.
const (
	// Closed admits every call and counts outcomes.
	Closed State = iota
	// Open rejects every call until its open interval has passed: InitialRecoveryTimeout after
	// a trip, longer after each failed probe, up to RecoveryTimeout.
	Open
	// HalfOpen admits at most HalfOpenMaxCalls probes at once and rejects the rest.
	HalfOpen
	// ForcedOpen rejects every call until Reset or Disable (ForceOpen).
	ForcedOpen
	// Disabled admits every call and counts nothing (Disable).
	Disabled
)

var stateNames = [...]string{
	Closed:     "closed",
	Open:       "open",
	HalfOpen:   "half_open",
	ForcedOpen: "forced_open",
	Disabled:   "disabled",
}

// String returns the state's snake_case name, as carried in observe.Event From and To.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// stateBits is how many low bits of Breaker.word hold the state; the rest hold the generation.
const stateBits = 3

// Breaker is a circuit breaker for one service (or one method). Use it in two steps, Allow then
// Permit.Done, or with Execute, or through its Unary and Stream interceptors.
//
// A Breaker is safe for concurrent use.
type Breaker struct {
	name    string
	service string
	method  string
	cfg     Config // Normalized: every default filled in.

	clock      clock.Clock
	sink       observe.Sink
	classifier *codes.Classifier
	origin     time.Time // The time window's and slow calls' zero.

	rateOn      bool    // A window is kept (failure rate or slow calls).
	slowOn      bool    // Slow calls are counted.
	consecutive int     // Failures in a row that trip; 0: off.
	z           float64 // The failure rate's confidence as a normal quantile; 0: the share itself.

	// word holds gen<<stateBits | state, so a closed or disabled breaker admits a call with one
	// atomic load. Written only under mu.
	word atomic.Uint64

	mu            sync.Mutex
	state         State         // Guarded by mu.
	gen           uint64        // Guarded by mu: bumped on every state change.
	openUntil     time.Time     // Guarded by mu: when Open turns HalfOpen.
	openFor       time.Duration // Guarded by mu: the interval of the current (or last) open period.
	consecFails   int           // Guarded by mu.
	win           window        // Guarded by mu.
	probes        int           // Guarded by mu: probes in flight in this half-open period.
	probeWaitEnds time.Time     // Guarded by mu: with every probe slot taken, when the wait for one to report ends.
	probeOK       int           // Guarded by mu: successful probes in this half-open period.
	stats         Stats         // Guarded by mu: counters (State and ConsecutiveFailures filled on read).
	changes       changeQueue   // Guarded by mu: state changes made and not yet sent to the sink.
	lastChange    time.Time     // Guarded by mu: the Time of the last state change's event (with a sink).

	instance uint32 // see Instance; last, so that the fields a call reads keep their places
	maker    *User  // the registry user whose build made it (see MadeBy); nil for none
	// published: Publish has been called (its BreakerPublished sent, or no sink to send it to).
	published atomic.Bool
	// retired: Retire (or the registry's retire) has been called (its Retired sent, or no
	// sink to send it to).
	retired atomic.Bool
}

// Stats is a snapshot of a breaker's counters since New or the last Reset.
type Stats struct {
	// State is the state at the time of the snapshot.
	State State
	// Calls counts the outcomes reported through a Permit (Successes + Failures + Ignored).
	Calls uint64
	// Successes counts outcomes that count as healthy: OK and business errors.
	Successes uint64
	// Failures counts outcomes that count against health (codes.Class.Failure).
	Failures uint64
	// Ignored counts outcomes that are neither: cancellations, bulwark rejections, panics.
	Ignored uint64
	// SlowCalls counts successes and failures slower than SlowCallDuration.
	SlowCalls uint64
	// Dropped counts outcomes that arrived after the state they were admitted in had ended:
	// they are in the counters above but did not move the breaker.
	Dropped uint64
	// Rejections counts calls refused with ErrOpen.
	Rejections uint64
	// StateChanges counts state transitions.
	StateChanges uint64
	// ConsecutiveFailures is the current run of failures in the closed state. Open, half-open
	// or forced open, it is the run the breaker left the closed state with (the run that
	// tripped it, when that rule did); closing, Disable and Reset set it to 0.
	ConsecutiveFailures int
	// WindowCalls, WindowFailures and WindowSlowCalls are what the rate window holds now.
	WindowCalls, WindowFailures, WindowSlowCalls int
}

// defaultRecoveryTimeout is RecoveryTimeout's default.
const defaultRecoveryTimeout = 30 * time.Second

// defaultHalfOpenMaxWait is HalfOpenMaxWait's default (unless SlowCallDuration is longer); see
// Config.HalfOpenMaxWait for why.
const defaultHalfOpenMaxWait = time.Minute

// Normalize returns cfg with every documented default filled in, so that two configurations
// that mean the same compare equal. It does not validate.
func Normalize(cfg Config) Config {
	if cfg.Scope == "" {
		cfg.Scope = ScopeService
	}
	if cfg.ConsecutiveFailures == 0 && cfg.FailureRateThreshold == 0 {
		cfg.ConsecutiveFailures = 5
	}
	if cfg.WindowType == "" {
		cfg.WindowType = WindowCount
	}
	if cfg.WindowSize == 0 {
		cfg.WindowSize = 10
	}
	if cfg.WindowDuration == 0 {
		cfg.WindowDuration = 10 * time.Second
	}
	if cfg.MinimumCalls == 0 {
		if cfg.WindowType == WindowTime {
			cfg.MinimumCalls = 10
		} else {
			cfg.MinimumCalls = cfg.WindowSize
		}
	}
	if cfg.SlowCallDuration > 0 && cfg.SlowCallRateThreshold == 0 {
		cfg.SlowCallRateThreshold = 1
	}
	if cfg.RecoveryTimeout == 0 {
		cfg.RecoveryTimeout = defaultRecoveryTimeout
	}
	if cfg.InitialRecoveryTimeout == 0 || cfg.InitialRecoveryTimeout > cfg.RecoveryTimeout {
		// RecoveryTimeout caps every interval: an override that lowers only recovery_timeout
		// (the reference's one knob) keeps its old meaning, a fixed interval.
		cfg.InitialRecoveryTimeout = cfg.RecoveryTimeout
	}
	if cfg.RecoveryMultiplier == 0 {
		cfg.RecoveryMultiplier = 2
	}
	if cfg.HalfOpenMaxCalls == 0 {
		cfg.HalfOpenMaxCalls = 1
	}
	if cfg.SuccessThreshold == 0 {
		cfg.SuccessThreshold = cfg.HalfOpenMaxCalls
	}
	if cfg.HalfOpenMaxWait == 0 {
		cfg.HalfOpenMaxWait = max(defaultHalfOpenMaxWait, cfg.SlowCallDuration)
	}
	return cfg
}

// New returns a closed breaker named name (the service, or the full method for ScopeMethod),
// configured by cfg with its documented defaults filled in. It returns cfg.Validate's error
// when cfg is out of range. With an observer (WithObserver), the breaker sends it its
// observe.BreakerPublished (see Publish) before New returns, so before it admits a call.
func New(name string, cfg Config, opts ...Option) (*Breaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	if err := o.CheckTypedNil(); err != nil {
		return nil, err
	}
	b := newBreaker(name, Normalize(cfg), o)
	b.Publish()
	return b, nil
}

// newBreaker builds a breaker from a valid, normalized cfg.
func newBreaker(name string, cfg Config, o options) *Breaker {
	b := &Breaker{
		instance:    newInstance(),
		name:        name,
		cfg:         cfg,
		clock:       o.Clock,
		sink:        o.Sink,
		classifier:  o.Classifier,
		slowOn:      cfg.SlowCallDuration > 0,
		consecutive: cfg.ConsecutiveFailures,
	}
	// A breaker named by a full method by other means than the registry interceptors (a
	// suite, New) may not know its method: its name does. Its events and its Levels name the
	// same method and service.
	b.service, b.method = grpcmethod.Owner(name, o.service)
	if o.method != "" {
		b.method = o.method
	}
	b.rateOn = cfg.FailureRateThreshold > 0 || b.slowOn
	b.z = quantile(cfg.FailureRateConfidence)
	b.origin = b.clock.Now()
	if b.rateOn {
		if cfg.WindowType == WindowTime {
			b.win = newTimeWindow(cfg.WindowDuration)
		} else {
			b.win = newCountWindow(cfg.WindowSize)
		}
	}
	b.publishLocked()
	return b
}

// instances numbers the breakers made in the process (see Breaker.Instance).
var instances atomic.Uint32

// newInstance returns the next breaker's number, never 0 (which the count skips should it wrap
// around, after 4 billion breakers).
func newInstance() uint32 {
	for {
		if n := instances.Add(1); n != 0 {
			return n
		}
	}
}

// Instance returns the breaker's number in the process: never 0, and another for each breaker
// made. Its events carry it (observe.Event.Instance), so that an observer tells them from those
// of another breaker of the same name (a replacement, after a suite's reload).
func (b *Breaker) Instance() uint32 { return b.instance }

// MadeBy reports whether u's build made the breaker (a suite's, through its registry): its
// events go to the observer that build gave it, which is that user's. A suite that takes a
// breaker another user made, from a registry they share, does not see its events.
func (b *Breaker) MadeBy(u *User) bool { return u != nil && b.maker == u }

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// Publish sends the breaker's observe.BreakerPublished to its observer (WithObserver), once per
// breaker: the first call sends it, later ones send nothing, and without an observer nothing is
// sent. The event says that the breaker exists and its state before any change: To is its
// state now (as Levels reads it: closed for a breaker just made), Service and Method name it
// as its own events do, Instance is its Instance and Time is read on its clock (WithClock),
// before its state. New calls it before it returns the breaker, Registry.Get (and so the
// registry interceptors) before the registry holds the breaker it makes, and a suite
// (package interceptors) for each breaker it made once the build that made it commits; so
// an observer that keeps breakers' states from events (zapobs' breaker field, promobs'
// bulwark_breaker_state) knows a breaker from the start, not from its first change.
func (b *Breaker) Publish() {
	if b.sink == nil || !b.published.CompareAndSwap(false, true) {
		return
	}
	at := b.clock.Now()
	l := b.level()
	b.sink.Observe(observe.Event{Kind: observe.BreakerPublished, Instance: b.instance, Time: at,
		Service: l.Service, Method: l.Method, Policy: observe.PolicyBreaker, To: l.State})
}

// Retire sends the breaker's observe.Retired to its observer (WithObserver), once per breaker:
// the first call of Retire, or of the registry's own retiring of it, sends it, later ones send
// nothing, and without an observer nothing is sent. It is for whoever decides that the breaker
// is retired: its Registry, when it forgets or replaces it and no suite holds it, or the last
// suite that held it (package interceptors), whichever suite made it, so that the observer
// that got its BreakerPublished and its changes gets its Retired too. The event is named as
// its level reading names it (read first: a change that is due is made and timed then), with
// its Instance, at at or at its last state change (LastChange) when that is later: a suite
// passes the time its reload took effect, or the zero Time at its Close, which retires it at
// its last change.
func (b *Breaker) Retire(at time.Time) { b.retire(at, false) }

// retire is Retire; with now, at is the breaker's clock's now, read after its level (the
// registry's Retired: see Registry).
func (b *Breaker) retire(at time.Time, now bool) {
	if b.sink == nil || !b.retired.CompareAndSwap(false, true) {
		return
	}
	l := b.level()
	if now {
		at = b.clock.Now()
	}
	if last := b.LastChange(); last.After(at) {
		at = last
	}
	b.sink.Observe(observe.Event{Kind: observe.Retired, Instance: b.instance, Time: at,
		Service: l.Service, Method: l.Method, Policy: observe.PolicyBreaker})
}

// Config returns the breaker's configuration with its defaults filled in.
func (b *Breaker) Config() Config { return b.cfg }

// Permit is a call admitted by Allow. Report its outcome exactly once with Done or Record: a
// half-open probe's slot is held until then. A Permit is a small value; copying it is fine, but
// reporting twice counts twice. The zero Permit (and a Permit from a disabled breaker) records
// nothing.
type Permit struct {
	b     *Breaker
	gen   uint64
	start time.Duration // Since b.origin; set only when slow calls are counted.
}

// Allow asks to make one call. It returns a Permit when the call may go ahead, or a
// *codes.Rejection wrapping ErrOpen (code Unavailable, reason CIRCUIT_OPEN, RetryAfter, when
// known, the longest wait until a probe is admitted) when it may not. Allow in the closed state
// takes no lock and allocates nothing.
func (b *Breaker) Allow() (Permit, error) { return b.allow(b.method) }

func (b *Breaker) allow(method string) (Permit, error) {
	w := b.word.Load()
	switch State(w & (1<<stateBits - 1)) {
	case Closed:
		p := Permit{b: b, gen: w >> stateBits}
		if b.slowOn {
			p.start = clock.Since(b.clock, b.origin)
		}
		return p, nil
	case Disabled:
		return Permit{}, nil
	}
	return b.allowSlow(method)
}

// allowSlow decides under the lock: the open, half-open and forced-open states (and any state
// the breaker moved to since the caller's atomic load).
func (b *Breaker) allowSlow(method string) (Permit, error) {
	b.mu.Lock()
	// The clock is read only when the answer needs it: to end the open state, to time the
	// half-open wait for probes, or to time a call for slow-call accounting. Rejection events
	// read it after the lock.
	var (
		now  time.Time
		send bool
	)
	if b.state == Open || b.state == HalfOpen || b.slowOn {
		now = b.nowLocked()
		send = b.tickLocked(now)
	}
	var (
		p          Permit
		retryAfter time.Duration
		rejected   bool
	)
	switch b.state {
	case Closed:
		p = Permit{b: b, gen: b.gen}
	case Disabled:
	case HalfOpen:
		if b.probes < b.cfg.HalfOpenMaxCalls {
			b.probes++
			if b.probes == b.cfg.HalfOpenMaxCalls {
				// The last free slot: from now on every other call is refused until a
				// probe reports, for HalfOpenMaxWait at most (tickLocked).
				b.probeWaitEnds = now.Add(b.cfg.HalfOpenMaxWait)
			}
			p = Permit{b: b, gen: b.gen}
		} else {
			// The probes in flight decide what comes next. The longest a caller may have
			// to wait is while none of them reports, until the breaker gives up on them
			// (probeWaitEnds, later than now: else tickLocked would have), and then for the
			// next, longer open interval. A probe that fails reopens it for that interval
			// sooner; one that succeeds or gives its slot back admits a call at once.
			rejected, retryAfter = true, addDurations(b.probeWaitEnds.Sub(now), b.nextOpenForLocked())
		}
	case Open:
		rejected, retryAfter = true, b.openUntil.Sub(now)
	case ForcedOpen:
		rejected = true
	}
	if rejected {
		b.stats.Rejections++
	} else if b.slowOn && p.b != nil {
		p.start = now.Sub(b.origin)
	}
	b.mu.Unlock()
	if send {
		if p.b != nil {
			b.emitAdmitted(p)
		} else {
			b.emitQueued()
		}
	}
	if !rejected {
		return p, nil
	}
	return Permit{}, outcome.Reject(b.sink, b.clock, method, &codes.Rejection{
		Err: ErrOpen, Code: grpccodes.Unavailable, Reason: ReasonCircuitOpen,
		Policy: observe.PolicyBreaker, Service: b.service, RetryAfter: retryAfter,
	}, 0)
}

// Done reports the call's outcome: err is classified with the breaker's classifier (nil is a
// success). Only failures (codes.Class.Failure) count against the service; OK and business
// errors count as successes; cancellations and rejections count as neither but still return a
// half-open probe's slot.
func (p Permit) Done(err error) {
	if p.b == nil {
		return
	}
	p.doneWith(context.Background(), err, p.b.classifier)
}

// doneWith reports a call made with ctx that ended with err, of the class outcome.Class gives
// with c. A classifier that panics on err (an error whose GRPCStatus panics) records Canceled
// before the panic goes on, so that a half-open probe's slot is given back.
func (p Permit) doneWith(ctx context.Context, err error, c *codes.Classifier) {
	if p.b == nil {
		return
	}
	classified := false
	defer func() {
		if !classified {
			p.b.record(p, codes.Canceled)
		}
	}()
	class := outcome.Class(ctx, err, c)
	classified = true
	p.b.record(p, class)
}

// Record reports the call's outcome as an already classified class, as Done does.
func (p Permit) Record(class codes.Class) {
	if p.b == nil {
		return
	}
	p.b.record(p, class)
}

// change is a state transition to announce once the lock is released (queueLocked), or
// several made one after the other, folded into one (changeQueue.push): from the first one's
// from to the last one's to, with the last one's reason, time and open interval.
type change struct {
	from, to State
	// lastFrom is the from of the last change folded in (from, for a change of one).
	lastFrom State
	// folded is set once a change was folded in (then): its event then tells the from of its
	// last change (observe.Event.LastFrom), which its from does not.
	folded bool
	// trips and reopens count the changes folded in before the last one that went to open:
	// from closed (trips) and from half-open (reopens), up to 65535 each
	// (observe.Event.FoldedTrips, FoldedReopens).
	trips, reopens uint16
	reason         string
	at             time.Time
	openFor        time.Duration // When to is Open: how long it stays open.
}

// then folds next, the change made after c's last one (next.from is c.to), into c: c then
// leads from its own from to next's to, with next's reason, time and open interval, and counts
// its own last change among those folded in when that one went to open.
func (c *change) then(next change) {
	if c.to == Open {
		if c.lastFrom == HalfOpen {
			c.reopens = addSat(c.reopens, 1)
		} else {
			c.trips = addSat(c.trips, 1) // From closed: the only other way to open.
		}
	}
	c.trips, c.reopens = addSat(c.trips, next.trips), addSat(c.reopens, next.reopens)
	c.to, c.lastFrom, c.folded = next.to, next.lastFrom, true
	c.reason, c.at, c.openFor = next.reason, next.at, next.openFor
}

// lastFroms are the observe.LastFrom of the states.
var lastFroms = [...]observe.LastFrom{
	Closed:     observe.LastFromClosed,
	Open:       observe.LastFromOpen,
	HalfOpen:   observe.LastFromHalfOpen,
	ForcedOpen: observe.LastFromForcedOpen,
	Disabled:   observe.LastFromDisabled,
}

// lastFromOf is the from of c's last change, for its event (observe.Event.LastFrom):
// LastFromShown unless changes were folded into c, whose event's From → To is then not a
// change the breaker made, but lastFrom → to is.
func (c *change) lastFromOf() observe.LastFrom {
	if !c.folded || int(c.lastFrom) >= len(lastFroms) {
		return observe.LastFromShown
	}
	return lastFroms[c.lastFrom]
}

// addSat returns a+b, at most 65535.
func addSat(a, b uint16) uint16 {
	if a > math.MaxUint16-b {
		return math.MaxUint16
	}
	return a + b
}

func (b *Breaker) record(p Permit, class codes.Class) {
	var elapsed time.Duration
	if b.slowOn || b.win.buckets != nil {
		elapsed = clock.Since(b.clock, b.origin)
	}
	slow := b.slowOn && !class.Ignored() && elapsed-p.start > b.cfg.SlowCallDuration
	failure := class.Failure()

	b.mu.Lock()
	b.stats.Calls++
	switch {
	case class.Ignored():
		b.stats.Ignored++
	case failure:
		b.stats.Failures++
	default:
		b.stats.Successes++
	}
	if slow {
		b.stats.SlowCalls++
	}
	if p.gen != b.gen {
		b.stats.Dropped++
		b.mu.Unlock()
		return
	}
	var (
		ch   change
		send bool
	)
	switch b.state {
	case Closed:
		if !class.Ignored() {
			ch = b.closedOutcomeLocked(failure, slow, elapsed)
		}
	case HalfOpen:
		ch, send = b.probeOutcomeLocked(p.gen, class, slow)
	}
	if ch.reason != "" {
		send = b.queueLocked(ch) || send
	}
	b.unlockSend(send)
}

// probeOutcomeLocked counts the outcome of a half-open probe admitted in generation gen: its
// slot is freed, and it closes or reopens the breaker when the rules say so. It reports the
// change, and whether the caller is to send the queue for the changes it queued itself
// (tickLocked).
func (b *Breaker) probeOutcomeLocked(gen uint64, class codes.Class, slow bool) (ch change, send bool) {
	if b.probes >= b.cfg.HalfOpenMaxCalls {
		// Every slot was taken: a report after the wait for one has ended comes too late,
		// whether or not anything has looked at the breaker since. The breaker gives up on
		// the probes as of the wait's end (tickLocked), and drops the report. A report at
		// the wait's very end, before anything else looked, is in time: its probe took no
		// longer than HalfOpenMaxWait, as a probe of exactly SlowCallDuration (a fast one,
		// which Validate lets the wait equal) does.
		if now := b.nowLocked(); now.After(b.probeWaitEnds) {
			if send = b.tickLocked(now); gen != b.gen {
				b.stats.Dropped++
				return change{}, send
			}
		}
	}
	b.probes--
	switch {
	case class.Ignored():
	case class.Failure():
		ch = b.openLocked(ReasonProbeFailed)
	case slow:
		ch = b.openLocked(ReasonProbeSlow)
	default:
		b.probeOK++
		if b.probeOK >= b.cfg.SuccessThreshold {
			ch = b.toLocked(Closed, ReasonProbesSucceeded, time.Time{})
		}
	}
	return ch, send
}

// closedOutcomeLocked counts a success or failure in the closed state and trips when a rule says
// so.
func (b *Breaker) closedOutcomeLocked(failure, slow bool, elapsed time.Duration) change {
	if failure {
		b.consecFails++
	} else {
		b.consecFails = 0
	}
	if b.rateOn {
		b.win.add(failure, slow, elapsed)
	}
	switch {
	case failure && b.consecutive > 0 && b.consecFails >= b.consecutive:
		return b.openLocked(ReasonConsecutiveFailures)
	case failure && b.rateTrips(b.win.failures, b.win.calls):
		return b.openLocked(ReasonFailureRate)
	case slow && judged(b.win.slow, b.win.calls, b.cfg.MinimumCalls, b.cfg.SlowCallRateThreshold):
		return b.openLocked(ReasonSlowCallRate)
	}
	return change{}
}

// rateTrips reports whether failures out of calls in the window trip the failure-rate rule.
func (b *Breaker) rateTrips(failures, calls int) bool {
	return rateTrips(failures, calls, b.cfg.MinimumCalls, b.cfg.FailureRateThreshold, b.z)
}

// rateTrips reports whether failures out of calls trip a failure-rate rule: the share (or, with
// z > 0, its Wilson lower bound at normal quantile z) reaches threshold, once there are
// minCalls outcomes.
func rateTrips(failures, calls, minCalls int, threshold, z float64) bool {
	if z == 0 {
		return judged(failures, calls, minCalls, threshold)
	}
	if threshold <= 0 || calls == 0 || calls < minCalls {
		return false
	}
	return wilsonLower(failures, calls, z) >= threshold
}

// quantile is the one-sided normal quantile of confidence level c in (0, 1); 0 for c = 0.
func quantile(c float64) float64 {
	if c <= 0 {
		return 0
	}
	return math.Sqrt2 * math.Erfinv(2*c-1)
}

// FailuresToTrip returns the fewest failures among calls outcomes in the window that trip cfg's
// failure-rate rule, or 0 when none do (the rule is off, calls is below MinimumCalls, or even
// calls failures out of calls fall short). It reads cfg with its defaults filled in; for
// explanations and capacity planning, not the hot path.
func FailuresToTrip(cfg Config, calls int) int {
	cfg = Normalize(cfg)
	z := quantile(cfg.FailureRateConfidence)
	for k := 1; k <= calls; k++ {
		if rateTrips(k, calls, cfg.MinimumCalls, cfg.FailureRateThreshold, z) {
			return k
		}
	}
	return 0
}

// wilsonLower is the lower end of the Wilson score interval of a proportion k/n at normal
// quantile z: the smallest true rate under which k failures in n would not be surprising.
func wilsonLower(k, n int, z float64) float64 {
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	centre := p + z2/(2*nf)
	spread := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return (centre - spread) / (1 + z2/nf)
}

// openLocked opens the breaker from now: for InitialRecoveryTimeout after a trip from the closed
// state, for the last interval times RecoveryMultiplier (at most RecoveryTimeout) after a failed
// probe.
func (b *Breaker) openLocked(reason string) change {
	return b.openAtLocked(reason, b.nowLocked())
}

// openAtLocked is openLocked at now.
func (b *Breaker) openAtLocked(reason string, now time.Time) change {
	if b.state == HalfOpen {
		b.openFor = b.nextOpenForLocked()
	} else {
		b.openFor = b.cfg.InitialRecoveryTimeout
	}
	b.openUntil = now.Add(b.openFor)
	ch := b.toLocked(Open, reason, now)
	ch.openFor = b.openFor
	return ch
}

// nextOpenForLocked is the open interval should a probe of this half-open period fail.
func (b *Breaker) nextOpenForLocked() time.Duration {
	longest := b.cfg.RecoveryTimeout
	if b.openFor <= 0 {
		return b.cfg.InitialRecoveryTimeout
	}
	next := float64(b.openFor) * b.cfg.RecoveryMultiplier
	if next >= float64(longest) {
		return longest
	}
	return time.Duration(next)
}

// addDurations returns a+b, for a and b not negative, at most the longest Duration.
func addDurations(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// tickLocked makes the lazy transitions that time alone decides, queues them (queueLocked) and
// reports whether the caller is to send the queue: half-open → open once every probe slot has
// been taken for HalfOpenMaxWait with no probe reporting (as after a failed probe: for the
// next, longer interval), and open → half-open once the open interval has passed. The first is
// made as of the wait's end, whenever it is looked at, so that the next interval runs from
// then (as a refused caller was told) and may have passed too: then the second follows.
func (b *Breaker) tickLocked(now time.Time) (send bool) {
	if b.state == HalfOpen && b.probes >= b.cfg.HalfOpenMaxCalls && !now.Before(b.probeWaitEnds) {
		send = b.queueLocked(b.openAtLocked(ReasonHalfOpenMaxWait, b.probeWaitEnds))
	}
	if b.state == Open && !now.Before(b.openUntil) {
		send = b.queueLocked(b.toLocked(HalfOpen, ReasonRecoveryTimeout, now)) || send
	}
	return send
}

// toLocked moves the breaker to state to, starting a new generation: outcomes of calls admitted
// before are dropped. at is the time of the change (zero: read the clock).
func (b *Breaker) toLocked(to State, reason string, at time.Time) change {
	if at.IsZero() && b.sink != nil {
		// Read before anything changes: a clock that panics (see nowLocked) leaves the breaker
		// as it was, not changed with no BreakerStateChanged event to tell of it.
		at = b.nowLocked()
	}
	from := b.state
	b.state = to
	b.gen++
	b.stats.StateChanges++
	b.probes, b.probeOK = 0, 0
	if to == Closed || to == Disabled {
		b.consecFails = 0
		b.win.reset()
	}
	b.publishLocked()
	if b.sink == nil {
		return change{from: from, to: to, reason: reason}
	}
	b.lastChange = at
	return change{from: from, to: to, reason: reason, at: at}
}

// nowLocked reads the breaker's clock while b.mu is held. Should the clock panic (a Clock of
// the program's with a bug), the lock is let go as the panic goes on, unrecovered and
// unchanged: held, it would stop every later call of the breaker (Allow, a probe's report) and
// every reading of its state or levels, for good. The caller holds the lock without a deferred
// Unlock (which would then unlock it twice), and has changed nothing it must undo.
func (b *Breaker) nowLocked() time.Time {
	read := false
	defer func() {
		if !read {
			b.mu.Unlock()
		}
	}()
	now := b.clock.Now()
	read = true
	return now
}

// LastChange returns the Time of the BreakerStateChanged event of the breaker's last state
// change, sent or queued for its observer (WithObserver): the zero time for a breaker without
// an observer, or that has not changed state. A suite's Close retires its breakers at it (see
// observe.Retired). It reads no clock and changes no state.
func (b *Breaker) LastChange() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastChange
}

func (b *Breaker) publishLocked() {
	b.word.Store(b.gen<<stateBits | uint64(b.state))
}

// maxQueuedChanges bounds the state changes a breaker keeps while its sink is busy with an
// earlier one (see changeQueue.push).
const maxQueuedChanges = 16

// changeQueue holds the state changes made and not yet sent to the sink, oldest first, in a
// ring made on the first change of a breaker with a sink and reused; and whether a goroutine is
// sending them (Breaker.emitQueued).
type changeQueue struct {
	ring    *[maxQueuedChanges]change
	head    int // The oldest.
	n       int
	sending bool
}

// push adds c, the change made after every change queued (c.from is the newest's to), and
// reports whether the caller is to send the queue: no other goroutine is sending it.
//
// With the ring full (a sink held in Observe) it folds c into the newest change instead
// (change.then): that one then leads from its own from to c's to, with c's reason, time and
// open interval; should it lead back where it came from, the two cancel out and both are
// folded into the one before, which leads to c's to already. Either way the queue stays a
// chain that ends in the breaker's state, and the transitions to open folded away are counted
// in the change that stands for them (trips, reopens), so that the sink can count every open.
func (q *changeQueue) push(c change) (send bool) {
	if q.ring == nil {
		q.ring = new([maxQueuedChanges]change)
	}
	c.lastFrom = c.from
	if q.n < maxQueuedChanges {
		q.ring[(q.head+q.n)%maxQueuedChanges] = c
		q.n++
	} else {
		newest := &q.ring[(q.head+q.n-1)%maxQueuedChanges]
		if newest.from == c.to {
			q.n--
			cancelled := *newest
			newest = &q.ring[(q.head+q.n-1)%maxQueuedChanges]
			newest.then(cancelled)
		}
		newest.then(c)
	}
	send = !q.sending
	q.sending = true
	return send
}

// pop removes and returns the oldest change; with none left, the sending is over.
func (q *changeQueue) pop() (change, bool) {
	if q.n == 0 {
		q.sending = false
		return change{}, false
	}
	c := q.ring[q.head]
	q.head = (q.head + 1) % maxQueuedChanges
	q.n--
	return c, true
}

// queueLocked queues c, when it is a change and there is a sink, and reports whether the
// caller is to send the queue (emitQueued) once it releases the lock: no other goroutine is
// sending it. The changes are queued in the order they are made, under the lock, and one
// goroutine at a time sends them, so the sink gets them in that order; the sink is never called
// under the lock, and a sink that calls back into the breaker from Observe (State, Stats, Reset)
// only queues the changes it makes, for the goroutine sending to send next. Their times never
// go back either: each is read under the lock, but for the changes that time alone decides
// (tickLocked), timed at or past a deadline set with or after the change before.
func (b *Breaker) queueLocked(c change) bool {
	if c.reason == "" || b.sink == nil {
		return false
	}
	return b.changes.push(c)
}

// unlockSend releases the lock and, when send is set (queueLocked, tickLocked), sends the
// queued changes.
func (b *Breaker) unlockSend(send bool) {
	b.mu.Unlock()
	if send {
		b.emitQueued()
	}
}

// emitQueued sends the queued changes, oldest first, until none is left; the caller took the
// sending over in queueLocked, and gives it up here. Changes queued meanwhile, by other
// goroutines or by the sink itself, are sent in turn.
func (b *Breaker) emitQueued() {
	for {
		b.mu.Lock()
		c, ok := b.changes.pop()
		b.mu.Unlock()
		if !ok {
			return
		}
		b.emitNext(c)
	}
}

// emitNext sends c, taken from the queue. Should the sink panic (a sink's bug) or end the
// goroutine, the changes still queued are sent all the same, from a deferred call, and the panic
// then goes on with its own stack, as observe.Multi passes an event on past a sink that panics:
// the sending is given up only with an empty queue, so no change waits for the next one.
func (b *Breaker) emitNext(c change) {
	sent := false
	defer func() {
		if !sent {
			b.emitQueued()
		}
	}()
	b.emitChange(c)
	sent = true
}

// emitChange sends a state-change event, outside the lock.
func (b *Breaker) emitChange(c change) {
	b.sink.Observe(observe.Event{
		Kind: observe.BreakerStateChanged, Instance: b.instance, Time: c.at, Service: b.service, Method: b.method,
		Policy: observe.PolicyBreaker, From: c.from.String(), To: c.to.String(), Reason: c.reason,
		Delay: c.openFor, LastFrom: c.lastFromOf(), FoldedTrips: c.trips, FoldedReopens: c.reopens,
	})
}

// emitAdmitted is emitQueued for a call that Allow admits as it makes a change: the turn to
// half-open, of which p is the first probe. Should an event panic (a sink's bug) on the
// admitted caller's goroutine, p goes back as a call that counts as neither as the panic goes
// on, since its caller never gets it: else the breaker would stay half-open with a probe that
// never ends, and refuse every call.
func (b *Breaker) emitAdmitted(p Permit) {
	sent := false
	defer func() {
		if !sent {
			p.Record(codes.Canceled)
		}
	}()
	b.emitQueued()
	sent = true
}

// State returns the breaker's state, making the open → half-open (or half-open → open, when
// the probes have held every slot for HalfOpenMaxWait) transition if it is due.
func (b *Breaker) State() State {
	w := b.word.Load()
	if s := State(w & (1<<stateBits - 1)); s != Open && s != HalfOpen {
		return s
	}
	now := b.clock.Now()
	b.mu.Lock()
	send := b.tickLocked(now)
	s := b.state
	b.unlockSend(send)
	return s
}

// Stats returns a snapshot of the breaker's counters, making the transition State makes if it
// is due.
func (b *Breaker) Stats() Stats {
	now := b.clock.Now()
	b.mu.Lock()
	send := b.tickLocked(now)
	if b.win.buckets != nil {
		b.win.advance(now.Sub(b.origin))
	}
	s := b.stats
	s.State = b.state
	s.ConsecutiveFailures = b.consecFails
	s.WindowCalls, s.WindowFailures, s.WindowSlowCalls = b.win.calls, b.win.failures, b.win.slow
	b.unlockSend(send)
	return s
}

// ForceOpen rejects every call from now on, until Reset or Disable.
func (b *Breaker) ForceOpen() { b.operate(ForcedOpen, ReasonForcedOpen) }

// Disable admits every call and counts nothing from now on, until Reset or ForceOpen.
func (b *Breaker) Disable() { b.operate(Disabled, ReasonDisabled) }

// Reset closes the breaker and clears its counters and Stats, its window and its run of
// failures. Outcomes of calls admitted before are dropped. From any other state it makes one
// change, to closed with ReasonReset (one BreakerStateChanged event); a closed breaker changes
// no state and sends no event.
func (b *Breaker) Reset() {
	b.mu.Lock()
	from := b.state
	var ch change
	if from != Closed {
		ch = b.toLocked(Closed, ReasonReset, time.Time{})
	} else {
		b.gen++ // Calls in flight belong to the counts being cleared.
		b.consecFails = 0
		b.win.reset()
		b.publishLocked()
	}
	b.stats = Stats{}
	b.unlockSend(b.queueLocked(ch))
}

func (b *Breaker) operate(to State, reason string) {
	b.mu.Lock()
	var ch change
	if b.state != to {
		ch = b.toLocked(to, reason, time.Time{})
	}
	b.unlockSend(b.queueLocked(ch))
}

// Execute runs fn if the breaker admits it and reports fn's error as Permit.Done does. It
// returns the rejection without calling fn when the breaker refuses. If fn panics, the outcome
// is counted as neither success nor failure (a half-open probe's slot is returned) and the panic
// goes on.
func (b *Breaker) Execute(fn func() error) error {
	p, err := b.Allow()
	if err != nil {
		return err
	}
	finished := false
	defer func() {
		if !finished {
			p.Record(codes.Canceled)
		}
	}()
	err = fn()
	finished = true
	p.Done(err)
	return err
}
