package interceptors

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/internal/front"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/objcache"
	"github.com/bulwarkrpc/bulwark/internal/runall"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Suite holds the policies of every service a configuration names and serves them as client
// interceptors. Build it with New; it is safe for concurrent use.
//
// What a suite keeps is bounded by its configuration, the registered descriptors and its
// options, whatever names calls bring: the chains and objects of method names and services
// outside them are bounded by WithUnlistedLimit; past it, their calls share overflow chains.
type Suite struct {
	o     options
	clk   clock.Clock
	state atomic.Pointer[state]

	mu   sync.Mutex                    // serialises building chains and reloads.
	objs objcache.Cache[section.Built] // Guarded by mu: policy objects, kept across reloads while unchanged.
	// closing: Close began; nothing is built any more, and Reload is refused. closed: Close
	// sent its Retired events; Levels reads nothing and Closed reports true. Guarded by mu.
	closing, closed bool
	// retiring holds, for each reload sending its Retired events, the level sources it
	// removed from objs: Levels reads them until their events are sent (see Reload).
	retiring []*[]observe.LevelSource // Guarded by mu.
	// sending counts the reloads sending their Retired and BreakerPublished events, and the
	// first calls sending the events their builds queued (see unlockAnnounce); a Close that comes meanwhile leaves
	// its own in closeQueued, for the last of them to send after theirs (see Close).
	sending     int          // Guarded by mu.
	closeQueued *queuedClose // Guarded by mu.
	// origins holds, for the objects in objs, the full method of a chain that last took each:
	// where a section names its objects otherwise than after a service or a full method
	// (section.Spec.Name), a reload finds there a chain that may use one still (see mayUse).
	origins map[objcache.Key]string // Guarded by mu.
	// announced holds, for the breakers in objs, the breaker the suite last sent a
	// BreakerPublished of under each key; toAnnounce the breakers a build published whose
	// events are still to be sent, after s.mu is let go (see announceLocked). Guarded by mu.
	announced  map[objcache.Key]*breaker.Breaker
	toAnnounce []*breaker.Breaker
	// toRetire are the breakers a chain built on a first call replaced in objs and the suite
	// is to retire (see buildLocked), once s.mu is let go, before it announces toAnnounce.
	// Guarded by mu.
	toRetire []retiredBreaker

	unlisted unlisted // the unlisted names and services given chains of their own (see chain)
	// targets are the full methods and services WithFallback gives replies for, and the
	// services of those methods: they are listed (see listed).
	targets map[string]bool
	// otherValues are the option values (section.Env.Values) of the suite's overflow chain:
	// those of every chain but WithFallback's replies. The chain serves services outside the
	// configuration, which no reply names: a reply for "*" or "/*/*" is for the service "*".
	otherValues map[reflect.Type]any

	beforeBuild func() // test hook: runs when a call misses the chain cache, before s.mu.
	afterCheck  func() // test hook: runs in Reload after each checkAdmitted, before s.mu.
	// sharedWait is a test hook: it runs when the suite is about to wait for the build lock of
	// a breaker registry it shares (see lockShared), which another suite holds.
	sharedWait func()
	// givenBreakers is the breaker registry WithBreakerRegistry gave, nil for the suite's
	// own: one other suites may share, whose breakers a reload does not report retired.
	givenBreakers *breaker.Registry
	// breakerUser is the suite as a user of its breaker registry (breaker.User): it holds the
	// breakers its configuration in force uses, and releases them when a reload stops using
	// them, or at Close.
	breakerUser *breaker.User
}

// state is one configuration's chains. It never changes once published, except for its cache
// of chains, which fills as methods are first called.
type state struct {
	cfg    *config.Config
	chains sync.Map // full method → *chain
	// shared holds, by service, the one chain of the service's methods that have no entry of
	// their own in cfg (see chain): however many such names calls bring, they cost one chain.
	// It also holds the overflow chains of a service's names past the suite's bound on
	// unlisted names (see chain).
	shared sync.Map // service → *chain
	// other is the suite's overflow chain (see chain), nil until built. It is apart from
	// shared, whose keys are the services calls name, any of which may be otherService.
	other atomic.Pointer[chain]
	// front finds chains' entries by the address of the method name a call brings (the
	// generated client's constant), without hashing the name or walking the map.
	front front.Table[chain]
	// held holds, for each object a chain of this state took, a chain that took it and the
	// fingerprint it took it with: a chain built later under this state (on a first call)
	// that names the object with another is refused, as a chain of one build is, instead of
	// replacing the object under the chains in force. Guarded by Suite.mu.
	held map[objcache.Key]holding
}

// holding is a chain's hold on an object (see state.held).
type holding struct {
	fullMethod string
	fp         objcache.Fingerprint
}

// otherMethod is the method name a service's shared chain is built for: no method entry can
// have it, as it is not an identifier.
const otherMethod = "*"

// otherService is the service the suite's overflow chain is built for (see chain), "/*/*":
// no service entry can have it, and it resolves as every service outside the configuration.
// A call may still name it ("/*/Foo"): that service is a service outside the configuration as
// any other, with chains of its own (within the bound), which share the objects of the
// suite's overflow chain, named after it, and not its chain.
const otherService = "*"

// otherKey is the full method of the suite's overflow chain, "/*/*".
const otherKey = "/" + otherService + "/" + otherMethod

// overflowSink is the sink of the suite's overflow chain (see chain) and of the objects named
// after it: it names every event the service "*" and, where the event names a method, the
// method "/*/*", whatever service and method the call named, so that every event of such a
// call names the same service and method, and what is labelled by them (a metric's series)
// stays bounded by the suite's bound on unlisted names whatever names calls bring. A
// CalledSink is told the method the call named (observe.ObserveCalled), for a log line.
type overflowSink struct{ s observe.Sink }

// overflow returns s as overflowSink, or nil for a nil s: no sink, no events.
func overflow(s observe.Sink) observe.Sink {
	if s == nil {
		return nil
	}
	return overflowSink{s}
}

// Observe renames e (see overflowSink) and passes it on.
func (o overflowSink) Observe(e observe.Event) {
	called := e.Method
	e.Service = otherService
	if e.Method != "" {
		e.Method = otherKey
	}
	observe.ObserveCalled(o.s, e, called)
}

// callSink returns cs, a call's sink (observe.WithCallSink), as c's calls send it their events:
// through callerNames on the suite's overflow chain.
func (c *chain) callSink(cs observe.Sink) observe.Sink {
	if c.other {
		return callerNames{cs}
	}
	return cs
}

// callerNames is the call sink of a call through the suite's overflow chain: it names every
// event of the call the call's own service, the service of the method the call named, where
// the chain names some of them (CallFinished, an attempt without an attempt loop) the service
// "*" it was built for. A call sink sees one call, and labels nothing by its names (a tracer's
// span): it is told the names the call brought, and all its events name them alike. The
// Rejected of a hedge a policy below refused does not pass it: the hedging policy sends it to
// the call's sink alone, under the refusing object's service, "*", by which a tracer finds
// that breaker's state (otelobs).
type callerNames struct{ s observe.Sink }

// Observe names e after the call (see callerNames) and passes it on.
func (c callerNames) Observe(e observe.Event) {
	if e.Method != "" {
		e.Service = grpcmethod.Service(e.Method)
	}
	c.s.Observe(e)
}

// unlisted holds what state.chain admitted to chains of their own within the suite's bound on
// unlisted names (WithUnlistedLimit): unlisted full methods of services whose policy has a
// part per method, and unlisted services. They are kept for the suite's life: their objects
// outlive reloads (Reload keeps an object while a configuration may use it), so a bound
// counted afresh on each reload would let another bound's worth of objects in each time.
type unlisted struct {
	methods  sync.Map    // full method → struct{}
	services sync.Map    // service → struct{}
	n        int         // Guarded by Suite.mu: entries in methods and services.
	limit    int         // the bound (WithUnlistedLimit)
	full     atomic.Bool // n reached limit: nothing more is admitted (written under Suite.mu)
}

