package interceptors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Suite holds the policies of every service a configuration names and serves them as client
// interceptors. Build it with New; it is safe for concurrent use.
type Suite struct {
	o     options
	clk   clock.Clock
	state atomic.Pointer[state]

	mu   sync.Mutex // serialises building chains and reloads.
	objs objects    // Guarded by mu: policy objects, kept across reloads while unchanged.

	beforeBuild func() // test hook: runs when a call misses the chain cache, before s.mu.
}

// state is one configuration's chains. It never changes once published, except for its cache
// of chains, which fills as methods are first called.
type state struct {
	cfg    *config.Config
	chains sync.Map // full method → *chain
	// shared holds, by service, the one chain of the service's methods that have no entry of
	// their own in cfg (see chain): however many such names calls bring, they cost one chain.
	shared sync.Map // service → *chain
}

// otherMethod is the method name a service's shared chain is built for: no method entry can
// have it, as it is not an identifier.
const otherMethod = "*"

// chain is the composed policies of one full method.
type chain struct {
	policy     config.Policy
	classifier *codes.Classifier
	unary      grpc.UnaryClientInterceptor
	uc         *unaryChain
	stream     grpc.StreamClientInterceptor
	err        error // the chain could not be built; calls fail with it
}

type retryEntry struct {
	fp fingerprint
	p  *retry.Policy
}

type bulkheadEntry struct {
	fp fingerprint
	b  *bulkhead.Bulkhead
}

type hedgeEntry struct {
	fp fingerprint
	p  *hedge.Policy
}

type throttleEntry struct {
	fp fingerprint
	t  *throttle.Throttle
}

type limiterEntry struct {
	fp    fingerprint
	p     *ratelimit.Policy
	close func() error
}

type objects struct {
	breakers  map[string]fingerprint // the fingerprint each registry breaker was last taken with
	retries   map[string]retryEntry
	bulkheads map[string]bulkheadEntry
	hedges    map[string]hedgeEntry
	throttles map[string]throttleEntry
	limiters  map[string]limiterEntry
	retired   []func() error // closers of replaced limiters, run by Close
}

