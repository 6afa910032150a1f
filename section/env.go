package section

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/gatewatch"
	"github.com/bulwarkrpc/bulwark/internal/runall"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Env is what Build gets besides the section's value: the chain being built and what the
// suite provides. Build must not keep env.
type Env struct {
	// Service is the fully qualified service of the chain ("kyc.v1.OCRService").
	Service string
	// FullMethod is the chain's full method ("/kyc.v1.OCRService/Extract"). The one chain
	// that a service's methods without entries of their own share is built for the method
	// "*".
	FullMethod string
	// Name is the object's name (Spec.Name).
	Name string
	// Budget bounds every call (config.Config.Budget).
	Budget time.Duration
	// Clock, Sink and Rand are the suite's; Rand is nil for the policy's default source.
	Clock clock.Clock
	Sink  observe.Sink
	Rand  func() float64
	// Classifier is the chain's classifier: codes.Default() with the policy's overrides; for
	// the service's object of a section that classifies for its service as a whole
	// (Spec.ServiceClassifier), the service's classifier, whichever chain builds it (a
	// method's chain judges its own outcomes over it with Spec.ForClassifier, if set).
	Classifier *codes.Classifier
	// Values holds the suite's values for particular policies, by type (fallback replies, a
	// breaker registry, a remote limiter factory); read them with Value. Do not change it.
	Values map[reflect.Type]any
	// Earlier holds the steps already built for this chain, outer ones, by section: the
	// hedge step finds the retry step's budget there. A Stateless section's Build, which runs
	// before any stateful object of the chain is taken, finds only the outer stateless steps,
	// and Check at most those (none when a reload checks a service as a whole).
	Earlier map[Key]Built
	// Replacing is true when an object of this section and name was built before with
	// another fingerprint and is being replaced, or was built before and forgotten by a
	// reload that turned its section off (a breaker drops it from its registry, so that it
	// starts afresh).
	Replacing bool
	// OnClose registers a func to run when the object leaves the suite: on Close, also for
	// an object replaced by a reload (calls in flight may still use it until then), and for
	// each build of a Refresh section (see Spec.Refresh). Nil for stateless sections.
	OnClose func(close func() error)
	// Stage is the reload, or the build of one chain on its method's first call, that this
	// Build is part of. A Build must not change a store outside the suite that others read (a
	// breaker registry, a limiter registry's shared buckets) itself: it hands its object to the
	// chain and registers the store's change with Stage.OnCommit, which the suite runs only
	// once every object of the reload is built, so that a rejected reload leaves the store as
	// it was. Nil where nothing is staged (a stateless section, Check): OnCommit then runs
	// the change at once.
	Stage *Stage
}

// Stage is what the builds of one reload of a suite (or of the chain of a method first called)
// change in stores outside the suite, held until every chain of the reload is built: the suite
// then calls Commit, which makes the changes, in the order they were registered; a rejected
// reload drops the stage, and the stores stay as they were. Builds of one stage that share an
// object of such a store (a shared token bucket that two services name) find it with Load
// once one of them made it and kept it with Store. A Stage is not safe for concurrent use (a
// suite builds under its lock); its zero value is ready.
type Stage struct {
	publish []func()
	staged  map[any]any
	done    bool
}

// OnCommit registers publish to run at Commit. On a nil Stage it runs publish at once.
func (st *Stage) OnCommit(publish func()) {
	if st == nil {
		publish()
		return
	}
	if st.done {
		panic("section: OnCommit on a committed stage")
	}
	st.publish = append(st.publish, publish)
}

// Load returns the value a build of st kept under key (Store). A nil Stage holds none.
func (st *Stage) Load(key any) (any, bool) {
	if st == nil {
		return nil, false
	}
	v, ok := st.staged[key]
	return v, ok
}

// Store keeps v under key for the later builds of st (Load): key is of a type of the caller's
// own, so that two sections' keys never meet. On a nil Stage it does nothing.
func (st *Stage) Store(key, v any) {
	if st == nil {
		return
	}
	if st.staged == nil {
		st.staged = map[any]any{}
	}
	st.staged[key] = v
}