// admitLocked reports whether key (of m, methods or services) has a chain of its own: it had
// one, or it takes one now, within the bound. A key longer than grpcmethod.MaxKeptName takes
// none, as a key past the bound: a :path may be megabytes long, and what a suite keeps of the
// names it admits is bounded by their number alone. Suite.mu must be held.
func (u *unlisted) admitLocked(m *sync.Map, key string) bool {
	if _, ok := m.Load(key); ok {
		return true
	}
	if u.n >= u.limit {
		u.full.Store(true)
		return false
	}
	if !grpcmethod.Keepable(key) {
		return false
	}
	m.Store(key, struct{}{})
	u.n++
	if u.n >= u.limit {
		u.full.Store(true)
	}
	return true
}

// has reports whether the service or the full method has a chain of its own.
func (u *unlisted) has(service, fullMethod string) bool {
	if _, ok := u.services.Load(service); ok {
		return true
	}
	return u.hasMethod(fullMethod)
}

// hasMethod reports whether the full method was admitted: of a service whose policy has a
// part per method, the one way for an unlisted name to have a chain of its own.
func (u *unlisted) hasMethod(fullMethod string) bool {
	_, ok := u.methods.Load(fullMethod)
	return ok
}

// chain is the composed policies of one full method.
type chain struct {
	// The fields every unary call reads come first, in the first 64 bytes, and the struct's
	// size is a multiple of 64 (its size class then starts every object on a cache line): a
	// cold call misses one line of them (TestChainHotFieldsShareALine).

	method string // the full method it was built for ("/svc/*" for a service's shared chain)
	uc     *unaryChain
	// quiet, when sink records a first attempt's success in one call (fastobs.SuccessRecorder)
	// and the chain is run direct (unaryChain.gated), is sink for the attempt loop on the fused
	// path (see Suite.fused); else nil.
	quiet *fastobs.Quiet
	sink  observe.Sink // the suite's sink scoped to the chain (observe.ForMethod)
	err   error        // the chain could not be built; calls fail with it

	policy     config.Policy
	classifier *codes.Classifier
	sc         *streamChain
	callSinks  []func(observe.Sink) grpc.CallOption // see section.Spec.CallSink
	// hedged: a hedging policy in the chain reports the attempts of the calls it hedges
	// itself. Without an attempt loop, the suite then passes an attempt.Round to learn
	// whether it did, and reports the call's one attempt only when it did not.
	hedged bool
	// overflow: the chain serves the names of a service that are not admitted (see chain):
	// "/<service>/*" of a service whose policy has a part per method, or "/*/*".
	overflow bool
	// other: the chain is the suite's overflow chain, whose sink names every event after it
	// (overflowSink); a call sink is told the call's own names (see callerNames).
	other bool
	// desc is the registered descriptor of the service whose overflow chain this is, if any:
	// the names it declares are listed, and pass the overflow chain by (see passedBy).
	desc protoreflect.ServiceDescriptor
	_    [chainPad]byte
}

// chainPad rounds chain up to 320 bytes, a size class whose objects start on cache lines (see
// chain; TestChainHotFieldsShareALine checks it).
const chainPad = 48

// passedBy reports whether a call of fullMethod, a name of the service whose overflow chain c
// is (see chain), has a chain of its own instead: it was admitted, or it is listed (a name
// WithFallback gives a reply for, or one c's service's registered descriptor declares), or it
// may still be admitted (the bound is not reached: c serves the names too long to be kept).
func (s *Suite) passedBy(c *chain, fullMethod string) bool {
	if s.unlisted.hasMethod(fullMethod) || s.targets[fullMethod] {
		return true
	}
	if !s.unlisted.full.Load() && grpcmethod.Keepable(fullMethod) {
		return true
	}
	return declares(c.desc, fullMethod)
}