// New builds a suite from cfg (nil means config.Builtin()). It builds at once the chains of
// every method of every service cfg names whose descriptor is registered, so that their
// breakers and bulkheads exist (for metrics) before the first call; other methods are built on
// their first call.
func New(cfg *config.Config, opts ...Option) (*Suite, error) {
	s := &Suite{}
	for _, o := range opts {
		o.apply(&s.o)
	}
	s.clk = clock.OrReal(s.o.clock)
	if s.o.breakers == nil {
		s.o.breakers = &breaker.Registry{}
	}
	if s.o.limiters == nil {
		s.o.limiters = ratelimit.NewRegistry(ratelimit.WithClock(s.clk))
	}
	s.objs = objects{breakers: map[string]fingerprint{}, retries: map[string]retryEntry{}, bulkheads: map[string]bulkheadEntry{}, hedges: map[string]hedgeEntry{},
		throttles: map[string]throttleEntry{}, limiters: map[string]limiterEntry{}}
	if err := s.Reload(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload applies cfg (nil means config.Builtin()) atomically. Calls in flight keep the policies
// they started with. Policy objects whose settings did not change are kept, with their state.
// A configuration rejected for its content changes nothing.
func (s *Suite) Reload(cfg *config.Config) error {
	if cfg == nil {
		cfg = config.Builtin()
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("bulwark: invalid configuration: %w", err)
	}
	st := &state{cfg: cfg.Clone()}
	// First every chain's stateless steps, which is where a configuration that passed
	// Validate can still fail (a fallback reply that does not fit its method); only when all
	// succeed are shared objects (breakers in the registry, bulkheads, limiters, retry
	// budgets) taken or replaced, so a rejected configuration leaves them as they were.
	var ps []*prepared
	for _, svc := range st.cfg.ServiceNames() {
		for _, m := range methodsOf(st.cfg, svc) {
			p := s.prepare(st.cfg, "/"+svc+"/"+m)
			if p.c.err != nil {
				return p.c.err
			}
			ps = append(ps, p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		c := s.finishLocked(p)
		if c.err != nil {
			return c.err
		}
		st.chains.Store(p.fullMethod, c)
	}
	s.state.Store(st)
	return nil
}

// Config returns a copy of the configuration in force.
func (s *Suite) Config() *config.Config { return s.state.Load().cfg.Clone() }

// Breakers returns the registry the suite's breakers live in, named by service (or by full
// method for method-scoped breakers).
func (s *Suite) Breakers() *breaker.Registry { return s.o.breakers }

// Bulkheads returns the suite's bulkheads by name (service, or full method for a method with
// bulkhead settings of its own).
func (s *Suite) Bulkheads() map[string]*bulkhead.Bulkhead {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*bulkhead.Bulkhead, len(s.objs.bulkheads))
	for n, e := range s.objs.bulkheads {
		out[n] = e.b
	}
	return out
}

// Throttles returns the suite's adaptive throttles by name (service, or full method for a
// method with adaptive_throttle settings of its own), for metrics such as
// promobs.Metrics.TrackThrottle.
func (s *Suite) Throttles() map[string]*throttle.Throttle {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*throttle.Throttle, len(s.objs.throttles))
	for n, e := range s.objs.throttles {
		out[n] = e.t
	}
	return out
}

// Policy returns the resolved policy in force for a full method.
func (s *Suite) Policy(fullMethod string) config.Policy {
	return s.state.Load().cfg.Resolve(fullMethod)
}

// Close releases what the suite opened (connections of fleet-wide rate limiters).
func (s *Suite) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for n, e := range s.objs.limiters {
		if e.close != nil {
			errs = append(errs, e.close())
		}
		delete(s.objs.limiters, n)
	}
	for _, f := range s.objs.retired {
		errs = append(errs, f())
	}
	s.objs.retired = nil
	return errors.Join(errs...)
}

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
	if d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc)); err == nil {
		if sd, ok := d.(protoreflect.ServiceDescriptor); ok {
			ms := sd.Methods()
			for i := range ms.Len() {
				if m := string(ms.Get(i).Name()); !slices.Contains(out, m) {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// shareable reports whether the methods of svc without entries of their own share one chain:
// they resolve to the service's policy, and no part of it is per method (a fallback, whose
// reply is typed by the method; a breaker scoped to the method).
func (st *state) shareable(svc string) bool {
	p := st.cfg.ResolveService(svc)
	return p.Fallback == nil && (p.Breaker == nil || p.Breaker.Scope != breaker.ScopeMethod)
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
// descriptor of a configured service. The others resolve to their
// service's policy: unless that policy has a part per method (see shareable), they share one
// chain per service, so that names from outside the configuration and the registered
// descriptors (a generic proxy, names from user input) cost no state, objects or cache
// entries of their own. Calls of such a method take two lookups that miss and hit.
func (st *state) chain(s *Suite, fullMethod string) *chain {
	if c, ok := st.chains.Load(fullMethod); ok {
		return c.(*chain)
	}
	svc := grpcmethod.Service(fullMethod)
	if c, ok := st.shared.Load(svc); ok {
		return c.(*chain)
	}
	if s.beforeBuild != nil {
		s.beforeBuild()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.state.Load()
	if c, ok := cur.chains.Load(fullMethod); ok {
		return c.(*chain)
	}
	if c, ok := cur.shared.Load(svc); ok {
		return c.(*chain)
	}
	if cur.shareable(svc) {
		c := s.buildLocked(cur.cfg, "/"+svc+"/"+otherMethod)
		cur.shared.Store(svc, c)
		return c
	}
	c := s.buildLocked(cur.cfg, fullMethod)
	cur.chains.Store(fullMethod, c)
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
			return c.failed()
		}
		sink := s.o.sink
		if cs := observe.CallSinkFrom(ctx); cs != nil {
			sink = observe.Multi(sink, cs)
			opts = callSinkOptions(opts, sink)
		}
		if sink == nil {
			return c.unary(ctx, method, req, reply, cc, invoker, opts...)
		}
		start := s.clk.Now()
		n, err := c.uc.run(ctx, method, req, reply, cc, invoker, opts)
		s.emitCall(sink, c, method, start, retry.Info{Attempts: n}, err)
		return err
	}
}

// Stream returns the suite's stream client interceptor.
func (s *Suite) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		c := s.state.Load().chain(s, method)
		if c.err != nil {
			return nil, c.failed()
		}
		sink := s.o.sink
		if cs := observe.CallSinkFrom(ctx); cs != nil {
			sink = observe.Multi(sink, cs)
			opts = callSinkOptions(opts, sink)
		}
		if sink == nil {
			return c.stream(ctx, desc, cc, method, streamer, opts...)
		}
		o := &observedStream{s: s, sink: sink, c: c, method: method, start: s.clk.Now()}
		cs, err := c.stream(ctx, desc, cc, method, streamer, append(opts, retry.Report(&o.info))...)
		if err != nil {
			o.finish(err)
			return nil, err
		}
		w := streamend.Watch(ctx, desc, cs)
		w.OnEnd(o.ended)
		return w, nil
	}
}

// callSinkOptions adds to a call's options the per-call sink of the policies that emit the
// call's own events (see observe.WithCallSink): sink is the suite's sink and the call sink.
func callSinkOptions(opts []grpc.CallOption, sink observe.Sink) []grpc.CallOption {
	out := make([]grpc.CallOption, len(opts), len(opts)+2)
	copy(out, opts)
	return append(out, retry.WithCallObserver(sink), hedge.WithCallObserver(sink))
}

// emitCall sends CallFinished for one logical call to sink.
func (s *Suite) emitCall(sink observe.Sink, c *chain, method string, start time.Time, info retry.Info, err error) {
	v := c.classifier.Classify(err)
	now := s.clk.Now()
	sink.Observe(observe.Event{
		Kind: observe.CallFinished, Time: now, Service: c.policy.Service, Method: method,
		Policy: observe.PolicySuite, Attempt: max(info.Attempts, 1), Code: v.Code, Class: v.Class,
		Reason: v.Reason, Duration: now.Sub(start),
	})
}

// observedStream emits CallFinished once, when the stream ends (see streamend): RecvMsg
// returns an error (io.EOF is success), the single response of a call without server streaming
// arrives, or SendMsg fails. A stream the caller abandons, or that gRPC ends while nobody reads
// it, emits nothing: the caller never saw how it ended.
type observedStream struct {
	s      *Suite
	sink   observe.Sink
	c      *chain
	method string
	start  time.Time
	info   retry.Info
}

func (o *observedStream) ended(e streamend.End) {
	if e.Cause != streamend.Caller && e.Cause != streamend.Transport {
		o.finish(e.Err)
	}
}

func (o *observedStream) finish(err error) {
	o.s.emitCall(o.sink, o.c, o.method, o.start, o.info, err)
}