// Commit runs the funcs registered with OnCommit, in order, once. One that panics keeps none
// of the others from running, so that the stores are changed whole: Commit runs them all,
// then panics with the first one's value.
func (st *Stage) Commit() {
	if st.done {
		panic("section: a stage committed twice")
	}
	st.done = true
	publish := st.publish
	st.publish, st.staged = nil, nil
	runall.Each(publish)
}

// Value returns the suite's value of type T (see Env.Values), if it has one.
func Value[T any](env *Env) (T, bool) {
	v, ok := env.Values[reflect.TypeFor[T]()].(T)
	return v, ok
}

// Built is a step of a chain: what Build returns.
type Built struct {
	// Unary and Stream are the step's interceptors. A step may intercept one kind of call
	// alone: calls of a kind whose interceptor is nil (Unary and Flat both, for unary calls)
	// pass the step by.
	Unary  grpc.UnaryClientInterceptor
	Stream grpc.StreamClientInterceptor
	// Object is the policy object behind the step, if any. The suite asks it for what it
	// can do besides intercepting: observe.LevelSource (live levels); a deadline it can
	// declare to the attempt loop after it, instead of setting it in a context
	// (DeadlineAt(ctx, method, now) (time.Time, bool)); an attempt loop that takes such a deadline
	// (InvokeKept, see retry.Policy: the suite runs the object's loop with it instead of Unary).
	Object any
	// Flat, when not nil, does what Unary does, called by a chain's runner directly (see
	// UnaryStep). Step sets it when the object implements UnaryStep.
	Flat UnaryStep
}

// UnaryStep is a policy object whose unary interceptor a chain can run flat: its runner calls
// InvokeStep with its next step instead of calling the interceptor with a closure that leads
// to the next step, which saves two calls and their frames per step on every call. InvokeStep
// is the policy's one implementation of its unary step: its Unary interceptor is InvokeStep
// with NextInvoker(invoker), so both forms behave alike. InvokeStep calls next.Invoke where
// the interceptor calls its invoker, at most once per call (or attempt, below an attempt
// loop) and not after returning. The per-attempt policies (breaker, bulkhead, rate limiter,
// adaptive throttle) implement it.
type UnaryStep interface {
	InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next Next) error
}

// Gate is a UnaryStep that acts only before and after the rest of the call, which it passes
// on unchanged: Enter admits the call (or refuses it), Exit accounts for its outcome. A chain's
// runner runs consecutive gates in one frame, entering each in order, calling the rest once
// and exiting them in reverse order, instead of nesting one InvokeStep in the next: a call's
// stack is two frames shallower per gate. A Gate's InvokeStep must be InvokeGate, so that both
// forms behave alike. The breaker, the adaptive throttle, the rate limiter and the bulkhead are
// gates.
type Gate interface {
	UnaryStep
	// Enter admits one call (one attempt, below an attempt loop) of method: it returns what
	// Exit needs, or the error the call ends with (Exit is then not called). Runners do not
	// call it for a call whose context has already ended (see InvokeGate).
	Enter(ctx context.Context, method string, opts []grpc.CallOption) (Pass, error)
	// Exit accounts for a call that Enter admitted with p and that ended with err (from the
	// rest of the chain, or a later gate's refusal). panicked says that the rest panicked
	// instead (err is nil); the panic goes on after the gates have exited.
	Exit(ctx context.Context, method string, opts []grpc.CallOption, p Pass, err error, panicked bool)
}

// Instant is a Gate that can tell, from a call's options, that its Enter returns at once: it
// admits or refuses from memory, without waiting for a slot or a token and without I/O. An
// attempt loop whose attempts pass only instant gates before the invoker may leave the
// per-attempt timeout to grpc's method config (see interceptors.Suite.ServiceConfig): the
// time spent in the gates is then not part of the attempt's timeout, so it must be negligible.
// A gate that does not implement Instant counts as one that may wait.
type Instant interface {
	Gate
	// Instant reports whether Enter returns at once for a call with opts. Only options of the
	// gate's own (a maximum wait) may change its answer: for a call whose options are all
	// grpc's own (GRPCOptions), a runner may take Instant(nil)'s answer, read once.
	Instant(opts []grpc.CallOption) bool
}