// New builds a suite from cfg (nil means config.Builtin()). It builds at once the chains of
// every method of every service cfg names whose descriptor is registered, so that their
// breakers and bulkheads exist (for metrics) before the first call; other methods are built on
// their first call (see WithUnlistedLimit for those outside the configuration and the
// registered descriptors). An option given an invalid value is an error; a nil option is
// ignored.
func New(cfg *config.Config, opts ...Option) (*Suite, error) {
	s := &Suite{}
	for _, o := range opts {
		if o != nil {
			o.apply(&s.o)
		}
	}
	if err := errors.Join(s.o.errs...); err != nil {
		return nil, fmt.Errorf("bulwark: invalid option: %w", err)
	}
	s.clk = clock.OrReal(s.o.clock)
	s.unlisted.limit = DefaultUnlistedLimit
	if s.o.unlistedSet {
		s.unlisted.limit = s.o.unlistedLimit
	}
	s.unlisted.full.Store(s.unlisted.limit == 0)
	s.targets = map[string]bool{}
	if rs, ok := value[fallback.Replies](&s.o); ok {
		// A copy, which the checks below and the chains' builds read: a map given by
		// WithValue is the caller's, who may change it after New (for another suite).
		rs = maps.Clone(rs)
		setValue(&s.o, rs)
		// WithFallback checked its own targets and replies; these may come from WithValue.
		var errs []error
		const option = "WithValue(fallback.Replies)"
		for _, t := range slices.Sorted(maps.Keys(rs)) {
			errs = append(errs, checkFallback(option, t, rs[t]))
		}
		// The replies for whole services are checked against the methods each serves, which
		// the configuration tells: by Reload.
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("bulwark: invalid option: %w", err)
		}
		for t := range rs {
			s.targets[t] = true
			if strings.HasPrefix(t, "/") {
				s.targets[grpcmethod.Service(t)] = true
			}
		}
	}
	// Special wiring: each suite has registries of its own unless given some, a breaker
	// registry because Breakers returns it, a limiter registry because its buckets are
	// shared between the suite's chains (rate_limit.shared) and need the suite's clock. A nil
	// registry given is none given.
	// The suite is a user of its breaker registry of its own, so that a reload that would
	// replace a breaker another suite holds is refused (see breaker.Registry).
	br, _ := value[*breaker.Registry](&s.o)
	if br == nil {
		br = &breaker.Registry{}
		setValue(&s.o, br)
	} else {
		s.givenBreakers = br
	}
	s.breakerUser = br.User()
	setValue(&s.o, s.breakerUser)
	if r, _ := value[*ratelimit.Registry](&s.o); r == nil {
		setValue(&s.o, ratelimit.NewRegistry(ratelimit.WithClock(s.clk)))
	} else {
		// A user of its own (its configuration is the suite's), so that the suites sharing r
		// reload apart.
		setValue(&s.o, r.User())
	}
	s.otherValues = maps.Clone(s.o.values)
	delete(s.otherValues, reflect.TypeFor[fallback.Replies]())
	if err := s.Reload(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload applies cfg (nil means config.Builtin()) atomically. Calls in flight keep the policies
// they started with. Policy objects whose settings did not change are kept, with their state.
// A configuration rejected for its content changes nothing: one Validate refuses, or one with a
// services key that is a registered method's dotted name (config.Config.CheckMethodKeys).
// Once it took effect, a reload sends the observe.Retired of each level object it retired,
// then the BreakerPublished of each breaker it put in service: should the sink panic on one of
// these events (a sink's bug), the others are sent all the same, and the first panic then goes
// on, to Reload's caller (see reportRetired and announce).
func (s *Suite) Reload(cfg *config.Config) error {
	// Checked again under s.mu before anything is published: Close may come in between.
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return ErrClosed
	}
	if cfg == nil {
		cfg = config.Builtin()
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("bulwark: invalid configuration: %w", err)
	}
	if err := cfg.CheckMethodKeys("", registeredMethod); err != nil {
		return fmt.Errorf("bulwark: invalid configuration: %w", err)
	}
	// The replies for whole services, against the methods each serves under cfg: a check of
	// them all together (WithFallback's checks saw one at a time), which also covers the
	// services whose chains are built on a first call.
	if rs, ok := value[fallback.Replies](&s.o); ok {
		if err := checkServiceMessages(rs, s.o.fallbackOption, cfg); err != nil {
			return fmt.Errorf("bulwark: invalid option for this configuration: %w", err)
		}
	}
	// From here until the reload is published (or refused), the suite holds the build lock of
	// a breaker registry it shares: what it checks against the registry does not change under
	// it (see lockShared). checkReload returns with s.mu held too.
	st, ps, err := s.checkReload(cfg)
	if err != nil {
		return err
	}
	// Deferred before the unlock, so that it runs after it: the retired objects' levels are
	// read, and their events sent, outside s.mu, as Levels reads them. Their Time is at, when
	// the reload took effect (read under s.mu before st is published): a call that goes
	// through a replacement loads st after that reading, so its events are later, and an
	// observer tells them from the retired object's (see observe.Retired).
	// The objects it removes from the cache (removed), which Levels no longer finds there, are
	// read by Levels (s.retiring) until their events are sent: a consumer of the suite's
	// levels (promobs' Scrape) never finds one gone with its Retired event still to come,
	// when its last event would stand in for it.
	var (
		retired []observe.LevelSource
		removed = new([]observe.LevelSource)
		at      time.Time
	)
	// counted: the reload counts among those sending (s.sending), so that a Close that comes
	// before its events (Retired, BreakerPublished) are sent leaves its own to follow them
	// (see Close). They count as sent (sent) only once the last of them is: should the sink
	// panic on any (a sink's bug), the Close's are not sent to it, as after a first call's
	// (see unlockAnnounce), and the suite is reported closed all the same.
	counted := false
	// published: the breakers this reload put in service (see observe.BreakerPublished),
	// announced after the Retired events, so that an observer that keeps states by name
	// learns a replacement's after it dropped the old one's.
	var published []*breaker.Breaker
	defer func() {
		sent := false
		defer func() { s.retiredSent(removed, counted, sent) }()
		// Before retiredSent, which may finish a Close that came meanwhile: its Retired
		// events, of these breakers too, come after.
		s.reportAnnounce(retired, at, published)
		sent = true
	}()
	// Both let go before the events are sent: a sink may call back into this suite or
	// another that shares the registry.
	defer s.unlockShared() // taken by checkReload
	defer s.mu.Unlock()    // taken by lockChecked
	defer func() { published = s.takeAnnouncedLocked() }()
	if s.closing {
		return ErrClosed
	}
	// Special wiring: a shared token bucket whose settings this configuration changed is
	// replaced, not refused as configured twice (ratelimit.Registry.Reconfigure). After a
	// rejected configuration, Reconfigure again: what it asked for does not count as asked for
	// by the configuration in force, whose chains built on a first call may still ask.
	limiters, _ := value[*ratelimit.Registry](&s.o)
	limiters.Reconfigure()
	// The objects with levels before the reload: one the reload replaces under its name is
	// retired too, so that an observer drops the state it kept of the old one.
	before := map[objcache.Key]section.Built{}
	s.objs.Each(func(k objcache.Key, b section.Built) bool {
		if _, level := b.Object.(observe.LevelSource); level {
			before[k] = b
		}
		return true
	})
	t := s.beginLocked(st)
	defer func() {
		if t.abandoned() { // an error, or a Build that panicked
			limiters.Reconfigure()
		}
	}()
	for _, p := range ps {
		c := s.finishLocked(p, t)
		if c.err != nil {
			return c.err
		}
		st.chains.Store(p.fullMethod, c)
	}
	s.commitLocked(t)
	// A suite sharing a registry may retire breakers other suites made, whose Retired goes to
	// their makers' observers (see reportRetired), with or without a sink of its own.
	reports := s.o.sink != nil || s.givenBreakers != nil
	if reports {
		at = s.clk.Now()
	}
	s.state.Store(st)
	// Forgotten: the objects no chain under st can use, and the objects Levels reads that a
	// chain under st would replace (their settings changed): a chain built on a first call,
	// which this reload did not rebuild, takes its new one at its next build, and until then
	// Levels would read the old one.
	drop := map[objcache.Key]bool{}
	s.objs.Each(func(k objcache.Key, b section.Built) bool {
		if old, ok := before[k]; ok && !sameObject(old.Object, b.Object) && s.retiresLocked(k, old, false) {
			retired = append(retired, old.Object.(observe.LevelSource))
		}
		src, level := b.Object.(observe.LevelSource)
		if _, took := st.held[k]; took {
			// A chain of st took it, with the fingerprint it is cached under: not to be read
			// from its name, which a section's own Name (section.Spec.Name) may give an
			// object that no service or method is named after, and which may read as the
			// name of a service outside the configuration, of another policy.
			return true
		}
		if mp, ok := st.mayUse(k, s.origins[k]); ok && (!level || s.holdsLocked(st, k, mp)) {
			return true
		}
		drop[k] = true
		delete(s.origins, k)
		delete(s.announced, k)
		// No chain under st uses it: another suite may change a breaker (a chain built on a
		// first call that takes the name again holds it again); its hold is let go with the
		// answer whether to retire it.
		if s.retiresLocked(k, b, true) && level {
			retired = append(retired, src)
			*removed = append(*removed, src)
		}
		return true
	})
	s.objs.Prune(func(k objcache.Key) bool { return !drop[k] })
	if len(*removed) > 0 && reports {
		s.retiring = append(s.retiring, removed)
	}
	// Also a reload that retires nothing but publishes breakers (announced after s.mu is let
	// go): a Close's Retired events, and the suite reported closed, come after them.
	if (len(retired) > 0 && reports) || len(s.toAnnounce) > 0 {
		s.sending++
		counted = true
	}
	return nil
}

// checkReload is the part of Reload that checks cfg whole before anything is published, and
// the chains it builds prepared (see prepare). It takes the build lock of a breaker registry
// the suite shares (lockShared) first, and returns with it and s.mu held (see lockChecked),
// or, on error or panic, with neither.
func (s *Suite) checkReload(cfg *config.Config) (st *state, ps []*prepared, err error) {
	s.lockShared()
	held := false
	defer func() {
		if !held {
			s.unlockShared()
		}
	}()
	st = &state{cfg: cfg.Clone()}
	// First every chain's stateless steps, which is where a configuration that passed
	// Validate most often fails (a fallback reply that does not fit its method), outside s.mu.
	// Then, under it, every chain's stateful objects (breakers, bulkheads, limiters, retry
	// budgets), in one build (txn) that publishes them, and the registries' changes, only when
	// every chain is built: one that fails for a reason no check could see (a fleet-wide
	// limiter's factory returns an error) rolls the build back, and the cache, the breaker
	// registry and the limiter registry stay as they were.
	for _, svc := range st.cfg.ServiceNames() {
		for _, m := range methodsOf(st.cfg, svc) {
			p := s.prepare(st.cfg, "/"+svc+"/"+m, false)
			if p.c.err != nil {
				return nil, nil, p.c.err
			}
			ps = append(ps, p)
		}
	}
	// The chains built on a first call (see chain), of a configured service's methods without
	// chains of their own and of services outside the configuration, are checked too: a
	// configuration that their builds would refuse for a reason outside the sections' values
	// (section.Spec.Check: a fleet-wide limiter without its factory) is refused whole, as it is
	// for the chains built here, instead of failing every such call.
	for _, svc := range append(st.cfg.ServiceNames(), otherService) {
		if err := s.check(st.cfg, svc); err != nil {
			return nil, nil, err
		}
	}
	// And the objects the chains name, built here and on the first calls of the configured
	// services without descriptors: one given two settings would fail each call of those.
	if err := s.checkNamed(st.cfg, ps); err != nil {
		return nil, nil, err
	}
	// And the names admitted for chains of their own (see unlisted), where their objects'
	// names matter: a breaker shared with another suite (see checkAdmitted). lockChecked
	// returns with s.mu held, no name admitted since the check.
	if err := s.lockChecked(st.cfg); err != nil {
		return nil, nil, err
	}
	held = true
	return st, ps, nil
}

// lockShared takes the build lock of the breaker registry the suite shares with other suites
// (WithBreakerRegistry; breaker.User.LockBuilds), before s.mu: a reload holds it from its
// checks against the registry to its publish, and a first call's build around the build, so
// that another suite's reload or first call cannot take or replace a breaker between them.
// A suite with a registry of its own takes none. A call that finds its chain built takes
// neither lock.
func (s *Suite) lockShared() {
	if s.givenBreakers == nil {
		return
	}
	if !s.breakerUser.TryLockBuilds() {
		if s.sharedWait != nil {
			s.sharedWait()
		}
		s.breakerUser.LockBuilds()
	}
}

// unlockShared lets go what lockShared took.
func (s *Suite) unlockShared() {
	if s.givenBreakers != nil {
		s.breakerUser.UnlockBuilds()
	}
}

