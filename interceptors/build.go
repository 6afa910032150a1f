package interceptors

import (
	"context"
	"errors"
	"fmt"
	"iter"
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
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/fastobs"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/objcache"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A chain has a step for every registered section that can build one (section.Spec.Build)
// and is on in the method's resolved policy (or is always there, section.Spec.Always), in
// rank order, outermost first. Nothing here names a policy: each section's package builds
// its own step, and the object cache keeps stateful objects across reloads.

// prepared is a chain whose stateless steps (section.Spec.Stateless) are built and whose
// stateful ones are not taken from the object cache yet.
type prepared struct {
	c                   *chain
	service, fullMethod string
	sp                  config.Policy // the service's own policy, to tell which objects to share
	steps               []preparedStep
	other               bool // the suite's overflow chain (see Suite.chain), not the service "*"'s
	// spClassifier is sp's classifier where it differs from the chain's (else nil), for the
	// service's objects that classify for the whole service (config.Policy.ServiceClassified).
	spClassifier *codes.Classifier
}

// preparedStep is one section of a chain.
type preparedStep struct {
	sec   section.Section
	v     any // the section's value (a *C); nil for an Always section that is off
	built section.Built
	done  bool // built is set
}

// txn is one build of the suite — a reload, or the chain of a method built on its first call —
// which is all or nothing: the objects it takes from the object cache are staged there
// (objcache.Txn), and the changes its sections make to stores outside the suite (a breaker
// in the breaker registry, a shared token bucket) wait in its section.Stage. Committing (Suite.commitLocked) publishes
// both once every chain of the build is built; rollback drops them and runs the closers of
// what the build made, and the cache and the stores stay as they were.
type txn struct {
	objs  *objcache.Txn[section.Built]
	stage *section.Stage
	// st is the state whose chains the build makes: the objects they took are kept in
	// st.held at the commit, and a chain built later under st (on a first call) is held to
	// them (see objectLocked).
	st   *state
	took map[objcache.Key]string // the objects the build's chains took, each with one's full method
	// fps are the fingerprints the build's chains took the objects of took with: a chain that
	// names one of them with another is refused (see objectLocked).
	fps map[objcache.Key]objcache.Fingerprint
	// built are the unary chains the build composed: their gates are asked whether they wait
	// (unaryChain.askInstants) once the commit has given kept objects their new settings.
	built []*unaryChain
	// breakers are the breakers the build's chains took, by key: announced at the commit
	// when the suite has not announced them yet (see Suite.announceLocked).
	breakers map[objcache.Key]*breaker.Breaker
	ended    bool // committed or rolled back
}

// beginLocked starts a build of chains of st. s.mu must be held until it ends.
func (s *Suite) beginLocked(st *state) *txn {
	return &txn{objs: s.objs.Begin(), stage: &section.Stage{}, st: st}
}

// commitLocked commits t, a build of s, and keeps in s.origins the full method of a chain
// that took each of its objects, and in t.st.held that and the fingerprint it took the object
// with. s.mu is held. The commit is done whole also when a policy's func it runs panics (a
// kept object's apply, objcache.Txn.Commit): the stage is published, and the panic goes on to
// the caller after it.
func (s *Suite) commitLocked(t *txn) {
	t.ended = true
	defer s.publishLocked(t)
	t.objs.Commit()
}

// publishLocked is the rest of commitLocked once the object cache has committed: it
// publishes t's stage, then asks the chains' gates and keeps the origins, also when a publish
// panics. s.mu is held.
func (s *Suite) publishLocked(t *txn) {
	defer func() {
		for _, uc := range t.built {
			uc.askInstants()
		}
		if s.origins == nil {
			s.origins = map[objcache.Key]string{}
		}
		maps.Copy(s.origins, t.took)
		if len(t.took) > 0 && t.st.held == nil {
			t.st.held = map[objcache.Key]holding{}
		}
		for k, m := range t.took {
			t.st.held[k] = holding{fullMethod: m, fp: t.fps[k]}
		}
		s.announceLocked(t)
	}()
	t.stage.Commit()
}

// rollback drops what t built. The closers' errors are dropped: the build's own error is what
// its caller reports, as for an object whose build failed (objcache.Cache.Get).
func (t *txn) rollback() {
	t.ended = true
	_ = t.objs.Rollback()
}

// abandoned rolls t back unless it ended, and reports whether it did so: deferred by the
// owner of a build, so that a Build that panics (a policy of the program's) releases what the
// build made before it, as a Build that fails does.
func (t *txn) abandoned() bool {
	if t.ended {
		return false
	}
	t.rollback()
	return true
}

// buildLocked composes the chain of one full method under st, all or nothing (see txn); other:
// the suite's overflow chain, for fullMethod "/*/*" (see Suite.chain). s.mu must be held.
func (s *Suite) buildLocked(st *state, fullMethod string, other bool) *chain {
	cfg := st.cfg
	if s.closing {
		// A chain that fails its calls, which still report them (CallFinished) to the sink,
		// under their policy's service, as a chain that fails to build does (see prepare).
		mp := cfg.Resolve(fullMethod)
		cl, err := mp.NewClassifier()
		if err != nil {
			cl = codes.Default()
		}
		return &chain{method: fullMethod, policy: mp, classifier: cl, sink: s.chainSink(mp.Service, fullMethod, other),
			err: fmt.Errorf("%s: suite closed", fullMethod)}
	}
	p := s.prepare(cfg, fullMethod, other)
	if p.c.err != nil {
		return p.c
	}
	t := s.beginLocked(st)
	defer t.abandoned()
	c := s.finishLocked(p, t)
	if c.err != nil {
		t.rollback()
		return c
	}
	// The breakers cached under the names the chain took a breaker of, which the commit
	// replaces: a chain of a name the state in force holds no object of takes the registry's
	// breaker (objectLocked), which Get or Delete may have put in place of the one the suite
	// still held since an earlier build (kept by a reload that built no chain of the name).
	// The suite no longer calls through the old one once the commit replaced it: it retires
	// it, as a reload does, unless the registry or another suite still holds it.
	var replaced map[objcache.Key]section.Built
	for k, br := range t.breakers {
		if old, ok := s.objs.Lookup(k); ok && old.Object != any(br) {
			if _, isBreaker := old.Object.(*breaker.Breaker); isBreaker {
				if replaced == nil {
					replaced = map[objcache.Key]section.Built{}
				}
				replaced[k] = old
			}
		}
	}
	s.commitLocked(t)
	var at time.Time
	for k, old := range replaced {
		if s.retiresLocked(k, old, false) {
			if at.IsZero() {
				at = s.clk.Now() // as a reload's: read before a call goes through the replacement
			}
			s.toRetire = append(s.toRetire, retiredBreaker{old.Object.(*breaker.Breaker), at})
		}
	}
	return c
}

// prepare builds the classifier and the stateless steps of a chain — which can fail on
// configuration (a fallback reply that does not fit the method, say) and hold no state
// shared with other chains — so that a configuration can be checked whole before any shared
// object is replaced. On failure p.c.err is set. other: the chain is the suite's overflow
// chain (see Suite.chain).
func (s *Suite) prepare(cfg *config.Config, fullMethod string, other bool) *prepared {
	service, _ := grpcmethod.Split(fullMethod)
	mp := cfg.Resolve(fullMethod)
	c := &chain{method: fullMethod, policy: mp, sink: s.chainSink(service, fullMethod, other)}
	// Not for the suite's overflow chain, whose sink renames its events (overflowSink).
	if rec, ok := c.sink.(fastobs.SuccessRecorder); ok && !other && fastobs.Deadline != nil {
		c.quiet = &fastobs.Quiet{Sink: rec}
	}
	p := &prepared{c: c, service: service, fullMethod: fullMethod, sp: cfg.ResolveService(service), other: other}
	cl, err := mp.NewClassifier()
	if err != nil {
		// A failed chain still classifies its own error, for the call's CallFinished.
		p.c.err, p.c.classifier = fmt.Errorf("%s: classifier: %w", fullMethod, err), codes.Default()
		return p
	}
	p.c.classifier = cl
	if !mp.SameSection(p.sp.Profile, config.SectionClassifier) {
		// Validate checked the service's classifier: this fails only where the service's own
		// chain would.
		if p.spClassifier, err = p.sp.NewClassifier(); err != nil {
			p.c.err, p.c.classifier = fmt.Errorf("%s: the service's classifier: %w", fullMethod, err), codes.Default()
			return p
		}
	}
	earlier := map[section.Key]section.Built{}
	for sec, v := range sectionsOf(mp) {
		st := preparedStep{sec: sec, v: v}
		if sec.Stateless() {
			b, err := sec.Build(s.env(p, sec, v, earlier), v)
			if err != nil {
				p.c.err = locatedSectionErr(cfg, fullMethod, sec.Key(), err)
				return p
			}
			st.built, st.done = b, true
			earlier[sec.Key()] = b
		} else if err := sec.Check(s.env(p, sec, v, earlier), v); err != nil {
			p.c.err = locatedSectionErr(cfg, fullMethod, sec.Key(), err)
			return p
		}
		p.steps = append(p.steps, st)
	}
	return p
}

// chainSink returns the sink of the chain of fullMethod, of service: the suite's scoped to it
// (observe.ForMethod), which the suite's overflow chain (other) names its events through
// (overflowSink).
func (s *Suite) chainSink(service, fullMethod string, other bool) observe.Sink {
	sink := observe.ForMethod(s.o.sink, service, fullMethod)
	if other {
		return overflow(sink)
	}
	return sink
}

// sectionsOf yields the sections that make a step in a chain of policy mp, in rank order,
// each with its value in mp (nil for an Always section that mp leaves off).
func sectionsOf(mp config.Policy) iter.Seq2[section.Section, any] {
	return func(yield func(section.Section, any) bool) {
		secs, _ := section.All()
		for _, sec := range secs {
			v := mp.Value(sec.Key())
			if !sec.CanBuild() || (v == nil && !sec.Always()) {
				continue
			}
			if !yield(sec, v) {
				return
			}
		}
	}
}

// check reports what the Check of a stateful section (section.Spec.Check) refuses in the
// policy of svc as a whole (otherService: a service outside cfg), which the chains built on a
// first call resolve to (see Suite.chain). Their stateless steps are not built: a step that
// does not fit a method (a fallback's reply_json) is for each method's build to refuse.
func (s *Suite) check(cfg *config.Config, svc string) error {
	fullMethod := "/" + svc + "/" + otherMethod
	mp := cfg.ResolveService(svc)
	name := fullMethod
	if svc == otherService {
		name = fmt.Sprintf("services outside the configuration (profile %q)", mp.ProfileName)
	}
	cl, err := mp.NewClassifier()
	if err != nil {
		return fmt.Errorf("%s: classifier: %w", name, err)
	}
	return s.checkSections(&prepared{c: &chain{method: fullMethod, policy: mp, classifier: cl}, service: svc, fullMethod: fullMethod, sp: mp}, name)
}

// checkAdmitted does what check does for the chains of the names the suite admitted (see
// unlisted), which their next call builds under cfg: the services outside the configuration
// as a whole, and the methods each under its own policy, so that a configuration their builds
// would refuse is refused at the Reload. Only where the suite shares a breaker registry
// (WithBreakerRegistry): there the breaker's Check depends on the breaker's name (another
// suite may hold the breaker of a name with other settings: breaker.ErrSharedConflict); the
// other sections' Checks depend on the policy alone, which check covers service by service.
// It skips the names in checked (services and full methods: a full method starts with "/")
// and adds those it checks; n is how many names the suite had admitted (unlisted.n) when it
// began: each of them has been checked.
func (s *Suite) checkAdmitted(cfg *config.Config, checked map[string]bool) (n int, err error) {
	if s.givenBreakers == nil {
		return 0, nil
	}
	// Names are admitted under s.mu, stored before n counts them, and never removed: those n
	// counts are in the maps ranged below.
	s.mu.Lock()
	n = s.unlisted.n
	s.mu.Unlock()
	var svcs, methods []string
	s.unlisted.services.Range(func(k, _ any) bool { svcs = append(svcs, k.(string)); return true })
	s.unlisted.methods.Range(func(k, _ any) bool { methods = append(methods, k.(string)); return true })
	slices.Sort(svcs)
	slices.Sort(methods)
	for _, svc := range svcs {
		if checked[svc] {
			continue
		}
		if err := s.check(cfg, svc); err != nil {
			return 0, err
		}
		checked[svc] = true
	}
	for _, m := range methods {
		if checked[m] {
			continue
		}
		svc := grpcmethod.Service(m)
		p := &prepared{c: &chain{method: m, policy: cfg.Resolve(m)}, service: svc, fullMethod: m, sp: cfg.ResolveService(svc)}
		if err := s.checkSections(p, m); err != nil {
			return 0, err
		}
		checked[m] = true
	}
	return n, nil
}

// lockChecked runs checkAdmitted for cfg outside s.mu (a section's Check may be the program's
// code) and returns with s.mu held once no name was admitted since: a first call that admits a
// name between the check and the publish (and takes its objects under the configuration in
// force) would otherwise have a reload that its next call's build refuses take effect. A name
// admitted meanwhile is checked in turn, outside s.mu, and the lock taken again; names are
// admitted up to the suite's bound (WithUnlistedLimit), so this ends. On error s.mu is not
// held.
func (s *Suite) lockChecked(cfg *config.Config) error {
	checked := map[string]bool{}
	for {
		n, err := s.checkAdmitted(cfg, checked)
		if err != nil {
			return err
		}
		if s.afterCheck != nil {
			s.afterCheck()
		}
		s.mu.Lock()
		if s.givenBreakers == nil || s.unlisted.n == n {
			return nil
		}
		s.mu.Unlock()
	}
}

// checkNamed refuses a configuration whose chains will certainly give one object two
// settings, from the configuration alone (no object is built): those built at the Reload
// (ps), and the chains built on a first call of each configured service that no registered
// descriptor declares the methods of and whose entry lists none, all of whose calls go
// through such chains, under its service's policy (check's "/<svc>/*"). A service that lists
// its methods is not compared under its service's policy: its calls may all be of the
// methods listed, and the methods it does not list, like services outside the configuration,
// may never be called (such a chain is refused at its build). An object such chains give
// other settings than a chain before them (ps first, in build order) is refused as the build
// refuses it (see objectLocked), naming the object, both chains and what differs; the objects
// the chains capture (Deps), which only a build can tell, are compared by the keys of the
// objects they come from (see captured), so that chains built on a first call that would
// capture others are refused here, not at every such call. What Deps takes from a store outside
// the suite is taken to follow the section's value; a section whose Deps differ otherwise (not
// from the sections it Captures) is judged at the build, on a first call. The chains of
// services outside the configuration are not compared: none may ever be called (such a chain
// is refused at its build, on a first call).
func (s *Suite) checkNamed(cfg *config.Config, ps []*prepared) error {
	type taking struct {
		fullMethod string // the chain's, for an error
		fp         objcache.Fingerprint
	}
	took := map[objcache.Key]taking{}
	// name is the chain's for an error, which says what chain it is.
	take := func(p *prepared, name string, sec section.Section, v any) error {
		env := s.env(p, sec, v, nil)
		k := objcache.Key{Section: sec.Key(), Name: env.Name}
		fp := fingerprint(sec, v, p.c.policy, p.sp, captured(s, p, sec))
		prev, ok := took[k]
		if !ok {
			took[k] = taking{fullMethod: p.fullMethod, fp: fp}
			return nil
		}
		if !prev.fp.Same(fp, valuesEqual(sec)) {
			return sectionErr(name, sec.Key(), sameObjectErr(env.Name, prev.fullMethod, prev.fp, fp, valuesEqual(sec)))
		}
		return nil
	}
	for _, p := range ps {
		for _, st := range p.steps {
			if st.done {
				continue
			}
			if err := take(p, p.fullMethod, st.sec, st.v); err != nil {
				return err
			}
		}
	}
	for _, svc := range cfg.ServiceNames() {
		if descriptorOf(svc) != nil || len(cfg.Services[svc].Methods) != 0 {
			continue
		}
		fullMethod := "/" + svc + "/" + otherMethod
		mp := cfg.ResolveService(svc)
		p := &prepared{c: &chain{method: fullMethod, policy: mp}, service: svc, fullMethod: fullMethod, sp: mp}
		for sec, v := range sectionsOf(mp) {
			if sec.Stateless() {
				continue
			}
			if err := take(p, fullMethod+" (the chain of the service's calls, built on a first call: no registered descriptor declares its methods)", sec, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// captured stands, in checkNamed's fingerprints, for the objects that sec's object in chain p
// captures (section.Spec.Deps), which only a build can tell: for each section sec Captures
// that is ranked before it, the key of the chain's object of that section (a Stateless
// section's step, built for each chain, by the chain's full method), or nil when the chain
// has no step of it. Two chains whose keys differ capture two objects, and their builds would give the
// object two fingerprints (Deps come from the sections Captures lists, or from a store outside
// the suite by the section's value, which the fingerprint holds already). nil for a section
// that captures none.
func captured(s *Suite, p *prepared, sec section.Section) []any {
	caps := sec.Captures()
	if len(caps) == 0 {
		return nil
	}
	out := make([]any, len(caps))
	for sc, v := range sectionsOf(p.c.policy) {
		if sc.Rank() >= sec.Rank() {
			break
		}
		i := slices.Index(caps, sc.Key())
		if i < 0 {
			continue
		}
		name := p.fullMethod
		if !sc.Stateless() {
			name = s.env(p, sc, v, nil).Name
		}
		out[i] = objcache.Key{Section: sc.Key(), Name: name}
	}
	return out
}

// checkSections runs the Check of each stateful section of chain p (section.Spec.Check); an
// error names the chain as name.
func (s *Suite) checkSections(p *prepared, name string) error {
	for sec, v := range sectionsOf(p.c.policy) {
		if sec.Stateless() {
			continue
		}
		if err := sec.Check(s.env(p, sec, v, nil), v); err != nil {
			return sectionErr(name, sec.Key(), err)
		}
	}
	return nil
}

// env returns what section sec's Build gets in chain p. A stateless section's step serves
// this chain alone and gets the chain's sink; an object the cache may share with other chains
// gets the suite's, through overflowSink for an object named after the suite's overflow chain
// (the service "*", or "/*/*"), whose refusals (Rejected) would else name the method each
// call named: such an object serves the overflow chain, and names its events as the chain's.
func (s *Suite) env(p *prepared, sec section.Section, v any, earlier map[section.Key]section.Built) *section.Env {
	shared := p.c.policy.Shares(p.sp, sec.Key())
	name := sec.Name(v, p.service, p.fullMethod, shared)
	sink := s.o.sink
	if sec.Stateless() {
		sink = p.c.sink
	} else if p.service == otherService && (name == otherService || name == otherKey) {
		sink = overflow(sink)
	}
	values := s.o.values
	if p.other {
		values = s.otherValues
	}
	classifier := p.c.classifier
	if p.spClassifier != nil && shared && p.c.policy.ServiceClassified(p.sp, sec.Key()) {
		classifier = p.spClassifier
	}
	return &section.Env{
		Service: p.service, FullMethod: p.fullMethod, Name: name,
		Budget: p.c.policy.Budget, Clock: s.clk, Sink: sink, Rand: s.o.rand, Classifier: classifier,
		Values: values, Earlier: earlier,
	}
}

// finishLocked takes the chain's stateful objects from the object cache within t — kept from
// earlier configurations where their fingerprint did not change — and composes the chain. On
// failure c.err is set, and the caller rolls t back. s.mu must be held.
func (s *Suite) finishLocked(p *prepared, t *txn) *chain {
	c := p.c
	earlier := map[section.Key]section.Built{}
	unary := make([]unaryStep, 0, len(p.steps))
	stream := make([]grpc.StreamClientInterceptor, 0, len(p.steps))
	derives := make([]bool, 0, len(p.steps))
	attemptAt := len(p.steps)
	for i := range p.steps {
		st := &p.steps[i]
		if !st.done {
			b, err := s.objectLocked(p, st.sec, st.v, earlier, t)
			if err != nil {
				c.err = fmt.Errorf("%s: %s: %w", p.fullMethod, st.sec.Key(), err)
				return c
			}
			st.built = b
		}
		b := st.built
		earlier[st.sec.Key()] = b
		if f := st.sec.ForClassifier(); f != nil && p.spClassifier != nil && p.c.policy.ServiceClassified(p.sp, st.sec.Key()) {
			// The service's object, shared by a method whose classifier differs: the
			// chain's step judges the method's outcomes by its own classifier.
			b = f(b, p.c.classifier)
		}
		derives = append(derives, b.Stream == nil || streamDerives(st.sec.Rank()))
		b = passBy(b)
		if st.sec.Rank() == section.RankHedge {
			c.hedged = true
		}
		// Special wiring: the retry rank is where the attempt loop is, or would be; the steps
		// after it act on each attempt (see unaryChain's AttemptFinished).
		if st.sec.Rank() > section.RankRetry && attemptAt == len(p.steps) {
			attemptAt = i
		}
		u := unaryStep{ic: b.Unary, flat: b.Flat, hedge: st.sec.Rank() == section.RankHedge}
		u.gate, _ = b.Flat.(section.Gate)
		u.dl, _ = b.Object.(deadliner)
		u.loop, _ = b.Object.(attemptLoop)
		unary = append(unary, u)
		stream = append(stream, b.Stream)
		if f := st.sec.CallSink(); f != nil {
			c.callSinks = append(c.callSinks, f)
		}
	}
	c.uc = newUnaryChain(unary, attemptAt, s.clk, c)
	c.sc = newStreamChain(unary, stream, derives, attemptAt)
	t.built = append(t.built, c.uc)
	return c
}

// passBy returns b with a step that passes calls by for the kind of call b has no interceptor
// for: a section's Build may intercept unary calls alone, or streams alone (section.Built).
func passBy(b section.Built) section.Built {
	if b.Unary == nil && b.Flat == nil {
		if _, loop := b.Object.(attemptLoop); !loop {
			b.Unary = passUnary
		}
	}
	if b.Stream == nil {
		b.Stream = passStream
	}
	return b
}

func passUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(ctx, method, req, reply, cc, opts...)
}

func passStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(ctx, desc, cc, method, opts...)
}

// objectLocked returns the object of section sec (value v) for chain p from the suite's
// object cache, building it, staged in t, when neither the cache nor t has one of its name
// with the same fingerprint.
func (s *Suite) objectLocked(p *prepared, sec section.Section, v any, earlier map[section.Key]section.Built, t *txn) (section.Built, error) {
	env := s.env(p, sec, v, earlier)
	env.Stage = t.stage
	deps := sec.Deps(env, v)
	for _, d := range deps {
		// Compared by identity with the cached object's: one that cannot be compared would
		// panic in the runtime at that comparison.
		if !identityComparable(d) {
			return section.Built{}, fmt.Errorf("its Deps returned a value of type %T, which cannot be compared by identity (return pointers, such as an earlier step's Built.Object)", d)
		}
	}
	fp := fingerprint(sec, v, p.c.policy, p.sp, deps)
	k := objcache.Key{Section: sec.Key(), Name: env.Name}
	// One name is one object (section.Spec.Name): two settings of it would have each
	// chain's build replace the object the one before it built, at every build; or, for a
	// chain built on a first call, replace under the chains in force the object they hold.
	h, heldByState := t.st.held[k]
	if prev, ok := t.fps[k]; ok && !prev.Same(fp, valuesEqual(sec)) {
		return section.Built{}, sameObjectErr(env.Name, t.took[k], prev, fp, valuesEqual(sec))
	} else if !ok && heldByState && !h.fp.Same(fp, valuesEqual(sec)) {
		return section.Built{}, sameObjectErr(env.Name, h.fullMethod, h.fp, fp, valuesEqual(sec))
	}
	// A Refresh section's object (a breaker of a registry other suites share) is taken from
	// its store again at each build, but not by a chain built on a first call when a chain of
	// the state in force holds it already: that chain gets the object the others hold, the
	// cached one, even when the store put another in its place since (the registry's Get or
	// Delete), so that the suite's chains of one name go through one object; the suite's next
	// reload moves them all to the store's, and lets the old one go (see Reload).
	refresh := sec.Refresh() && !heldByState
	// An object whose value changed in settings it takes in place is kept, with its state.
	if b, ok := t.objs.Retune(k, fp, valuesEqual(sec), retuner(sec, v)); ok {
		t.taken(k, fp, p.fullMethod)
		return b, nil
	}
	b, err := t.objs.Get(k, fp, valuesEqual(sec), refresh,
		func(replacing bool, onClose func(func() error)) (section.Built, error) {
			env.Replacing, env.OnClose = replacing, onClose
			return sec.Build(env, v)
		})
	if err == nil {
		t.taken(k, fp, p.fullMethod)
		if br, ok := b.Object.(*breaker.Breaker); ok {
			if t.breakers == nil {
				t.breakers = map[objcache.Key]*breaker.Breaker{}
			}
			t.breakers[k] = br
		}
	}
	return b, err
}

// sameObjectErr is the error of a chain that names the object name, which the chain of
// fullMethod took with fingerprint prev, with fingerprint fp.
func sameObjectErr(name, fullMethod string, prev, fp objcache.Fingerprint, equal func(a, b any) bool) error {
	return fmt.Errorf("the object %q is also taken by %s, with %s: the chains that name one object must give it the same settings",
		name, fullMethod, fingerprintDiff(prev, fp, equal))
}

// taken notes that the chain of fullMethod took the object k, of fingerprint fp, in t.
func (t *txn) taken(k objcache.Key, fp objcache.Fingerprint, fullMethod string) {
	if t.took == nil {
		t.took, t.fps = map[objcache.Key]string{}, map[objcache.Key]objcache.Fingerprint{}
	}
	t.took[k], t.fps[k] = fullMethod, fp
}

// fingerprintDiff says what makes fingerprint b differ from a, the first of its value, its
// classifier, its budget and the objects it captures that does, for an error.
func fingerprintDiff(a, b objcache.Fingerprint, equal func(a, b any) bool) string {
	same := func(f func(*objcache.Fingerprint)) bool {
		x := a
		f(&x)
		return x.Same(b, equal)
	}
	switch {
	case same(func(x *objcache.Fingerprint) { x.Value = b.Value }):
		return "another value"
	case same(func(x *objcache.Fingerprint) { x.Classifier = b.Classifier }):
		return "another classifier"
	case same(func(x *objcache.Fingerprint) { x.Budget = b.Budget }):
		return "another budget"
	case same(func(x *objcache.Fingerprint) { x.Deps = b.Deps }):
		return "other objects captured"
	}
	return "other settings"
}

// identityComparable reports whether == can compare d without panicking: its type is
// comparable and no interface within it (a struct's field, an array's element) holds a value
// of a type that is not (a func, a map, a slice), which only == itself finds, by panicking.
// Two values that each compare with themselves compare with each other: == walks both alike
// and stops where they first differ, as it does on itself only at a NaN, which differs from
// everything.
func identityComparable(d any) (ok bool) {
	if d == nil {
		return true
	}
	if !reflect.TypeOf(d).Comparable() {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_ = d == d
	return true
}

// retuner returns how to give an object of section sec the value v in place, for
// objcache's Retune (section.Spec.Retune).
func retuner(sec section.Section, v any) func(section.Built) (func(), bool) {
	return func(b section.Built) (func(), bool) { return sec.Retune(b.Object, v) }
}

// fingerprint is the fingerprint of section sec's object of value v, built for a chain of
// policy mp (of a service of policy sp) and capturing the shared objects deps. Its classifier
// is the one the object classifies with: the service's for its service's object that
// classifies for the whole service (config.Policy.ServiceClassified), so that the chains that
// share it build it alike, with one fingerprint, and do not replace each other's at every
// build (a method whose classifier differs gets the section's ForClassifier step over it).
func fingerprint(sec section.Section, v any, mp, sp config.Policy, deps []any) objcache.Fingerprint {
	cl := mp.Classifier
	if mp.ServiceClassified(sp, sec.Key()) {
		cl = sp.Classifier
	}
	return objcache.Fingerprint{Value: v, Uses: sec.Uses(v), Classifier: cl, Budget: mp.Budget, Deps: deps}
}

// valuesEqual compares two values of section sec, as an object's fingerprint does.
func valuesEqual(sec section.Section) func(a, b any) bool {
	return func(a, b any) bool {
		if a == nil || b == nil { // an Always section that is off
			return a == nil && b == nil
		}
		return sec.Equal(a, b)
	}
}

// deadliner is a step that can declare its deadline to an attempt loop right after it,
// instead of setting it in a context around the loop (deadline.Policy), for a call that
// started at now (zero: it reads the clock); DeadlineFor, for a call made with opts, runs the
// call's grpc.OnFinish callbacks should its event panic (see deadline.Policy.DeadlineFor).
type deadliner interface {
	DeadlineAt(ctx context.Context, method string, now time.Time) (time.Time, bool)
	DeadlineFor(ctx context.Context, method string, now time.Time, opts []grpc.CallOption) (time.Time, bool)
}

// attemptLoop is a step that makes the attempts of a call, takes a deadline declared by the
// step before it and shares the call's timing with the runner (retry.Policy): the runner
// counts attempts as entries to the step after it.
type attemptLoop interface {
	InvokeKept(ctx context.Context, t *section.Timing, declared time.Time, kept time.Duration, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error
}

// unaryStep is one step of a unary chain: an interceptor, the same step to run flat if it has
// one (section.UnaryStep), and what the runner folds (see foldDeadline).
type unaryStep struct {
	ic   grpc.UnaryClientInterceptor
	flat section.UnaryStep // run instead of ic, continued by the runner's next step
	gate section.Gate      // flat's Enter and Exit: run with the gates after it in one frame
	dl   deadliner         // a step that declares a deadline; folded into the attempt loop after it
	loop attemptLoop       // an attempt loop
	// hedge says the step is the hedging policy's (section.RankHedge), which sends several
	// requests for each attempt it is given: the runner counts attempts after it (countAt).
	hedge bool
}

// foldDeadline merges a deadline step followed at once by an attempt loop into one step: the
// deadline is declared to the loop (retry.InvokeTimed), which bounds each attempt's one
// context by it instead of nesting a context for it around the loop.
func foldDeadline(steps []unaryStep) []unaryStep {
	out := make([]unaryStep, 0, len(steps))
	for i := 0; i < len(steps); i++ {
		if st := steps[i]; st.dl != nil && i+1 < len(steps) && steps[i+1].loop != nil {
			out = append(out, unaryStep{dl: st.dl, loop: steps[i+1].loop})
			i++
			continue
		}
		st := steps[i]
		st.dl = nil
		out = append(out, st)
	}
	return out
}

// sectionErr is err of section k in the chain or configuration named name: "name: k: err",
// with k once when err starts with it already (a policy package's errors start with its name,
// "fallback: reply_json for ...", or name a field of the section, "rate_limit.redis ...").
// locatedSectionErr is the error of section k of the chain of fullMethod, whose build or
// check refused it with err: a field it names (a fallback's reply_json, a rate limit's redis)
// by its path in cfg, with the file and line when cfg was parsed; else sectionErr's.
func locatedSectionErr(cfg *config.Config, fullMethod string, k section.Key, err error) error {
	if located := cfg.LocateSectionError(fullMethod, config.Section(k), err); located != nil {
		return fmt.Errorf("%s: %w", fullMethod, locatedErr{located, err})
	}
	return sectionErr(fullMethod, k, err)
}

// locatedErr is err, a section's error, as the configuration's field it names: it reads as
// located and is both (errors.Is and errors.As find breaker.ErrSharedConflict in it, say).
type locatedErr struct {
	located error
	err     error
}

func (e locatedErr) Error() string   { return e.located.Error() }
func (e locatedErr) Unwrap() []error { return []error{e.located, e.err} }

// sectionErr is err, the error of section k of the chain name, named once by the section: a
// field error by its path in the section (k.path).
func sectionErr(name string, k section.Key, err error) error {
	// A field error itself, not one wrapped: a wrapper's own words would be lost.
	if fe, ok := err.(*fielderr.Error); ok && fe.Path != "" { //nolint:errorlint // see above
		return fmt.Errorf("%s: %w", name, &fielderr.Error{Path: string(k) + "." + fe.Path, Value: fe.Value, Rule: fe.Rule})
	}
	if msg := err.Error(); strings.HasPrefix(msg, string(k)+": ") || strings.HasPrefix(msg, string(k)+".") {
		return fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Errorf("%s: %s: %w", name, k, err)
}

// hasLoop reports whether steps have an attempt loop.
func hasLoop(steps []unaryStep) bool {
	return slices.ContainsFunc(steps, func(st unaryStep) bool { return st.loop != nil })
}

// attemptFinished emits the AttemptFinished of the one attempt of a call through a chain
// without an attempt loop: the event a retry loop of one attempt emits, policy label
// included, so that consumers (bulwark_attempts_total) see every attempt whether a retry
// section is on or not.
func (c *chain) attemptFinished(sink observe.Sink, clk clock.Clock, method string, t0 time.Time, err error) {
	v := c.classifier.Classify(err)
	now := clock.Later(clk, t0)
	sink.Observe(observe.Event{
		Kind: observe.AttemptFinished, Time: now, Service: c.policy.Service, Method: method,
		Policy: observe.PolicyRetry, Attempt: 1, Code: v.Code, Class: v.Class, Duration: now.Sub(t0),
	})
}

// countAt returns the step whose entries are a call's attempts, the requests it sends: the one
// after the last step that makes attempts, the attempt loop or the hedging policy below it
// (len(steps): the invoker), or, with neither, the first, entered once per call. After the
// loop alone, a hedged round would count as one attempt however many requests it sent.
func countAt(steps []unaryStep) int {
	n := 0
	for i, st := range steps {
		if st.loop != nil || st.hedge {
			n = i + 1
		}
	}
	return n
}

// A chain without an attempt loop still reports its one attempt to the sink: the runner
// emits AttemptFinished for the steps from attemptAt, the first that acts on each attempt
// (ranked after section.RankRetry, where an attempt loop would be), as a loop of one attempt
// would.

// unaryChain runs the steps of a unary chain in order. A run of gates (section.Gate) is run in
// one frame (see gates); another flat step (section.UnaryStep) is called with the runner as
// its next step; the invokers that link an interceptor step to the next are bound once per
// pooled runner. So a call allocates nothing for the chain, and the
// runner counts the attempts of the call (see countAt): retry.Info's count, the requests sent
// (attempts rejected by a later step and hedges included), without a retry.Report per call. A runner
// goes back to the pool when the call returns: no unary step keeps its invoker after
// returning (hedge waits for every attempt it started), and a call that panics drops its
// runner.
type unaryChain struct {
	// The fields a call on the suite's direct and fused paths reads come first, in the first
	// 64 bytes, and the struct's size is a multiple of 64 (its size class then starts every
	// object on a cache line): a cold call misses one line of it, not three
	// (TestChainHotFieldsShareALine).

	// dl is steps[0].dl (the deadline step folded into the attempt loop), kept here so that
	// the direct paths do not read the steps.
	dl deadliner
	// gated, when the chain is an attempt loop whose attempts can pass gates itself (the
	// retry policy's InvokeGated) followed by gates alone (tail, perhaps none), is that loop:
	// the suite runs such a chain without a runner (see Suite.direct). A pointer, not an
	// interface: a call reads no method table.
	gated *retry.Policy
	tail  *section.Gates
	// keptAt is the attempt loop whose attempts reach the invoker through instant gates only
	// (see keptLoop), with the real clock; -1: none.
	keptAt int
	memo   atomic.Pointer[keptMemo]
	// plainInstant says that the gates after keptAt are instant for a call without options of
	// theirs (section.GRPCOptions): kept need not ask them. Set by askInstants as the build
	// that composed the chain commits, before any call runs it (false until then).
	plainInstant bool
	// rm is gated's state of the chain's method, for a chain built for one full method (see
	// retry.Method); zero for a chain that serves several.
	rm retry.Method

	steps     []unaryStep
	runs      []gateRun // for a gate step i, the run of gates from i (see gateRuns)
	countAt   int
	observeAt int               // the step around which the runner emits AttemptFinished; -1: none
	timed     bool              // the first step is the attempt loop: it shares the call's timing (see runner)
	instants  []section.Instant // the gates after keptAt
	clk       clock.Clock
	c         *chain
	pool      sync.Pool
	_         [unaryChainPad]byte
}

// unaryChainPad rounds unaryChain up to 256 bytes, a size class whose objects start on cache
// lines (see unaryChain; TestChainHotFieldsShareALine checks it).
const unaryChainPad = 32

// keptMemo is what kept last read of grpc's timeout for the methods of a chain on the
// connections it serves: up to keptMethods of them (a chain shared by a service's methods
// serves several), each trusted until its until. Stored, it is not changed: a read that
// changes it stores a copy. It holds its connections until later reads replace them.
type keptMemo struct {
	n       int
	entries [keptMethods]keptEntry
}

// keptEntry is grpc's timeout for one method on one connection, trusted until until.
type keptEntry struct {
	cc      *grpc.ClientConn
	method  string
	timeout time.Duration
	until   time.Time
}

// keptMethods bounds the methods and connections one chain's memo holds; past it, the entry
// that expires first makes way.
const keptMethods = 8

// keptFor is how long kept trusts what it read of a connection's method config. grpc-go's
// GetMethodConfig takes the connection's lock and looks the method up in maps: a tenth of the
// suite's own work per call, and a lock every call on the connection shares. The config
// changes only when the connection's resolver sends another (a default service config never
// does); for up to keptFor after such a change, attempts may be bounded by the timeout read
// before it instead of the new one.
const keptFor = time.Second

func newUnaryChain(steps []unaryStep, attemptAt int, clk clock.Clock, c *chain) *unaryChain {
	uc := &unaryChain{steps: foldDeadline(steps), observeAt: -1, clk: clk, c: c}
	uc.countAt = countAt(uc.steps)
	uc.timed = len(uc.steps) > 0 && uc.steps[0].loop != nil
	if !hasLoop(uc.steps) {
		uc.observeAt = attemptAt // no fold without a loop: the indexes are steps'
	}
	uc.runs = make([]gateRun, len(uc.steps))
	for i, j := range gateRuns(uc.steps, uc.countAt, uc.observeAt) {
		if uc.steps[i].gate == nil {
			continue
		}
		// The rest is the invoker itself when the run ends the chain and the runner neither
		// counts nor observes there, else the runner's step after the run (r.next[j-1]).
		next := j - 1
		if j == len(uc.steps) && j != uc.countAt && j != uc.observeAt {
			next = -1
		}
		uc.runs[i] = gateRun{g: gatesOf(uc.steps[i:j]), next: next, first: i == 1 && uc.timed}
	}
	if len(uc.steps) > 0 {
		uc.gated, uc.tail = gatedChain(uc)
		uc.dl = uc.steps[0].dl
		if _, m := grpcmethod.Split(c.method); uc.gated != nil && m != otherMethod {
			uc.rm = uc.gated.Method(c.method)
		}
	}
	uc.keptAt, uc.instants = -1, nil
	if clock.OrReal(clk) == clock.Real {
		uc.keptAt, uc.instants = keptLoop(uc.steps)
	}
	uc.pool.New = func() any {
		r := &unaryRunner{uc: uc, steps: uc.steps, countAt: uc.countAt, next: make([]grpc.UnaryInvoker, len(uc.steps))}
		for i := range uc.steps {
			// What follows an interceptor (the attempt loop, a hedging policy): straight to
			// gates or to another interceptor, without RunStep's and call's frames under
			// every attempt.
			if j := i + 1; j < len(uc.steps) && j != uc.observeAt {
				switch st := &uc.steps[j]; {
				case st.gate != nil:
					r.next[i] = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
						if j == r.countAt {
							r.attempts.Add(1)
						}
						g, next, start := r.gates(j)
						return g.Invoke(ctx, start, method, req, reply, cc, next, opts)
					}
					continue
				case st.flat == nil && st.loop == nil: // an interceptor
					r.next[i] = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
						if j == r.countAt {
							r.attempts.Add(1)
						}
						return st.ic(ctx, method, req, reply, cc, r.next[j], opts...)
					}
					continue
				}
			}
			r.next[i] = func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				return r.RunStep(i+1, ctx, method, req, reply, cc, opts)
			}
		}
		return r
	}
	return uc
}

// askInstants sets plainInstant from what uc's gates after its attempt loop answer now, and
// has each of its runs of gates decide again which gates a call enters with its ClientConn
// (section.Gates.Decide). A build asks them as it commits, not as it composes uc, before any
// call runs uc: a kept object's new settings (a bulkhead's max_wait, section.Spec.Retune) are
// given to it at the commit, and a gate that waits from then on must not be taken for one
// that does not (a wait the ClientConn's shutdown would not cut short), nor one that no
// longer waits for one that does.
func (uc *unaryChain) askInstants() {
	uc.plainInstant = uc.keptAt >= 0 && !slices.ContainsFunc(uc.instants, func(g section.Instant) bool { return !g.Instant(nil) })
	for _, r := range uc.runs {
		if r.g != nil {
			r.g.Decide()
		}
	}
	if uc.tail != nil {
		uc.tail.Decide()
	}
}

// gatesOf returns the gates of steps, all gates, at most section.MaxGates.
func gatesOf(steps []unaryStep) *section.Gates {
	gs := make([]section.Gate, 0, len(steps))
	for _, st := range steps {
		gs = append(gs, st.gate)
	}
	g, _ := section.NewGates(gs...)
	return g
}

// gatedChain returns the attempt loop of uc's steps and the gates after it when the steps are
// such a loop (a deadline folded in it or not) followed by one run of gates that ends the
// chain (uc.runs[1]), or by nothing, and the loop runs gates itself (retry.Policy's
// InvokeGated); else nil.
func gatedChain(uc *unaryChain) (*retry.Policy, *section.Gates) {
	l, ok := uc.steps[0].loop.(*retry.Policy)
	switch {
	case !ok:
		return nil, nil
	case len(uc.steps) == 1:
		g, _ := section.NewGates()
		return l, g
	case uc.runs[1].g != nil && uc.runs[1].next == -1:
		return l, uc.runs[1].g
	}
	return nil, nil
}

// keptLoop returns the attempt loop of steps whose attempts can reach the invoker at once,
// and the gates between them: the loop is followed by gates that can tell they are instant
// (section.Instant) and nothing else. Else it returns -1.
func keptLoop(steps []unaryStep) (int, []section.Instant) {
	at := slices.IndexFunc(steps, func(st unaryStep) bool { return st.loop != nil })
	if at < 0 {
		return -1, nil
	}
	var gates []section.Instant
	for _, st := range steps[at+1:] {
		g, ok := st.gate.(section.Instant)
		if !ok {
			return -1, nil
		}
		gates = append(gates, g)
	}
	return at, gates
}

// kept returns the timeout grpc applies to every attempt of a call of method on cc (its
// method config's, see Suite.ServiceConfig), when the call's gates let its attempts reach
// grpc at once; else 0. The attempt loop makes no context of its own for an attempt that
// timeout ends as its own per-attempt timeout would (retry.Policy.InvokeKept). now, when not
// zero, is the call's start: what kept read for the same method and connection less than
// keptFor before is reused (see keptMemo). Not inlined: its frame is not on the stack under
// the call.
//
//go:noinline
func (uc *unaryChain) kept(cc *grpc.ClientConn, method string, opts []grpc.CallOption, now time.Time) time.Duration {
	if cc == nil {
		return 0
	}
	if !uc.plainInstant || !section.GRPCOptions(opts) {
		for _, g := range uc.instants {
			if !g.Instant(opts) {
				return 0
			}
		}
	}
	m := uc.memo.Load()
	if m != nil && !now.IsZero() {
		for i := range m.n {
			if e := &m.entries[i]; e.cc == cc && e.method == method {
				if now.Before(e.until) {
					return e.timeout
				}
				break
			}
		}
	}
	var t time.Duration
	if mc := cc.GetMethodConfig(method); mc.Timeout != nil {
		t = *mc.Timeout
	}
	// No timeout is not remembered: a connection's first calls come before its resolver has
	// given grpc the service config. Nor is a method too long to keep (a :path may be
	// megabytes long): its calls read the connection each time.
	if t > 0 && !now.IsZero() && grpcmethod.Keepable(method) {
		uc.memo.Store(m.with(keptEntry{cc: cc, method: method, timeout: t, until: now.Add(keptFor)}, now))
	}
	return t
}

// with returns a copy of m (nil: empty) that holds e in place of its method and connection's
// entry and of expired ones; when full, e takes the place of the entry that expires first.
// Two calls that store at once may lose one's entry: it is read again at its next call.
func (m *keptMemo) with(e keptEntry, now time.Time) *keptMemo {
	out := new(keptMemo)
	if m != nil {
		for _, old := range m.entries[:m.n] {
			if (old.cc != e.cc || old.method != e.method) && now.Before(old.until) {
				out.entries[out.n] = old
				out.n++
			}
		}
	}
	if out.n == keptMethods {
		first := 0
		for i := range out.entries {
			if out.entries[i].until.Before(out.entries[first].until) {
				first = i
			}
		}
		out.entries[first] = e
		return out
	}
	out.entries[out.n] = e
	out.n++
	return out
}

// runner returns a pooled runner for one call, which the caller started at start (zero: the
// caller does not time it), runs with do and ends with done. After do, the runner holds the
// attempts made (see unaryChain) and, in timing.End, when the call ended if the chain knows
// (else zero); sink, if not nil, gets the AttemptFinished of a chain without an attempt loop.
//
// The clock is read once for the caller's timing and the chain's: an attempt loop that is the
// chain's first step (a deadline folded in it) takes start as its own and gives back the
// time it saw the call's outcome (section.Timing), and the folded deadline is measured from
// start. An outer step (a fallback) could spend time before or after the loop, so then the
// loop reads the clock itself.
func (uc *unaryChain) runner(start time.Time, sink observe.Sink) *unaryRunner {
	r := uc.pool.Get().(*unaryRunner)
	r.sink = sink
	r.attempts.Store(0)
	r.timing = section.Timing{Start: start, Sink: sink}
	return r
}

// do runs the call through the chain.
func (r *unaryRunner) do(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	r.invoker = invoker
	if r.uc.timed {
		// Step 0 is the attempt loop, where the runner neither counts nor observes: straight
		// to it, a frame less under every attempt.
		return r.call(0, ctx, method, req, reply, cc, opts)
	}
	return r.RunStep(0, ctx, method, req, reply, cc, opts)
}

// done returns r to its chain's pool, holding nothing of its call.
func (r *unaryRunner) done() {
	r.invoker, r.sink = nil, nil
	r.uc.pool.Put(r)
}

// unaryRunner is one call's pass through a unaryChain. attempts is atomic because hedged
// attempts may reach the counted step from goroutines of their own.
type unaryRunner struct {
	uc       *unaryChain
	sink     observe.Sink
	steps    []unaryStep
	countAt  int
	invoker  grpc.UnaryInvoker
	next     []grpc.UnaryInvoker
	attempts atomic.Int32
	timing   section.Timing // the call's, when the chain is timed (see runner); else zero
	round    attempt.Round  // observed's, in a hedged chain (see chain.hedged)
}

// RunStep runs the chain from step i (section.Runner: a flat step's next).
func (r *unaryRunner) RunStep(i int, ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption) error {
	if i == r.countAt {
		r.attempts.Add(1)
	}
	if i == r.uc.observeAt && r.sink != nil {
		return r.observed(i, ctx, method, req, reply, cc, opts)
	}
	if i < len(r.steps) { // The common cases, without call's frame.
		if r.steps[i].gate != nil {
			g, next, start := r.gates(i)
			return g.Invoke(ctx, start, method, req, reply, cc, next, opts)
		}
		if r.steps[i].flat != nil {
			return r.steps[i].flat.InvokeStep(ctx, method, req, reply, cc, opts, section.NextStep(r, i+1))
		}
	}
	return r.call(i, ctx, method, req, reply, cc, opts)
}

// maxGates is how many gates one frame of gates runs (section.Gates); a longer run goes on in
// another.
const maxGates = section.MaxGates

// gateRuns returns, for each gate step i, the end of the run of gates from i: the first step
// after i that is not a gate, or where the runner counts or observes attempts (countAt,
// observeAt), which RunStep must reach. At most maxGates long.
func gateRuns(steps []unaryStep, countAt, observeAt int) []int {
	end := make([]int, len(steps))
	for i := range steps {
		j := i + 1
		for j < len(steps) && j-i < maxGates && steps[j].gate != nil && j != countAt && j != observeAt {
			j++
		}
		end[i] = j
	}
	return end
}

// gateRun is a run of gates of a chain, from a gate step i to the next step that is not a
// gate or where the runner counts or observes: the gates, where the call goes on after them
// (r.next[next], or the invoker when next is -1), and whether they are the first step after an
// attempt loop that is the chain's first step (first), where an attempt made at the call's
// start passes the start to the gates (see section.Gates.Invoke).
type gateRun struct {
	g     *section.Gates
	next  int
	first bool
}

// gates returns the run of gates from step i (see gateRun), what follows it, and the start
// the gates may take. Its callers call the run's Invoke themselves, so that no frame of the
// runner's lies between theirs and the gates' under the call; it is inlined in them.
func (r *unaryRunner) gates(i int) (*section.Gates, grpc.UnaryInvoker, *time.Time) {
	run, next := &r.uc.runs[i], r.invoker
	if run.next >= 0 {
		next = r.next[run.next]
	}
	var start *time.Time
	if run.first && r.attempts.Load() == 1 && !r.timing.Start.IsZero() {
		start = &r.timing.Start
	}
	return run.g, next, start
}

// observed calls step i and emits the AttemptFinished of a chain without an attempt loop.
func (r *unaryRunner) observed(i int, ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption) error {
	t0 := r.uc.clk.Now()
	if !r.uc.c.hedged {
		err := r.call(i, ctx, method, req, reply, cc, opts)
		r.uc.c.attemptFinished(r.sink, r.uc.clk, method, t0, err)
		return err
	}
	// A hedging policy reports the attempts of a call it hedges (see chain.hedged).
	r.round.Reset(0, time.Time{}, nil) // the hedge measures the call from its own start
	err := r.call(i, ctx, method, req, reply, cc, append(opts[:len(opts):len(opts)], &r.round))
	if r.round.Reported() == 0 {
		r.uc.c.attemptFinished(r.sink, r.uc.clk, method, t0, err)
	}
	return err
}

// call calls step i (the invoker after the last).
func (r *unaryRunner) call(i int, ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption) error {
	if i == len(r.steps) {
		return r.invoker(ctx, method, req, reply, cc, opts...)
	}
	st := &r.steps[i]
	if st.gate != nil {
		g, next, start := r.gates(i)
		return g.Invoke(ctx, start, method, req, reply, cc, next, opts)
	}
	if st.flat != nil {
		return st.flat.InvokeStep(ctx, method, req, reply, cc, opts, section.NextStep(r, i+1))
	}
	if st.loop != nil {
		var t *section.Timing
		if i == 0 && r.uc.timed {
			t = &r.timing
			if t.Start.IsZero() && (st.dl != nil || i == r.uc.keptAt) {
				// The loop's start, which it takes from t: read once for the deadline, kept's
				// memo and the loop.
				t.Start = r.uc.clk.Now()
			}
		}
		var declared time.Time
		if st.dl != nil {
			declared, _ = st.dl.DeadlineFor(ctx, method, r.timing.Start, opts)
		}
		var kept time.Duration
		if i == r.uc.keptAt {
			kept = r.uc.kept(cc, method, opts, r.timing.Start)
		}
		return st.loop.InvokeKept(ctx, t, declared, kept, method, req, reply, cc, r.next[i], opts...)
	}
	return st.ic(ctx, method, req, reply, cc, r.next[i], opts...)
}

// streamChain runs the steps of a stream chain in order, counting attempts as unaryChain
// does (a stream's attempts are the streams the attempt loop opens), so that CallFinished
// needs no retry.Report.
type streamChain struct {
	steps   []grpc.StreamClientInterceptor
	countAt int
	loop    bool // the chain has an attempt loop; else the suite emits AttemptFinished at the end
	// observeAt, in a chain without an attempt loop, is the step from which the stream is its
	// one attempt (unaryChain's observeAt): an observed stream's attempt ends there, below the
	// steps before it (a fallback that answers in its place); -1: none.
	observeAt int
	// next[i], when not nil, is the streamer step i is handed, built once for every stream:
	// it goes on with the stream's runner, which the context it gets carries (see
	// streamRunner), at step i+1. Nil for a step whose section is not one of bulwark's
	// (streamDerives) and the steps after it: the rest of its chain could be opened with a
	// context that does not carry the runner, so each of its streams hands them funcs of
	// their own.
	next []grpc.Streamer
}

// streamDerives reports whether a step of rank r opens the rest of a stream's chain with a
// context derived from its own (and so keeps its values): the built-in policies' stream
// steps do, and the steps that pass streams by (passStream). The interceptors package links
// every built-in policy, whose ranks no other section can then take (section.Register).
func streamDerives(r section.Rank) bool {
	switch r {
	case section.RankFallback, section.RankDeadline, section.RankRetry, section.RankHedge,
		section.RankBreaker, section.RankThrottle, section.RankRateLimit, section.RankBulkhead:
		return true
	}
	return false
}

// newStreamChain returns the chain of steps; unary holds the same steps' unary side, which
// tells where the attempt loop is, attemptAt the first step that acts on each attempt, and
// derives, for each step, whether it opens the rest of the chain with a context derived from
// its own (see streamChain.next).
func newStreamChain(unary []unaryStep, steps []grpc.StreamClientInterceptor, derives []bool, attemptAt int) *streamChain {
	sc := &streamChain{steps: steps, countAt: countAt(unary), loop: hasLoop(unary), observeAt: -1}
	if !sc.loop {
		sc.observeAt = attemptAt
	}
	sc.next = make([]grpc.Streamer, len(steps))
	for i := range steps {
		if !derives[i] {
			// The steps after it may get a context without the runner too.
			break
		}
		sc.next[i] = func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			r, _ := ctx.Value(sc).(*streamRunner)
			if r == nil {
				return nil, status.Errorf(grpccodes.Internal, "interceptors: step %d of the stream chain of %s opened the rest of the chain with a context not derived from its own", i, method)
			}
			return r.step(i+1, ctx, desc, cc, method, opts)
		}
	}
	return sc
}

// open opens a stream through the chain with r, which it sets up for the stream, noting how
// its one attempt ends when the chain has no attempt loop (see streamRunner.attemptErr). The
// runner lives as long as the stream: an attempt loop opens later attempts while the caller
// reads. The stream returned was opened with r as its context (see streamRunner).
func (sc *streamChain) open(r *streamRunner, ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts []grpc.CallOption) (grpc.ClientStream, error) {
	r.Context, r.sc, r.streamer, r.observed = ctx, sc, streamer, true
	return r.step(0, r, desc, cc, method, opts)
}

// interceptor opens a stream through the chain for a suite without a sink: nothing reports
// its attempts.
func (sc *streamChain) interceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	r := &streamRunner{Context: ctx, sc: sc, streamer: streamer}
	return r.step(0, r, desc, cc, method, opts)
}

// streamRunner is one stream's pass through a streamChain. It is the context the chain's first
// step gets: the caller's, which also carries the runner to the streamers of the chain
// (streamChain.next), so that no step's streamer is built for each stream. Its deadline, end
// and values are the caller's context's.
type streamRunner struct {
	context.Context // the caller's
	sc              *streamChain
	streamer        grpc.Streamer
	attempts        atomic.Int32
	observed        bool                  // the suite reports the stream's attempt (see observe)
	attempt         atomic.Pointer[error] // how the stream's one attempt ended, once it has (see observe)
}

// Value returns r for its chain as key (see streamChain.next), else the caller's context's
// value for key.
func (r *streamRunner) Value(key any) any {
	if key == any(r.sc) {
		return r
	}
	return r.Context.Value(key)
}

// AfterFunc lets a context derived from r, when the caller's context is not one the context
// package can attach to without a goroutine by itself, attach as it would to the caller's: to
// the caller's own AfterFunc when it has one (clock.WithDeadline's, a retry stream attempt's),
// so that f runs as the caller's context ends, not in a goroutine started then; else through
// context.AfterFunc, which watches it as the context package would.
func (r *streamRunner) AfterFunc(f func()) func() bool {
	if a, ok := r.Context.(afterFuncer); ok {
		return a.AfterFunc(f)
	}
	return context.AfterFunc(r.Context, f)
}

// afterFuncer is a context the context package attaches to with its AfterFunc method.
type afterFuncer interface {
	AfterFunc(f func()) func() bool
}

// attemptErr returns the error the stream's one attempt ended with, when the runner saw it end
// (see observe), else err, the stream's.
func (r *streamRunner) attemptErr(err error) error {
	if p := r.attempt.Load(); p != nil {
		return *p
	}
	return err
}

// observe opens the stream's one attempt from step i, observeAt, and notes how it ends: its
// open error, or the end of the stream below the steps before it (a fallback that answered
// may have replaced its error). An abandoned stream's end (Caller, Transport) is not noted:
// the stream the caller holds tells it. But ctx is the context of the steps before i: one
// that ends by its deadline (the deadline step's, while nobody was in a call on the stream)
// ended the attempt DeadlineExceeded whether or not the caller goes on reading, and a fallback
// may answer that read in its place; that end is noted. (Should the deadline be the caller's
// own, the stream the caller holds is abandoned, and reports nothing.)
func (r *streamRunner) observe(i int, ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts []grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := r.next(i, ctx, desc, cc, method, opts)
	if err != nil {
		r.attempt.Store(&err)
		return nil, err
	}
	w := streamend.Watch(ctx, desc, cs)
	w.OnEndOf(r) // r itself, no closure: no allocation.
	return w, nil
}

// StreamEnded notes how the stream's one attempt ended, below the steps before observeAt (see
// observe).
func (r *streamRunner) StreamEnded(e streamend.End) {
	switch e.Cause {
	case streamend.Transport, streamend.Panic:
	case streamend.Caller:
		if errors.Is(e.Err, context.DeadlineExceeded) {
			r.attempt.Store(&e.Err)
		}
	default:
		r.attempt.Store(&e.Err)
	}
}

func (r *streamRunner) step(i int, ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts []grpc.CallOption) (grpc.ClientStream, error) {
	if i == r.sc.countAt {
		r.attempts.Add(1)
	}
	if i == r.sc.observeAt && r.observed {
		return r.observe(i, ctx, desc, cc, method, opts)
	}
	return r.next(i, ctx, desc, cc, method, opts)
}

// next runs step i (the streamer after the last).
func (r *streamRunner) next(i int, ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts []grpc.CallOption) (grpc.ClientStream, error) {
	if i == len(r.sc.steps) {
		return r.streamer(ctx, desc, cc, method, opts...)
	}
	if next := r.sc.next[i]; next != nil {
		return r.sc.steps[i](ctx, desc, cc, method, next, opts...)
	}
	return r.sc.steps[i](ctx, desc, cc, method, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return r.step(i+1, ctx, desc, cc, method, opts)
	}, opts...)
}

// callSinkOptions adds to a call's options those by which the chain's steps send the call's
// own events to the call sink too (see observe.WithCallSink): sink is the suite's sink and
// the call sink.
func (c *chain) callSinkOptions(opts []grpc.CallOption, sink observe.Sink) []grpc.CallOption {
	out := make([]grpc.CallOption, len(opts), len(opts)+len(c.callSinks))
	copy(out, opts)
	for _, f := range c.callSinks {
		out = append(out, f(sink))
	}
	return out
}