// GRPCOptions reports whether opts are all options of grpc's own package (grpc.StaticMethod,
// which generated clients pass on every call, grpc.Header, grpc.WaitForReady...): no gate's
// Instant reads them.
func GRPCOptions(opts []grpc.CallOption) bool {
	for _, o := range opts {
		switch o.(type) {
		case grpc.StaticMethodCallOption, grpc.HeaderCallOption, grpc.TrailerCallOption, grpc.PeerCallOption,
			grpc.FailFastCallOption, grpc.OnFinishCallOption, grpc.PerRPCCredsCallOption,
			grpc.CompressorCallOption, grpc.ContentSubtypeCallOption, grpc.MaxRecvMsgSizeCallOption,
			grpc.MaxSendMsgSizeCallOption, grpc.ForceCodecCallOption, grpc.ForceCodecV2CallOption,
			grpc.AuthorityOverrideCallOption, grpc.MaxRetryRPCBufferSizeCallOption, grpc.EmptyCallOption:
		default:
			return false
		}
	}
	return true
}

// ConnGate is a Gate whose Enter may wait (for a bulkhead's slot, for a token of a rate
// limiter's bucket) and whose wait ends when the call's ClientConn shuts down
// (ClientConn.Close), as gRPC ends at once the calls it holds: EnterConn is Enter given the
// call's ClientConn (nil: none, as Enter). A wait cut short so ends Canceled, with a message
// naming the closing ClientConn and the wait, holding nothing (no slot, no token), and is no
// refusal: the gate sends no Rejected event for it. A gate learns of the shutdown from the
// ClientConn's one watcher (internal/streamend.ConnDone), asked only by a call that waits.
// Runners decide, before a call runs them, which gates they enter with EnterConn instead of
// Enter: Gates a ConnGate that may wait then (Instant(nil) false, or not Instant: see
// Gates.Decide, which a suite runs again as a reload that retunes a kept gate commits), so
// that gates that never wait are entered as any gate; Interceptor and Judged's step any
// ConnGate (the interceptor lives as long as the gate, whose wait a reload may turn on).
//
// A ConnGate that a runner enters with Enter (EnterAt), without the ClientConn, because its own
// configuration lets no call wait (Instant(nil)), does not wait there when a call's own option
// (a WithMaxWait) lets that call wait and it must: its Enter (EnterAt) returns ErrNeedsConn,
// having taken nothing and sent no event, and the runner enters it again with EnterConn, given
// the call's ClientConn, as Gates and InvokeGate do. A call that gives no such option is
// entered once, as before; so is one that finds a bulkhead's slot free, while a local rate
// limiter sends back every call whose option makes it wait before it looks at its bucket (it
// takes nothing and sends nothing: only the call's second entry takes a token).
type ConnGate interface {
	Gate
	// EnterConn is Enter for a call made on cc.
	EnterConn(ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption) (Pass, error)
}

// ErrNeedsConn is what a ConnGate's Enter (EnterAt), entered without the call's ClientConn,
// returns in place of waiting for a slot or a token that only the call's own option lets it
// wait for (see ConnGate): the runner enters the gate again with EnterConn. It never ends a
// call that a runner of this package runs.
var ErrNeedsConn = errors.New("section: the gate must wait for this call: enter it with the call's ClientConn (ConnGate.EnterConn)")

// ClockedConn is a Clocked ConnGate: EnterConnAt is EnterAt for a call made on cc (see
// ConnGate).
type ClockedConn interface {
	Clocked
	ConnGate
	// EnterConnAt is EnterAt for a call made on cc.
	EnterConnAt(ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption, now time.Time) (Pass, error)
}