// queuedClose is what a Close left to the reloads and first calls sending their events when it
// came (see Close): its own Retired events, to send after theirs.
type queuedClose struct {
	retired []observe.LevelSource
	at      time.Time
}

// retiredSent runs once a reload has sent its Retired and BreakerPublished events, or a first
// call the events its build queued (see unlockAnnounce), (sent: all of them), or once either
// gave up sending them (the sink panicked on one): Levels no longer reads the level sources a
// reload removed (see Reload; removed is nil for a first call), and, where it counted among
// those sending (counted) and is the last of them, a Close that came meanwhile is finished:
// its Retired events sent after theirs (only when all of theirs were: they do not follow a
// panic of the sink), then the suite reported closed.
func (s *Suite) retiredSent(removed *[]observe.LevelSource, counted, sent bool) {
	s.mu.Lock()
	if i := slices.Index(s.retiring, removed); i >= 0 {
		s.retiring = slices.Delete(s.retiring, i, i+1)
	}
	var q *queuedClose
	if counted {
		if s.sending--; s.sending == 0 {
			q, s.closeQueued = s.closeQueued, nil
		}
	}
	s.mu.Unlock()
	if q == nil {
		return
	}
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closed = true
	}()
	if sent {
		s.reportRetired(q.retired, q.at, true)
	}
}

// holdsLocked reports whether the object cached under k is one a chain of policy mp (which
// mayUse returned) would get: the fingerprint it was built from has the section's value, and
// the classifier and budget where the object uses them, as mp resolves them (the service's
// classifier for an object that classifies for its service, see config.Policy.ServiceClassified). The shared
// objects it captures (Deps), which only a build can tell, count as unchanged. An object whose
// value changed only in settings it takes in place (section.Spec.Retune) is given them, and
// held. s.mu must be held.
func (s *Suite) holdsLocked(st *state, k objcache.Key, mp config.Policy) bool {
	fp, ok := s.objs.Fingerprint(k)
	sec, found := section.Lookup(k.Section)
	if !ok || !found {
		return true
	}
	v := mp.Value(k.Section)
	want := fingerprint(sec, v, mp, st.cfg.ResolveService(mp.Service), fp.Deps)
	if fp.Same(want, valuesEqual(sec)) {
		return true
	}
	// Settings the object takes in place (section.Spec.Retune, the bulkhead's max_wait): it
	// is given them now, and kept with its state.
	return s.objs.Retune(k, want, valuesEqual(sec), retuner(sec, v))
}

// policyOf is the policy in force under st for the name of an object: a full method's
// ("/pkg.Service/Method") or a service's.
func (st *state) policyOf(name string) config.Policy {
	if strings.HasPrefix(name, "/") {
		return st.cfg.Resolve(name)
	}
	return st.cfg.ResolveService(name)
}

// retiresLocked reports whether the suite, which no longer calls through the object b, cached
// under k, is to retire it (send its observe.Retired): any object but a breaker that a
// registry given by WithBreakerRegistry, which other suites may share, still holds under its
// name or that another suite sharing it still holds (see breaker.User.LetGo). Such a breaker
// is not retired: another suite's calls may go through it, and its events (which go to the
// sink of the suite that made it) are still its state; the registry, or the last suite that
// holds it, retires it. With release, the suite's hold of a breaker's name is let go too, in
// the same step. s.mu must be held.
func (s *Suite) retiresLocked(k objcache.Key, b section.Built, release bool) bool {
	br, ok := b.Object.(*breaker.Breaker)
	if !ok || s.breakerUser == nil {
		return true
	}
	if s.givenBreakers == nil { // the suite's own registry, which no one else replaces from
		if release {
			s.breakerUser.Release(k.Name)
		}
		return true
	}
	return s.breakerUser.LetGo(k.Name, br, release)
}

// sameObject reports whether a and b are the same policy object (the built-in sections'
// objects are pointers). Objects of a type that cannot be compared (a section's own) count as
// the same: such an object is not reported retired when replaced.
func sameObject(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = true
		}
	}()
	return a == b
}

// reportRetired sends an observe.Retired for each of the level sources a reload or Close
// retired: a breaker's to the breaker's own observer (breaker.Breaker.Retire, once per
// breaker), which is the suite's sink for a breaker the suite made, and the observer of the
// suite (or registry) that made it for one the suite took from a registry it shares, whose
// BreakerPublished and changes that observer got; the others' to the suite's sink, named as
// their first level reading names them. The Time is at, when the reload took effect — or, for
// closed (Close), a breaker's at its last state change, and at the zero Time for a breaker
// that made none. A breaker whose last change is later than at (made since, as by the level
// reading that names it) is retired at that change. Should a sink panic on one of them (a
// sink's bug), the others are sent all the same (runall.For): an observer that keeps state by
// name (promobs) would otherwise keep the state of those objects, which the suite forgets, for
// ever. The first panic then goes on, to the caller of the reload or Close; one more on a later
// event is recovered and dropped, so that it neither hides the first nor stops the rest.
func (s *Suite) reportRetired(retired []observe.LevelSource, at time.Time, closed bool) {
	runall.For(retired, func(src observe.LevelSource) { s.reportOneRetired(src, at, closed) })
}

// reportOneRetired sends the observe.Retired of src (see reportRetired).
func (s *Suite) reportOneRetired(src observe.LevelSource, at time.Time, closed bool) {
	if br, ok := src.(*breaker.Breaker); ok {
		// A Close retires at the last change: a suite that replaces this one may exist
		// already, its breaker's events under the same name later than this one's last
		// change but earlier than the Close: retired at the Close, an observer would drop
		// the replacement's state too. One that made none has no state of its own events to
		// drop by Time (the zero Time drops none), but the state of its BreakerPublished,
		// which an observer drops by its Instance.
		if closed {
			br.Retire(time.Time{})
		} else {
			br.Retire(at)
		}
		return
	}
	if s.o.sink == nil {
		return
	}
	var l observe.Level
	read := false
	src.Levels(func(lv observe.Level) bool {
		l, read = lv, true
		return false
	})
	if read {
		s.o.sink.Observe(observe.Event{Kind: observe.Retired, Time: at, Service: l.Service, Method: l.Method, Policy: l.Policy})
	}
}

// announceLocked queues a BreakerPublished for each breaker that t, a build that commits,
// took and that the suite has not announced under its name (a reload keeps a breaker it does
// not replace: announced once, at the build that first took it), unless another user of a
// registry the suite shares made it: that breaker's events go to its maker's observer, not to
// the suite's, which would keep the state published, never changed. s.mu is held.
func (s *Suite) announceLocked(t *txn) {
	if s.o.sink == nil || len(t.breakers) == 0 {
		return
	}
	if s.announced == nil {
		s.announced = map[objcache.Key]*breaker.Breaker{}
	}
	for k, br := range t.breakers {
		if s.announced[k] != br {
			s.announced[k] = br
			if br.MadeBy(s.breakerUser) {
				s.toAnnounce = append(s.toAnnounce, br)
			}
		}
	}
}

// takeAnnouncedLocked returns the breakers queued by announceLocked and empties the queue, for
// the holder of s.mu to announce once it lets the lock go. s.mu is held.
func (s *Suite) takeAnnouncedLocked() []*breaker.Breaker {
	brs := s.toAnnounce
	s.toAnnounce = nil
	return brs
}

// unlockAnnounce lets s.mu go, and the registry's build lock (see lockShared), then announces
// the breakers the builds made under them queued: the sink is never called under either (it
// may call back into the suite, or into another suite sharing the registry). Where there are
// events to send, the first call counts among those sending (s.sending), as a reload does,
// from before it lets s.mu go until they are sent (see retiredSent): a Close that comes
// meanwhile sends its own Retired events after them, and the suite reports itself closed only
// then, so that a consumer that drops a closed suite (promobs' Scrape) gets no
// BreakerPublished of a suite it dropped, nor a breaker's Retired before its BreakerPublished.
func (s *Suite) unlockAnnounce() {
	brs, olds := s.takeAnnouncedLocked(), s.toRetire
	s.toRetire = nil
	counted := len(brs) > 0 || len(olds) > 0
	if counted {
		s.sending++
	}
	s.mu.Unlock()
	s.unlockShared()
	if !counted {
		s.announce(nil) // the Retired events of the breakers the registry let go (RetireReplaced)
		return
	}
	// Even should the sink panic (a sink's bug): counted no longer, and a Close that came
	// meanwhile finished (see retiredSent).
	sent := false
	defer func() { s.retiredSent(nil, true, sent) }()
	s.retireAnnounce(olds, brs)
	sent = true
}

// retireAnnounce sends the Retired events of olds, the breakers a first call's build replaced,
// then the BreakerPublished events of brs (see announce), which are sent also should a sink
// panic on a Retired (a sink's bug): as each of olds' Retired, whether or not one before it
// panicked (see reportRetired); the first panic then goes on, to the first call.
func (s *Suite) retireAnnounce(olds []retiredBreaker, brs []*breaker.Breaker) {
	defer s.announce(brs)
	runall.For(olds, func(old retiredBreaker) { old.br.Retire(old.at) })
}

// reportAnnounce sends the Retired events of retired, the level sources a reload retired at at
// (see reportRetired), then the BreakerPublished events of published, the breakers it put in
// service (see announce), which are sent also should a sink panic on a Retired (a sink's bug),
// as a first call's are (see retireAnnounce): the suite announces a breaker once, at the build
// that took it, and no later reload would.
func (s *Suite) reportAnnounce(retired []observe.LevelSource, at time.Time, published []*breaker.Breaker) {
	defer s.announce(published)
	s.reportRetired(retired, at, false)
}

// retiredBreaker is a breaker a chain built on a first call replaced, which the suite
// retires (see buildLocked), at at, when the build committed.
type retiredBreaker struct {
	br *breaker.Breaker
	at time.Time
}

// announce has each of brs, breakers the suite made (whose observer is the suite's sink), send
// its BreakerPublished (breaker.Breaker.Publish, which sends it once per breaker, named as its
// own events name it, with its state then). The Time is read before the state: a change of
// the breaker that the reading missed is later than it, and an observer that has that
// change's event already keeps it (see observe.BreakerPublished). First, the breakers the
// registry no longer holds since the suite's builds put theirs in their place, and that no
// suite holds, send their Retired (breaker.User.RetireReplaced), to their own observers: as
// the BreakerPublished events, not under the suite's locks, and before them. It runs once
// the suite let its lock and the registry's build lock go. Should a sink panic on one of these
// events (a sink's bug), the others are sent all the same (runall.Each): the suite announces a
// breaker once, at the build that took it, and no later build would. The first panic then goes
// on, to the caller; one more on a later event is recovered and dropped.
func (s *Suite) announce(brs []*breaker.Breaker) {
	if len(brs) == 0 { // a first call that made no breaker: nothing more to build a list for
		if s.breakerUser != nil {
			s.breakerUser.RetireReplaced()
		}
		return
	}
	sends := make([]func(), 0, len(brs)+1)
	if s.breakerUser != nil {
		sends = append(sends, s.breakerUser.RetireReplaced)
	}
	for _, br := range brs {
		sends = append(sends, br.Publish)
	}
	runall.Each(sends)
}

// mayUse reports whether a chain under st can use the object k, and the policy of such a
// chain: its section is on for the service it is named after and still named so (not per
// method: a breaker of scope method), or on for the full method it is named after and still
// named so (the method's settings still differ from its service's), or else on for origin,
// the full method of a chain that took it (none: ""), which still names it so (a section's
// own Name may name its objects after neither). Other objects are forgotten, so that Levels
// no longer reads them and a later configuration that needs them again starts afresh.
func (st *state) mayUse(k objcache.Key, origin string) (config.Policy, bool) {
	sec, ok := section.Lookup(k.Section)
	if !ok || sec.Always() {
		return st.policyOf(k.Name), ok
	}
	mp := st.policyOf(k.Name)
	if v := mp.Value(k.Section); v != nil {
		if !strings.HasPrefix(k.Name, "/") {
			// A method that resolves the section as its service does names the service's
			// object; one that does not, its own (see config.Policy.Shares).
			if sec.Name(v, k.Name, "/"+k.Name+"/"+otherMethod, true) == k.Name {
				return mp, true
			}
		} else if st.names(sec, k, k.Name, mp) {
			return mp, true
		}
	}
	if origin == "" || origin == k.Name {
		return config.Policy{}, false
	}
	mp = st.cfg.Resolve(origin)
	return mp, st.names(sec, k, origin, mp)
}

// names reports whether the chain of fullMethod under st, of policy mp, names its object of
// section sec k (as Suite.env does).
func (st *state) names(sec section.Section, k objcache.Key, fullMethod string, mp config.Policy) bool {
	v := mp.Value(k.Section)
	if v == nil {
		return false
	}
	svc := grpcmethod.Service(fullMethod)
	return sec.Name(v, svc, fullMethod, mp.Shares(st.cfg.ResolveService(svc), k.Section)) == k.Name
}

// Config returns a copy of the configuration in force.
func (s *Suite) Config() *config.Config { return s.state.Load().cfg.Clone() }

// Breakers returns the registry the suite's breakers live in, named by service (or by full
// method for method-scoped breakers).
//
// Deprecated: use Levels for the breakers' states.
func (s *Suite) Breakers() *breaker.Registry {
	r, _ := value[*breaker.Registry](&s.o)
	return r
}

// Bulkheads returns the suite's bulkheads by name (service, or full method for a method with
// bulkhead settings of its own).
//
// Deprecated: use Levels for the bulkheads' levels.
func (s *Suite) Bulkheads() map[string]*bulkhead.Bulkhead { return objectsOf[*bulkhead.Bulkhead](s) }

// Throttles returns the suite's adaptive throttles by name (service, or full method for a
// method with adaptive_throttle settings or classifier entries of its own: a throttle counts
// accepts by its classifier, so such a method does not share its service's).
//
// Deprecated: use Levels for the throttles' levels.
func (s *Suite) Throttles() map[string]*throttle.Throttle { return objectsOf[*throttle.Throttle](s) }

// objectsOf returns the suite's policy objects of type T by name.
func objectsOf[T any](s *Suite) map[string]T {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]T{}
	s.objs.Each(func(k objcache.Key, b section.Built) bool {
		if o, ok := b.Object.(T); ok {
			out[k.Name] = o
		}
		return true
	})
	return out
}

// Levels implements observe.LevelSource: it reads live the levels of the suite's policy
// objects (breaker states, bulkhead slots, throttle probabilities) that the configuration in
// force uses or may use: those of its chains, and those kept from earlier configurations for
// the chains it builds on a method's first call, while their settings hold. From a reload on,
// an object it replaced, changed or removed is no longer read (the reload reports it:
// observe.Retired; one it removed is read until its Retired event is sent, and after the
// objects in use); the new object of a chain built on a first call is read once the chain
// is built, at the method's next call. A closed suite reads none (see Close).
func (s *Suite) Levels(yield func(observe.Level) bool) {
	var srcs observe.LevelSources
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.objs.Each(func(_ objcache.Key, b section.Built) bool {
		if src, ok := b.Object.(observe.LevelSource); ok {
			srcs = append(srcs, src)
		}
		return true
	})
	for _, removed := range s.retiring {
		srcs = append(srcs, *removed...)
	}
	s.mu.Unlock()
	srcs.Levels(yield)
}

// Policy returns the resolved policy in force for a full method.
func (s *Suite) Policy(fullMethod string) config.Policy {
	return s.state.Load().cfg.Resolve(fullMethod)
}