// Clocked is a Gate whose Enter reads the clock (a local rate limiter's token bucket). A runner
// that read the same clock a moment before, with nothing between that reading and the gate
// that could have waited (a suite's runner, for a call's first attempt: the call's start), calls
// EnterAt with that reading instead of Enter, so that the call reads the clock once for the
// chain and the gate.
type Clocked interface {
	Gate
	// EnterAt is Enter at now, a reading of the clock the gate was built with.
	EnterAt(ctx context.Context, method string, opts []grpc.CallOption, now time.Time) (Pass, error)
}

// Pass is what a Gate's Enter gives its Exit: two words whose meaning each gate defines (a
// breaker's state generation; when a call began, as the time since an origin of the gate's
// own). Two words, so that a runner keeps the passes of a run of gates in a small frame.
type Pass struct {
	Word  uint64
	Since time.Duration
}

// InvokeGate is a Gate's InvokeStep: g.Enter, then next.Invoke unless Enter refused, then
// g.Exit, also when next panics. A call whose context has already ended when it reaches the
// gate goes to next without g: grpc fails such a call at once with the context's code, before
// anything is sent, so it takes no slot, token or probe, and its outcome says nothing about
// the service (a caller whose deadline passed before the call is not evidence of a slow
// service, as one that passes during the call is). A call g refuses runs the grpc.OnFinish
// callbacks among opts with the refusal, as grpc would have once the call ended (see
// Gates.Invoke); one whose Enter panics runs them with calloption.ErrPanicked.
func InvokeGate(g Gate, ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next Next) error {
	if ctx.Err() != nil {
		return next.Invoke(ctx, method, req, reply, cc, opts)
	}
	// 0: entering g (should Enter panic, the call never reaches grpc, which would have run
	// its OnFinish callbacks: see Gates.panicked), 1: in next, 2: returned.
	var (
		p     Pass
		phase int
	)
	defer func() {
		switch phase {
		case 0:
			calloption.Panicked(opts)
		case 1:
			g.Exit(ctx, method, opts, p, nil, true)
		}
	}()
	p, err := g.Enter(ctx, method, opts)
	if err != nil {
		if err == ErrNeedsConn { //nolint:errorlint // the sentinel itself, never wrapped (see ConnGate)
			p, err = enterConn(g, ctx, method, cc, opts)
		}
		if err != nil {
			phase = 2
			refused(opts, err)
			return err
		}
	}
	phase = 1
	err = next.Invoke(ctx, method, req, reply, cc, opts)
	phase = 2
	g.Exit(ctx, method, opts, p, err, false)
	return err
}

// enterConn enters g again with EnterConn, given cc, the call's ClientConn, after its Enter
// returned ErrNeedsConn: a call whose own option makes it wait (see ConnGate). A gate that is
// no ConnGate has no other way in: the call ends with ErrNeedsConn. Not inlined: its frame is
// not on the stack of a call that does not wait.
//
//go:noinline
func enterConn(g Gate, ctx context.Context, method string, cc *grpc.ClientConn, opts []grpc.CallOption) (Pass, error) {
	c, ok := g.(ConnGate)
	if !ok {
		return Pass{}, ErrNeedsConn
	}
	return c.EnterConn(ctx, cc, method, opts)
}