// Close releases what the suite opened (connections of fleet-wide rate limiters). After it,
// the suite builds nothing: Reload returns ErrClosed, and a call whose chain the
// configuration in force has not built yet fails with FailedPrecondition: a method first
// called after Close, and also one called before whose chain is built on a first call (see
// New: a method of a service outside the configuration, or one that neither the
// configuration nor its service's registered descriptor names) when no call of it came since
// the last Reload, which builds such chains again on their next call. Calls through chains
// built before go on, with what Close released (a fleet-wide limiter then answers as its fail
// mode says), and send their events to the suite's sink as before, after the Close's Retired
// events, and after Closed reports true: an observer that keeps a state from events (a
// breaker's) keeps the one such an event gives, until the next event of its name (see
// observe.Retired).
//
// A closed suite reads no levels (Levels), and Close reports the objects they read retired
// (observe.Retired), as a reload does for the objects it retires: a suite that replaces it
// shows its own levels where both are read (promobs' Scrape takes a series from its first
// source that reads it), and an observer drops the states it kept from the closed suite's
// events. A breaker is retired at its last state change (Breaker.LastChange), not at the
// Close, and one that made none at the zero Time: a suite built to replace this one before
// the Close keeps the states its own breakers' later events gave (an observer that compares
// Instances drops the closed suite's breakers' states alone, those of their BreakerPublished
// too). Close sends these events before the suite reports itself closed (Closed) and stops
// reading levels, so that an observer that drops a closed suite (promobs' Scrape) has them
// first; while it sends them, the suite builds nothing and Reload returns ErrClosed. A Close
// that comes meanwhile returns without waiting for them. Should the sink panic on one of them
// (a sink's bug), the others are sent all the same, the suite is reported closed, and the
// first panic then goes on, to the caller of Close (see reportRetired).
//
// A Close that comes while reloads send their Retired and BreakerPublished events (Reload
// sends them once it took effect, outside the suite's lock), or while first calls send the
// events their builds queued (the BreakerPublished of the breakers they made, the Retired of
// those they replaced, sent once the build let the lock go), sends its own after theirs, and
// the suite reports itself closed only then: an observer sees every such event before the
// Close's Retired events, and a scrape never finds the suite closed with a reload's or a
// first call's events still to come. The last of those reloads and first calls sends them,
// and Close returns without waiting for them (a sink may call Close from its Observe:
// waiting, it would wait for itself), having released what the suite opened. Should the sink
// panic on one of their events (a sink's bug), the Close's are not sent to it: the suite
// reports itself closed once the panic went by.
func (s *Suite) Close() (err error) {
	s.mu.Lock()
	if s.closing { // Another Close began: it sends the Retired events.
		defer s.mu.Unlock()
		return s.objs.Close()
	}
	s.closing = true
	var (
		retired []observe.LevelSource
		at      time.Time
	)
	if s.o.sink != nil {
		at = s.clk.Now()
	}
	s.objs.Each(func(k objcache.Key, b section.Built) bool {
		if src, ok := b.Object.(observe.LevelSource); ok && s.retiresLocked(k, b, true) {
			retired = append(retired, src)
		}
		return true
	})
	if s.sending > 0 {
		// Reloads or first calls are sending their events: the last of them sends these
		// after theirs, then reports the suite closed (retiredSent).
		s.closeQueued = &queuedClose{retired: retired, at: at}
		defer s.mu.Unlock()
		if s.breakerUser != nil {
			s.breakerUser.Close()
		}
		return s.objs.Close()
	}
	s.mu.Unlock()
	// The suite reports itself closed, and stops reading levels, only once its Retired events
	// are sent (even if the sink panics): a consumer that drops a closed suite (promobs'
	// Scrape) never finds it closed with its Retired events still to come, when the last
	// events of its breakers would stand in for them. They are sent outside s.mu, as Levels
	// reads them (see Reload); meanwhile nothing is built and Reload is refused (closing).
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closed = true
		if s.breakerUser != nil {
			s.breakerUser.Close()
		}
		err = s.objs.Close()
	}()
	s.reportRetired(retired, at, true)
	return nil
}

// Closed reports whether Close has run, its Retired events sent: a closed suite reads no
// levels, now or later, so a consumer of its levels may drop it (observe.ClosedSource;
// promobs' Scrape does).
func (s *Suite) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

var _ observe.ClosedSource = (*Suite)(nil)

// ErrClosed is what Reload returns after Close.
var ErrClosed = errors.New("bulwark: suite closed")

// DialOptions returns the options that install the suite on a connection.
func (s *Suite) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(s.Unary()),
		grpc.WithChainStreamInterceptor(s.Stream()),
	}
}

// methodsOf lists the methods of svc to build eagerly: those its descriptor declares and
// those the configuration names.
func methodsOf(cfg *config.Config, svc string) []string {
	out := cfg.MethodNames(svc)
	if sd := descriptorOf(svc); sd != nil {
		ms := sd.Methods()
		for i := range ms.Len() {
			if m := string(ms.Get(i).Name()); !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// descriptorOf returns the registered descriptor of svc, or nil, in time linear in the length
// of svc, a name a call may bring (see grpcmethod.ServiceDescriptor).
func descriptorOf(svc string) protoreflect.ServiceDescriptor {
	return grpcmethod.ServiceDescriptor(svc)
}

// registeredMethod reports whether the registered descriptor of svc declares method, where no
// service is registered under the dotted name of the two: a services key of that name is the
// method's (config.Config.CheckMethodKeys).
func registeredMethod(svc, method string) bool {
	return descriptorOf(svc+"."+method) == nil && declares(descriptorOf(svc), "/"+svc+"/"+method)
}

// listed reports whether a call of fullMethod (of svc) gets a chain of its own without counting
// towards the bound on unlisted names: a registered descriptor declares it, or WithFallback
// gives a reply for it. (The methods the configuration names have their chains from Reload.)
func (s *Suite) listed(svc, fullMethod string) bool {
	if s.targets[fullMethod] {
		return true
	}
	return declares(descriptorOf(svc), fullMethod)
}

// declares reports whether sd (nil: no descriptor) declares the method of fullMethod.
func declares(sd protoreflect.ServiceDescriptor, fullMethod string) bool {
	if sd == nil {
		return false
	}
	_, m := grpcmethod.Split(fullMethod)
	return sd.Methods().ByName(protoreflect.Name(m)) != nil
}

// knownService reports whether svc is listed as a whole: the configuration names it, its
// descriptor is registered, or WithFallback gives replies for it or its methods. Its methods
// past the bound share its overflow chain; those of other services, the suite's.
func (s *Suite) knownService(cfg *config.Config, svc string) bool {
	if _, ok := cfg.Services[svc]; ok || s.targets[svc] {
		return true
	}
	return descriptorOf(svc) != nil
}

// shareable reports whether the methods of svc without entries of their own share one chain:
// they resolve to the service's policy, and no part of it is per method (a step whose object
// is named by the method even where the method resolves as its service does: a fallback,
// whose reply is typed by the method; a breaker scoped to the method).
func (st *state) shareable(svc string) bool {
	p := st.cfg.ResolveService(svc)
	secs, _ := section.All()
	for _, sec := range secs {
		if v := p.Value(sec.Key()); v != nil && sec.CanBuild() && sec.Name(v, svc, "/"+svc+"/"+otherMethod, true) != svc {
			return false
		}
	}
	return true
}

// chain returns the chain of fullMethod under st, building it on a method's first call.
//
// A build takes and replaces shared objects (breakers, bulkheads, limiters), so it must run
// under the configuration in force: a call that loaded st before a Reload published a newer
// state builds under the newer one instead, else it would put the previous configuration's
// objects back in place of the current ones. Reload publishes under s.mu, so the state loaded
// under s.mu is the one in force until the build is stored.
//
// Reload builds every method with an entry of its own and every method of a registered
// descriptor of a configured service. The others resolve to their service's policy: unless
// that policy has a part per method (see shareable), they share one chain per service, so
// that names from outside the configuration and the registered descriptors (a generic proxy,
// names from user input) cost no state, objects or cache entries of their own. Calls of such a
// method take two lookups that miss and hit.
//
// What is not bounded by the program is bounded by the suite (WithUnlistedLimit): the unlisted
// names (see listed) of a service whose policy has a part per method, each of which would
// otherwise have a chain and objects of its own, and the services outside the configuration
// and the registered descriptors (see knownService), each of which would otherwise have a
// chain and objects of its own however its methods share them. The first of them, up to the
// bound, are admitted (see unlisted) and get their own; past it, a name goes through its
// service's overflow chain, built for "/<service>/*" as a shared chain is, so that its part per
// method (a method-scoped breaker) is one for all of them; and a name of an unlisted service
// through the suite's overflow chain, "/*/*", built for a service outside the configuration.
// Both are marked overflow, a service's kept in shared, the suite's in other (apart: a call
// may name the service "*"): an admitted or listed name whose chain this state has not built
// yet passes them by. A call of a name past the bound takes a few lookups more, and, for an
// unlisted service, one in the protobuf registry; calls found in front or chains take none.
//
// A fallback is a part per method: the overflow chain's fallback covers every method of its
// service (fallback.New of "/<service>/*"), with WithFallback's reply for the service (the
// suite's overflow chain with none: its services are those WithFallback does not name, and a
// reply for "*" is for the service "*"). With a reply_json, such a chain fails to build, as
// the chain of a name no registered descriptor declares does: its calls fail with
// FailedPrecondition either way.
func (st *state) chain(s *Suite, fullMethod string) *chain {
	h := front.Hint(fullMethod)
	if c := st.front.Load(h); c != nil && c.method == fullMethod {
		return c
	}
	if c, ok := st.chains.Load(fullMethod); ok {
		ch := c.(*chain)
		// Not a chain kept under a name it was not built for (the suite's overflow chain, for
		// an admitted name): front would never find it for that name, and would for a call
		// of the name it was built for ("/*/*"), whose chain may be another.
		if ch.method == fullMethod {
			st.front.Store(h, ch)
		}
		return ch
	}
	svc := grpcmethod.Service(fullMethod)
	if c, ok := st.shared.Load(svc); ok {
		// An overflow chain is kept under a service only when its policy has a part per
		// method in st: of its names, those admitted by name and those listed have chains of
		// their own.
		if ch := c.(*chain); !ch.overflow || !s.passedBy(ch, fullMethod) {
			return ch
		}
	} else if s.unlisted.full.Load() || !grpcmethod.Keepable(svc) {
		// Past the bound, or a service too long to be admitted (see unlisted.admitLocked).
		if c := st.other.Load(); c != nil && !s.unlisted.has(svc, fullMethod) && !s.knownService(st.cfg, svc) {
			return c
		}
	}
	if s.beforeBuild != nil {
		s.beforeBuild()
	}
	s.lockShared()
	s.mu.Lock()
	defer s.unlockAnnounce()
	cur := s.state.Load()
	if c, ok := cur.chains.Load(fullMethod); ok {
		return c.(*chain)
	}
	if c, ok := cur.shared.Load(svc); ok {
		if ch := c.(*chain); !ch.overflow || !s.passedBy(ch, fullMethod) {
			return ch
		}
	}
	known := s.knownService(cur.cfg, svc)
	if cur.shareable(svc) {
		if !known && !s.unlisted.admitLocked(&s.unlisted.services, svc) {
			o := s.otherLocked(cur)
			if s.unlisted.hasMethod(fullMethod) {
				// A name admitted under a configuration where its service's policy had a part
				// per method: the fast path would take it for a name whose chain cur has not
				// built yet. Kept by name, within the bound.
				cur.chains.Store(fullMethod, o)
			}
			return o
		}
		c := s.buildLocked(cur, "/"+svc+"/"+otherMethod, false)
		cur.shared.Store(svc, c)
		return c
	}
	if s.listed(svc, fullMethod) || s.unlisted.admitLocked(&s.unlisted.methods, fullMethod) {
		c := s.buildLocked(cur, fullMethod, false)
		cur.chains.Store(fullMethod, c)
		return c
	}
	if !known {
		o := s.otherLocked(cur)
		if _, ok := s.unlisted.services.Load(svc); ok {
			// A service admitted under a configuration where its methods shared its chain:
			// its names not admitted go through the suite's overflow chain, kept under the
			// service (within the bound) as a listed service's own overflow chain is.
			cur.shared.Store(svc, o)
		}
		return o
	}
	c := s.buildLocked(cur, "/"+svc+"/"+otherMethod, false)
	c.overflow, c.desc = true, descriptorOf(svc)
	cur.shared.Store(svc, c)
	return c
}

// otherLocked returns the suite's overflow chain under st (see chain), building it on its
// first call. s.mu must be held.
func (s *Suite) otherLocked(st *state) *chain {
	if c := st.other.Load(); c != nil {
		return c
	}
	c := s.buildLocked(st, otherKey, true)
	c.overflow, c.other = true, true
	st.other.Store(c)
	return c
}

// failed returns the error a call gets when its chain could not be built.
func (c *chain) failed() error {
	return status.Error(grpccodes.FailedPrecondition, "bulwark: "+c.err.Error())
}

// Unary returns the suite's unary client interceptor.
func (s *Suite) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		c := s.state.Load().chain(s, method)
		if c.err != nil {
			return s.failedCall(ctx, c, method, opts)
		}
		// own: the call has no sink of its own, so that its sink is c's (told by a flag, not by
		// comparing the two: an interface comparison calls the runtime and reads the sink's
		// type, cache lines a call would otherwise not touch).
		sink, own := c.sink, true
		if cs := observe.CallSinkFrom(ctx); cs != nil {
			sink, own = observe.Multi(sink, c.callSink(cs)), false
			opts = c.callSinkOptions(opts, sink)
		}
		if c.uc.gated != nil {
			if c.quiet != nil && own {
				return s.fused(ctx, c, method, req, reply, cc, invoker, opts)
			}
			return s.direct(ctx, c, sink, method, req, reply, cc, invoker, opts)
		}
		if sink == nil {
			r := c.uc.runner(time.Time{}, nil)
			err := r.do(ctx, method, req, reply, cc, invoker, opts)
			r.done()
			return err
		}
		// The runner carries the call's start, end and attempts, so that this frame, which
		// stays on the stack under every attempt, stays small.
		r := c.uc.runner(s.clk.Now(), sink)
		err := r.do(ctx, method, req, reply, cc, invoker, opts)
		s.emitRun(sink, c, method, r, err)
		r.done()
		return err
	}
}

// direct runs a call through c, a chain of an attempt loop and gates alone (unaryChain.gated),
// without a runner: the loop runs the gates itself and gives back the call's end and attempts.
// The clock is read once for the call's start, the deadline step folded in the loop, kept's
// memo and the loop.
func (s *Suite) direct(ctx context.Context, c *chain, sink observe.Sink, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	uc := c.uc
	start := s.clk.Now()
	var declared time.Time
	if dl := uc.dl; dl != nil {
		declared, _ = dl.DeadlineFor(ctx, method, start, opts)
	}
	var kept time.Duration
	if uc.keptAt == 0 {
		kept = uc.kept(cc, method, opts, start)
	}
	end, attempts, err := uc.gated.InvokeGated(ctx, uc.rm, uc.tail, start, sink, declared, kept, method, req, reply, cc, invoker, opts)
	if sink != nil {
		s.emitCall(sink, c, method, start, end, attempts, err)
	}
	return err
}

// fused is direct for a chain whose sink records a first attempt's success in one call
// (fastobs.SuccessRecorder, c.quiet), for a call without a sink of its own: the deadline step's
// DeadlineApplied is held, the attempt loop leaves out the AttemptFinished of a first attempt
// that succeeds, and such a call is recorded with one ObserveSuccess. On any other outcome the
// held DeadlineApplied is sent after the loop's events, then CallFinished (see package
// fastobs); a call that panics sends it as the panic goes on, unless ObserveSuccess, which
// carries it, is what panicked.
func (s *Suite) fused(ctx context.Context, c *chain, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	h := heldCall{start: s.clk.Now()}
	declared, kept := h.prepare(ctx, c, method, cc, opts)
	defer h.send(c, method)
	end, attempts, err := c.uc.gated.InvokeGated(ctx, c.uc.rm, c.uc.tail, h.start, c.quiet, declared, kept, method, req, reply, cc, invoker, opts)
	if attempts == 0 && err == nil {
		h.succeeded(c, method, end)
		return nil
	}
	s.unfused(c, method, &h, end, attempts, err)
	return err
}

// heldCall is what fused holds of a call: its start, and the DeadlineApplied it has not sent
// yet (Reason "": none).
type heldCall struct {
	start time.Time
	held  fastobs.Held
}

// prepare computes what direct does before its attempt loop, for fused's call h of method
// through c: the deadline declared to the loop, its DeadlineApplied held in h, and grpc's kept
// per-attempt timeout. Apart, so that fused's frame, under the call, holds none of it.
//
//go:noinline
func (h *heldCall) prepare(ctx context.Context, c *chain, method string, cc *grpc.ClientConn, opts []grpc.CallOption) (declared time.Time, kept time.Duration) {
	uc := c.uc
	if dl := uc.dl; dl != nil {
		var ok bool
		if declared, h.held, ok = fastobs.Deadline(dl, ctx, method, h.start); !ok {
			declared, _ = dl.DeadlineAt(ctx, method, h.start)
		}
	}
	if uc.keptAt == 0 {
		kept = uc.kept(cc, method, opts, h.start)
	}
	return declared, kept
}

// succeeded records fused's call h of method through c, which succeeded at its first attempt
// and ended at end, with one ObserveSuccess, which carries the DeadlineApplied h holds: h gives
// it up first, so that should ObserveSuccess panic, fused's deferred send does not send it
// again. Apart, so that fused's frame, under the call, holds no copy of it.
//
//go:noinline
func (h *heldCall) succeeded(c *chain, method string, end time.Time) {
	held := h.held
	h.held.Reason = ""
	c.quiet.Sink.ObserveSuccess(c.policy.Service, method, end.Sub(h.start), held.Reason, held.Delay)
}

// send sends to c's sink the DeadlineApplied h holds of a call of method, if it still holds
// one.
func (h *heldCall) send(c *chain, method string) {
	if h.held.Reason != "" {
		h.sendHeld(c, method)
	}
}

// sendHeld is send's event, apart: the event is not in the frames of send's callers.
//
//go:noinline
func (h *heldCall) sendHeld(c *chain, method string) {
	c.sink.Observe(h.held.Event(grpcmethod.Service(method), method, h.start))
	h.held.Reason = ""
}

// unfused ends fused's call h of method through c, which did not succeed at its first attempt
// (attempts, err): the held DeadlineApplied, then CallFinished. Apart, so that fused's frame,
// under the call, holds no event.
//
//go:noinline
func (s *Suite) unfused(c *chain, method string, h *heldCall, end time.Time, attempts int, err error) {
	h.send(c, method)
	s.emitCall(c.sink, c, method, h.start, end, attempts, err)
}

// Stream returns the suite's stream client interceptor.
func (s *Suite) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		c := s.state.Load().chain(s, method)
		if c.err != nil {
			return nil, s.failedCall(ctx, c, method, opts)
		}
		sink := c.sink
		if cs := observe.CallSinkFrom(ctx); cs != nil {
			sink = observe.Multi(sink, c.callSink(cs))
			opts = c.callSinkOptions(opts, sink)
		}
		if sink == nil {
			return c.sc.interceptor(ctx, desc, cc, method, streamer, opts...)
		}
		var o *observedStream
		if c.hedged && !c.sc.loop {
			o, opts = newHedgedStream(s, sink, c, method, opts)
		} else {
			o = &observedStream{s: s, sink: sink, c: c, method: method, start: s.clk.Now()}
		}
		cs, err := c.sc.open(&o.r, ctx, desc, cc, method, streamer, opts)
		if err != nil {
			o.finish(err)
			return nil, err
		}
		// Watched for the runner, the context the chain's steps got (the caller's): one
		// wrapper with theirs.
		w := streamend.Watch(&o.r, desc, cs)
		w.WatchConn(cc)
		w.OnEndOf(o) // o itself, no method value: no allocation
		return w, nil
	}
}