// InvokeConnGate is InvokeGate for a ConnGate: EnterConn with the call's ClientConn in place
// of Enter, so that a wait in the gate ends when cc shuts down. A ConnGate's InvokeStep is
// InvokeConnGate. (InvokeGate's body, kept apart so that a gate that is no ConnGate is
// entered as before, with no ClientConn to pass and no branch.) When the last of opts is a
// gatewatch.Watch (a hedging policy above, chained as a plain interceptor) and g may make the
// call wait (it is not Instant for opts), the watcher is told of the wait, and that the call
// left it, a panic of EnterConn included, as a run of gates tells it (see Gates.Invoke): a call
// without a Watch pays one look at its last option.
func InvokeConnGate(g ConnGate, ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next Next) error {
	if ctx.Err() != nil {
		return next.Invoke(ctx, method, req, reply, cc, opts)
	}
	var (
		p     Pass
		phase int // as in InvokeGate
	)
	defer func() {
		switch phase {
		case 0:
			calloption.Panicked(opts)
		case 1:
			g.Exit(ctx, method, opts, p, nil, true)
		}
	}()
	var err error
	if w := gatewatch.Of(opts); w == nil {
		p, err = g.EnterConn(ctx, cc, method, opts)
	} else {
		p, err = enterConnWatched(w, g, ctx, cc, method, opts)
	}
	if err != nil {
		phase = 2
		refused(opts, err)
		return err
	}
	phase = 1
	err = next.Invoke(ctx, method, req, reply, cc, opts)
	phase = 2
	g.Exit(ctx, method, opts, p, err, false)
	return err
}

// enterConnWatched is g's EnterConn for a call whose last option is w, telling w of the wait
// when g may make the call wait (see InvokeConnGate). Not inlined: its frame is not on the
// stack of a call without a Watch.
//
//go:noinline
func enterConnWatched(w *gatewatch.Watch, g ConnGate, ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption) (Pass, error) {
	if inst, ok := g.(Instant); ok && inst.Instant(opts) {
		return g.EnterConn(ctx, cc, method, opts)
	}
	w.Waiting()
	defer w.Left() // on the panic's way up too (see gatewatch.Watcher)
	return g.EnterConn(ctx, cc, method, opts)
}

// Timing is a call's start and end, shared between a chain's runner, which times the call
// (the suite's CallFinished), and its attempt loop (retry.Policy.InvokeTimed), which reads the
// clock at the same moments, so that the clock is read once for both. The runner sets Start
// and the loop uses it as its own start; the loop sets End, when it returns, to when it saw
// the call's outcome. A zero field was not read: its reader reads the clock.
type Timing struct {
	Start, End time.Time
	// Sink, when not nil, is where the loop sends the call's events instead of its own sink:
	// the runner's, the suite's sink scoped to the chain (observe.ForMethod) and the call's
	// (observe.WithCallSink), where a loop shared by several chains has the suite's alone.
	Sink observe.Sink
}

// Interceptor returns step as a unary client interceptor: InvokeStep continued by the call's
// invoker. A UnaryStep's Unary method returns it.
func Interceptor(step UnaryStep) grpc.UnaryClientInterceptor {
	if g, ok := step.(ConnGate); ok { // InvokeConnGate without InvokeStep's frame.
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return InvokeConnGate(g, ctx, method, req, reply, cc, opts, NextInvoker(invoker))
		}
	}
	if g, ok := step.(Gate); ok { // InvokeGate without InvokeStep's frame.
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return InvokeGate(g, ctx, method, req, reply, cc, opts, NextInvoker(invoker))
		}
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return step.InvokeStep(ctx, method, req, reply, cc, opts, NextInvoker(invoker))
	}
}

// Runner is a chain's runner as a UnaryStep's next: RunStep runs the chain from its step i.
type Runner interface {
	RunStep(i int, ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption) error
}

// Next is where a UnaryStep continues a call: step i of a runner, or an invoker. It is a value
// (no allocation to make one) and its Invoke is inlined.
type Next struct {
	r Runner
	i int
}

// NextStep is step i of r.
func NextStep(r Runner, i int) Next { return Next{r: r, i: i} }

// NextInvoker is invoker: what a UnaryStep's Unary interceptor continues with.
func NextInvoker(invoker grpc.UnaryInvoker) Next { return Next{r: invokerRunner(invoker)} }

// Invoke continues the call with ctx and opts.
func (n Next) Invoke(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption) error {
	return n.r.RunStep(n.i, ctx, method, req, reply, cc, opts)
}

// invokerRunner is an invoker as a Runner (a func is pointer-shaped: no allocation).
type invokerRunner grpc.UnaryInvoker

func (f invokerRunner) RunStep(_ int, ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption) error {
	return f(ctx, method, req, reply, cc, opts...)
}