// failedCall returns the error of a call through c, a chain that could not be built, runs
// the call's grpc.OnFinish callbacks (opts) with it, as grpc would have once the call ended,
// and reports the call (CallFinished, as for every call) to the chain's and the call's sinks.
func (s *Suite) failedCall(ctx context.Context, c *chain, method string, opts []grpc.CallOption) error {
	err := c.failed()
	calloption.OnFinish(opts, err)
	sink := c.sink
	if cs := observe.CallSinkFrom(ctx); cs != nil {
		sink = observe.Multi(sink, c.callSink(cs))
	}
	if sink != nil {
		now := s.clk.Now()
		s.emitCall(sink, c, method, now, now, 1, err)
	}
	return err
}

// emitRun sends the CallFinished of the unary call r ran (see emitCall).
func (s *Suite) emitRun(sink observe.Sink, c *chain, method string, r *unaryRunner, err error) {
	s.emitCall(sink, c, method, r.timing.Start, r.timing.End, int(r.attempts.Load()), err)
}

// emitCall sends CallFinished for one logical call to sink: a call from start to end (zero: now).
func (s *Suite) emitCall(sink observe.Sink, c *chain, method string, start, end time.Time, attempts int, err error) {
	v := c.classifier.Classify(err)
	now := end
	if now.IsZero() {
		now = s.clk.Now()
	}
	sink.Observe(observe.Event{
		Kind: observe.CallFinished, Time: now, Service: c.policy.Service, Method: method,
		Policy: observe.PolicySuite, Attempt: max(attempts, 1), Code: v.Code, Class: v.Class,
		Reason: v.Reason, Duration: now.Sub(start),
	})
}

// observedStream emits CallFinished once, when the stream ends (see streamend): RecvMsg
// returns an error (io.EOF is success), the single response of a call without server streaming
// arrives, or SendMsg or Header fails. A stream the caller abandons, or that gRPC ends while nobody reads
// it, emits no CallFinished: the caller never saw how it ended. Its one attempt, in a chain
// without an attempt loop, is reported on every end all the same, as an attempt loop reports
// its last: each attempt sent is reported once (observe.AttemptFinished). A stream that ends
// by a panic of one of its methods reports neither, as a unary call that panics.
type observedStream struct {
	s      *Suite
	sink   observe.Sink
	c      *chain
	method string
	start  time.Time
	r      streamRunner   // the stream's pass through the chain: counts the attempts
	round  *attempt.Round // what a hedging policy reported of the attempts (see chain.hedged), or nil
}

// hedgedOpts is how many call options of a stream a hedgedStream holds with its Round
// without a slice of their own.
const hedgedOpts = 4

// hedgedStream is the observedStream of a stream through a chain that hedges without an
// attempt loop (see chain.hedged), with the Round its hedging policy reports in and the
// stream's call options that carry it: one allocation for the three.
type hedgedStream struct {
	observedStream
	round attempt.Round
	opts  [hedgedOpts]grpc.CallOption
}

// newHedgedStream returns the observedStream of a stream of method through c (see
// hedgedStream) and the stream's call options, opts and its Round.
func newHedgedStream(s *Suite, sink observe.Sink, c *chain, method string, opts []grpc.CallOption) (*observedStream, []grpc.CallOption) {
	h := &hedgedStream{observedStream: observedStream{s: s, sink: sink, c: c, method: method, start: s.clk.Now()}}
	h.observedStream.round = &h.round
	if len(opts) < hedgedOpts {
		n := copy(h.opts[:], opts)
		h.opts[n] = &h.round
		// Full: a step that appends to them copies them first.
		return &h.observedStream, h.opts[: n+1 : n+1]
	}
	return &h.observedStream, append(opts[:len(opts):len(opts)], &h.round)
}

// StreamEnded reports the stream's end: CallFinished, or for an abandoned stream only its
// attempt (see observedStream).
func (o *observedStream) StreamEnded(e streamend.End) {
	if e.Cause == streamend.Panic {
		return // As a unary call that panics: neither its attempt nor the call (see package doc).
	}
	if e.Cause != streamend.Caller && e.Cause != streamend.Transport {
		o.finish(e.Err)
		return
	}
	o.attemptFinished(e.Err)
}

func (o *observedStream) finish(err error) {
	o.attemptFinished(err)
	o.s.emitCall(o.sink, o.c, o.method, o.start, time.Time{}, int(o.r.attempts.Load()), err)
}

// attemptFinished reports the stream's one attempt, which ended with err (the stream's), in
// a chain without an attempt loop, unless a hedging policy reported it or took the round to
// report it (attempt.Round.Take). The round is claimed (attempt.Round.Claim), not only read:
// a RecvMsg after the end (a Header that failed, then CloseAndRecv) is then no hedged reply
// phase, which would report the attempt a second time.
func (o *observedStream) attemptFinished(err error) {
	if !o.c.sc.loop && (o.round == nil || o.round.Claim()) {
		// The stream was the one attempt (see unaryChain), which no hedging policy reported;
		// it ended as the runner saw it below the steps before it, which may have answered in
		// its place (a fallback).
		o.c.attemptFinished(o.sink, o.s.clk, o.method, o.start, o.r.attemptErr(err))
	}
}