// Capped returns d bounded by the call budget, 0 meaning the budget: what a policy's own
// total (deadline max, retry budget) may be in a suite.
func (env *Env) Capped(d time.Duration) time.Duration {
	if d == 0 || d > env.Budget {
		return env.Budget
	}
	return d
}

// Interceptors is a policy object that intercepts unary and stream calls.
type Interceptors interface {
	Unary() grpc.UnaryClientInterceptor
	Stream() grpc.StreamClientInterceptor
}

// Step returns the step of policy object o, made by a constructor that returned err: Build's
// usual last line is return section.Step(New(...)). When o implements UnaryStep, the step is
// run flat (Built.Flat). When o is a ConnGate, its stream interceptor tells a hedged stream's
// watcher of the wait in it, as Gates tells a unary attempt's (see watchedStream): a
// StreamWatcher's does so itself.
func Step[O Interceptors](o O, err error) (Built, error) {
	if err != nil {
		return Built{}, err
	}
	b := Built{Unary: o.Unary(), Stream: o.Stream(), Object: o}
	b.Flat, _ = any(o).(UnaryStep)
	if cg, ok := any(o).(ConnGate); ok && b.Stream != nil && !watches(cg) {
		b.Stream = watchedStream(cg, b.Stream)
	}
	return b, nil
}

// watches reports whether g's stream interceptors tell a hedged stream's watcher of the wait
// in them themselves (StreamWatcher).
func watches(g ConnGate) bool {
	_, ok := g.(StreamWatcher)
	return ok
}

// ExitFunc is a Gate's Exit.
type ExitFunc func(ctx context.Context, method string, opts []grpc.CallOption, p Pass, err error, panicked bool)

// Judged returns the step of a chain over g, its service's gate (obj, Built.Object: the
// object Build made) shared with the service's other methods, for a method whose classifier
// differs from g's (Spec.ForClassifier): the step admits calls as g does and accounts for
// them with exit, g's Exit judging outcomes by the method's classifier; stream is g's stream
// interceptor judging them so.
// A g that is a ConnGate gives a step that is one too, whose stream interceptor tells a hedged
// stream's watcher of the wait in it (see watchedStream); a g that is a StreamWatcher gives
// stream, which must then tell it as g's own does (AdmitStream).
func Judged(obj any, g Instant, exit ExitFunc, stream grpc.StreamClientInterceptor) Built {
	j := &judged{Instant: g, exit: exit}
	if cg, ok := g.(ConnGate); ok {
		c := &connJudged{judged: j, cg: cg}
		if stream != nil && !watches(cg) {
			stream = watchedStream(cg, stream)
		}
		return Built{Unary: Interceptor(c), Stream: stream, Object: obj, Flat: c}
	}
	return Built{Unary: Interceptor(j), Stream: stream, Object: obj, Flat: j}
}

// connJudged is Judged's step over a ConnGate: the judged step, entered with EnterConn.
type connJudged struct {
	*judged
	cg ConnGate
}

// EnterConn is the gate's EnterConn.
func (c *connJudged) EnterConn(ctx context.Context, cc *grpc.ClientConn, method string, opts []grpc.CallOption) (Pass, error) {
	return c.cg.EnterConn(ctx, cc, method, opts)
}

// InvokeStep is InvokeConnGate through c.
func (c *connJudged) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next Next) error {
	return InvokeConnGate(c, ctx, method, req, reply, cc, opts, next)
}

// judged is Judged's step: g's Enter and Instant, exit for Exit.
type judged struct {
	Instant
	exit ExitFunc
}

// InvokeStep is InvokeGate through j.
func (j *judged) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next Next) error {
	return InvokeGate(j, ctx, method, req, reply, cc, opts, next)
}

// Exit is the gate's Exit, judging outcomes by the chain's classifier.
func (j *judged) Exit(ctx context.Context, method string, opts []grpc.CallOption, p Pass, err error, panicked bool) {
	j.exit(ctx, method, opts, p, err, panicked)
}
