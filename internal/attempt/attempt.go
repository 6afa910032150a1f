package attempt

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/front"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Method is what a policy knows of one full method name.
type Method struct {
	Name    string // "/pkg.Service/Method"
	Service string // "pkg.Service"
	Safe    bool   // the descriptor says NO_SIDE_EFFECTS or IDEMPOTENT
}

// NewMethod returns what the descriptors say of the full method name.
func NewMethod(name string) Method {
	return Method{Name: name, Service: grpcmethod.Service(name), Safe: grpcmethod.SafeToRetry(name)}
}

// Methods is a policy's table of per-method state T, learnt on first use. Lookups of known
// methods take no lock and allocate nothing. A front table (internal/front) finds the state of
// a name a call site passes again and again (a generated client's method constant) by the
// name's address, without hashing it or reading the map, which a gRPC round trip has pushed
// out of the CPU's caches by the next call.
//
// A name longer than grpcmethod.MaxKeptName is not kept, in the table or its front: its state
// is made on each call, as a name's past cowmap.MaxKeys is, so that names forwarded from input
// (a :path may be megabytes long) keep no memory however long they are. A name the map does
// not keep (too long, or past cowmap.MaxKeys) is not kept in the front either.
type Methods[T any] struct {
	front front.Table[methodEntry[T]]
	m     cowmap.Map[string, *methodEntry[T]]
}

// methodEntry is one method's state with its name, for the front table's callers to check.
type methodEntry[T any] struct {
	name string
	v    T
}

// Get returns the state of the full method name, made by mk on first use.
func (t *Methods[T]) Get(name string, mk func(string) T) T {
	h := front.Hint(name)
	if e := t.front.Load(h); e != nil && e.name == name {
		return e.v
	}
	e, ok := t.m.Load(name)
	if !ok {
		if !grpcmethod.Keepable(name) {
			return mk(name) // not kept (see Methods)
		}
		var kept bool
		e, kept = t.m.LoadOrMakeKept(name, func(name string) *methodEntry[T] { return &methodEntry[T]{name: name, v: mk(name)} })
		if !kept {
			return e.v // past cowmap.MaxKeys: not kept, in the front either (see Methods)
		}
	}
	t.front.Store(h, e)
	return e.v
}

// Lookup returns the state of the full method name, if the table keeps it, without making
// any: asking about a name leaves the table as it is.
func (t *Methods[T]) Lookup(name string) (T, bool) {
	if e := t.front.Load(front.Hint(name)); e != nil && e.name == name {
		return e.v, true
	}
	if e, ok := t.m.Load(name); ok {
		return e.v, true
	}
	var zero T
	return zero, false
}

// Len returns the number of names the table keeps.
func (t *Methods[T]) Len() int { return t.m.Len() }

// Eligible reports whether the idempotency rule lets a call be repeated (retried or hedged):
// perCall, when not 0, decides (1 yes, -1 no); otherwise a safe method or a policy configured
// as idempotent may be.
func Eligible(safe, configured bool, perCall int8) bool {
	switch perCall {
	case 1:
		return true
	case -1:
		return false
	}
	return safe || configured
}

// Kind names what a Setting changes.
type Kind uint8

// The settings one call may change.
const (
	KindDisable Kind = iota + 1
	KindIdempotent
	KindMax
	KindSink
)

// Setting is what one per-call option of a policy changes: its package's CallOption carries
// one, and applies it with PerCall.Apply.
type Setting struct {
	kind Kind
	n    int
	sink observe.Sink
}

// Disable turns the policy off for the call.
func Disable() Setting { return Setting{kind: KindDisable} }

// Idempotent overrides the idempotency rule for the call.
func Idempotent(ok bool) Setting {
	if ok {
		return Setting{kind: KindIdempotent, n: 1}
	}
	return Setting{kind: KindIdempotent, n: -1}
}

// Max sets the most attempts of the call (n ≥ 1, at most 100; smaller values are ignored).
func Max(n int) Setting { return Setting{kind: KindMax, n: n} }

// Sink sets where the call's events go, instead of the policy's sink.
func Sink(s observe.Sink) Setting { return Setting{kind: KindSink, sink: s} }

// PerCall is what one call changes of its policy: the zero value changes nothing.
type PerCall struct {
	Disabled bool
	// Idempotent is 0 to follow the policy, 1 to force yes, -1 no.
	Idempotent int8
	// MaxAttempts overrides the policy's when > 0.
	MaxAttempts int
	// Sink, when SinkSet, replaces the policy's sink.
	Sink    observe.Sink
	SinkSet bool
}

// Apply records s. Later settings of a kind win.
func (p *PerCall) Apply(s Setting) {
	switch s.kind {
	case KindDisable:
		p.Disabled = true
	case KindIdempotent:
		p.Idempotent = int8(s.n)
	case KindMax:
		if s.n >= 1 {
			p.MaxAttempts = min(s.n, 100)
		}
	case KindSink:
		p.Sink, p.SinkSet = s.sink, true
	}
}

// SinkOr returns the call's sink when it set one, else def.
func (p *PerCall) SinkOr(def observe.Sink) observe.Sink {
	if p.SinkSet {
		return p.Sink
	}
	return def
}

// DefaultReplayBytes is the default cap of a Replay, in bytes (see Replay.Cap).
const DefaultReplayBytes = 256 << 10

// MaxReplayBytes is the largest cap a configuration may set (1 GiB).
const MaxReplayBytes = 1 << 30

// MessageOverhead is what each kept message counts for in a Replay besides its proto.Size:
// gRPC's length-prefixed message header (a flag byte and a 4-byte length), which every message
// carries on the wire. It keeps the count of messages bounded too, empty ones included.
const MessageOverhead = 5

// ReplayInline is how many messages a Replay keeps without allocating: its first ones are
// kept in the Replay itself, which lives in the stream that holds it, so that a stream of a
// few messages allocates nothing to keep them; past it, the slice of messages grows by
// doubling (about log2(n/ReplayInline) allocations for n messages).
const ReplayInline = 8

// Replay keeps the messages a client stream sent, for replay on a later attempt, within a cap
// of bytes. Its zero value keeps nothing until Cap is set. Not safe for concurrent use. A
// Replay must not be copied once a message is added: its first messages are kept in it.
type Replay struct {
	// Cap is the most bytes kept, each message counted as on the wire: its proto.Size plus
	// MessageOverhead; ≤ 0 keeps nothing.
	Cap    int
	msgs   []any
	bytes  int
	over   bool
	inline [ReplayInline]any
}

// Add keeps m and reports whether it fits. A message that is not a proto.Message, or that
// takes the buffer past Cap (counted with MessageOverhead: a message of no proto.Size is not
// free), drops everything kept: from then on Add reports false.
func (r *Replay) Add(m any) bool {
	if r.over {
		return false
	}
	size := -1
	if pm, ok := m.(proto.Message); ok {
		size = proto.Size(pm) + MessageOverhead
	}
	if size < 0 || r.Cap <= 0 || r.bytes+size > r.Cap {
		r.Drop()
		return false
	}
	if r.msgs == nil {
		r.msgs = r.inline[:0]
	}
	r.msgs = append(r.msgs, m)
	r.bytes += size
	return true
}

// Msgs returns the messages kept, in the order sent. The slice is the Replay's own.
func (r *Replay) Msgs() []any { return r.msgs }

// Over reports whether the buffer was dropped (by Add or Drop).
func (r *Replay) Over() bool { return r.over }

// Drop frees what is kept; from then on Add reports false.
func (r *Replay) Drop() {
	clear(r.msgs)
	clear(r.inline[:]) // the first messages, when msgs has grown past them
	r.msgs, r.bytes, r.over = nil, 0, true
}

// Metadata keys of the attempts after the first.
const (
	// PreviousKey is gRFC A6's header: how many attempts of the call were sent before this one.
	PreviousKey = "grpc-previous-rpc-attempts"
	// LegacyRetryKey is the retry's own number (2 for the first retry), sent on retries only.
	//
	// Deprecated: read PreviousKey; LegacyRetryKey is sent for one more release.
	LegacyRetryKey = "x-retry-attempt"
)

// smallNumbers holds the decimal strings of 0..len-1, so that the usual attempts format nothing.
var smallNumbers = func() (s [16]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func itoa(n int) string {
	if n >= 0 && n < len(smallNumbers) {
		return smallNumbers[n]
	}
	return strconv.Itoa(n)
}

// Outgoing returns ctx with the metadata of an attempt after prev others (prev ≥ 1; with 0
// ctx is returned as it is). retry, when > 0, is the retry's own number, sent under
// LegacyRetryKey. When replace is set, a PreviousKey already in ctx's outgoing metadata (a
// retry's, around a hedge) is replaced instead of added to, at the cost of a copy.
func Outgoing(ctx context.Context, prev, retry int, replace bool) context.Context {
	if prev <= 0 {
		return ctx
	}
	if replace {
		if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(PreviousKey)) > 0 {
			md.Set(PreviousKey, itoa(prev))
			if retry > 0 {
				md.Set(LegacyRetryKey, itoa(retry))
			}
			return metadata.NewOutgoingContext(ctx, md)
		}
	}
	if retry > 0 {
		return metadata.AppendToOutgoingContext(ctx, PreviousKey, itoa(prev), LegacyRetryKey, itoa(retry))
	}
	return metadata.AppendToOutgoingContext(ctx, PreviousKey, itoa(prev))
}

// Bound is the deadline one attempt gets beyond its parent context's.
type Bound struct {
	// End is the attempt's end: the earliest of the call's end and the per-attempt timeout.
	End time.Time
	// PerAttempt says the per-attempt timeout sets End: an attempt ended by it failed on its
	// own and may be retried, unlike one ended by the call's end.
	PerAttempt bool
	// Needed says End comes before ctx's own deadline: only then is a context (or a timer)
	// made for it. Otherwise ctx's deadline ends the attempt first and nothing is made.
	Needed bool
}

// BoundOf computes the bound of an attempt of ctx starting at now: callEnd (zero: none) is a
// deadline of the call that ctx does not carry (a declared deadline, the budget's end), and
// perAttempt (0: none) the per-attempt timeout. It is the one place the per-attempt deadline
// is decided, for unary calls and streams alike.
//
// kept says that grpc ends the attempt after perAttempt by itself (a method-config timeout
// equal to it, which grpc applies when it opens the attempt's stream, a little after now): no
// context is then needed when perAttempt sets the end and callEnd is at least KeptSlack after
// it. PerAttempt stays set, so that the attempt's DeadlineExceeded is still its own.
func BoundOf(ctx context.Context, callEnd, now time.Time, perAttempt time.Duration, kept bool) Bound {
	b := Bound{End: callEnd}
	if perAttempt > 0 {
		if pe := now.Add(perAttempt); b.End.IsZero() || pe.Before(b.End) {
			b.End, b.PerAttempt = pe, true
			if kept && (callEnd.IsZero() || callEnd.Sub(pe) >= KeptSlack) {
				return b
			}
		}
	}
	if dl, ok := ctx.Deadline(); !b.End.IsZero() && (!ok || dl.After(b.End)) {
		b.Needed = true
	}
	return b
}

// KeptSlack is how long before the call's other end (callEnd) an attempt's end set by the
// per-attempt timeout must come for grpc's method-config timeout to keep it (see BoundOf): grpc
// starts its timer when it opens the stream, a little after the attempt began, and the attempt
// must still end before the call does.
const KeptSlack = 100 * time.Millisecond

// Context returns ctx bounded by b: a deadline context of clk when b is Needed, else ctx
// itself and a nil cancel. With cancelable set, a context is made in any case (a plain
// cancelable one when no deadline is needed), so that the attempt can be canceled alone.
func (b Bound) Context(ctx context.Context, clk clock.Clock, cancelable bool) (context.Context, context.CancelFunc) {
	switch {
	case b.Needed:
		return clock.WithDeadline(ctx, clk, b.End)
	case cancelable:
		return context.WithCancel(ctx)
	}
	return ctx, nil
}

// Round is how a retry loop and a hedging policy below it count attempts once between them
// (see the package documentation). The retry loop passes it among an attempt's call options;
// it reaches grpc, which ignores it. Safe for concurrent use by the hedges of one round.
type Round struct {
	grpc.EmptyCallOption
	prev     int
	start    time.Time
	cancel   context.CancelFunc
	reported atomic.Int32
	decided  atomic.Int32
	late     Sampler       // offered by the policy below (see Offer), until TimedOut records it
	lateD    time.Duration // the lower bound late records
	end      atomic.Int64  // a stream attempt's per-attempt timeout, Unix nanoseconds; 0: none (see SetEnd)
}

// SetEnd tells the policy below when the round's per-attempt timeout ends it, for a timeout
// that its context does not carry as a deadline (a client stream's, which the stream's commit
// lifts, or one that cuts overtaken attempts only, which may spare the attempt: see
// interceptors/retry); the zero time tells that none does, or no longer. Any other unary
// round's timeout is its context's deadline, and its end is not set. Safe to call while the
// round's hedges read it (End).
//
// Unlike a deadline, the end may be lifted once it has come: a timeout that ends the attempt
// cancels its context, and one that spares it (or a commit) sets the zero time. A hedging
// policy below holds back a hedge due too near the end until the end has passed, then sends it
// if the end was lifted, not if the context was canceled (see interceptors/hedge).
func (r *Round) SetEnd(t time.Time) {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	if r.end.Load() != ns {
		r.end.Store(ns)
	}
}

// End returns the end of the round's per-attempt timeout set by SetEnd, or the zero time.
func (r *Round) End() time.Time {
	if ns := r.end.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Sampler records one latency sample: a hedging policy's estimator of a method's latency.
type Sampler interface{ Sample(d time.Duration) }

// Offer leaves with r a lower bound d of the latency of the round's attempt, for s to record
// should the retry loop find that its per-attempt timeout (not the call's deadline) ended the
// attempt (see TimedOut); a nil s offers nothing. A hedging policy below offers one, nil or
// not, at the end of every round it hedges, so that none is left from an earlier round; Reset
// leaves it, so that a retry loop that finds the timeout once the round's Round was reset for
// the next attempt still records it; the retry policy drops it (Offer(nil, 0)) when its call
// ends, so that a later call that reuses r records nothing of it. Offer and TimedOut are
// called on the retry loop's goroutine, once the round's attempts have all returned.
func (r *Round) Offer(s Sampler, d time.Duration) { r.late, r.lateD = s, d }

// TimedOut tells that the retry loop's per-attempt timeout, not the call's deadline, ended the
// round's attempt: the lower bound offered (Offer), if any, is recorded, once.
func (r *Round) TimedOut() {
	if s := r.late; s != nil {
		r.late = nil
		s.Sample(r.lateD)
	}
}

// Reset readies r for a round after prev attempts of the call, which started at start (zero:
// not known), whose context cancel ends (nil: the attempt runs on the caller's context, which
// the retry loop cannot cancel).
//
// The counts are stored only when not zero already: a round no hedging policy reported
// (every round of a chain without one) leaves them at zero, and an atomic store is an
// exchange, a full barrier, where a load is a plain read. Reset is not called while a hedge
// of the round may still report (see Report).
func (r *Round) Reset(prev int, start time.Time, cancel context.CancelFunc) {
	r.prev, r.start, r.cancel = prev, start, cancel
	if r.reported.Load() != 0 {
		r.reported.Store(0)
	}
	if r.decided.Load() != 0 {
		r.decided.Store(0)
	}
}

// Cancel returns the cancel of the context the round's attempt runs on, or nil. A hedging
// policy below may use it to end the round's first attempt instead of making a context of
// its own: canceling it also ends what runs on that context, hedges included, so only once
// the call is decided (a unary call, whose winner has returned).
func (r *Round) Cancel() context.CancelFunc { return r.cancel }

// Prev is how many attempts of the call were sent before this round.
func (r *Round) Prev() int { return r.prev }

// Start is when the call began, before its first round (zero: not known): what a hedging
// policy below measures a whole call's duration from (HedgeWon).
func (r *Round) Start() time.Time { return r.start }

// claimed is the count of a round whose attempt the retry loop reported itself (Claim):
// far below 0, so that the reports and the Take the policy below may still try leave it
// below 0.
const claimed = -1 << 30

// taken is what Take adds to the count: the policy below took the round's reports before
// it reported any. The reports are counted below it (a round has at most 100 attempts), and
// a count of a hundred takes stays far from both claimed and the largest int32.
const taken = 1 << 16

// Report counts one attempt of the round reported by the policy below the retry loop, and
// returns its number over the call; ok is false when the retry loop reported the round's
// attempt itself (Claim), and the policy below must send no AttemptFinished for it.
func (r *Round) Report(k int) (number int, ok bool) {
	return r.prev + k, r.reported.Add(1) > 0
}

// Reported is how many of the round's attempts the policy below reported: 0 when it reported
// none and did not take the round (Take), and the retry loop must report its attempt itself;
// at least 1 once it took it, as it reports every attempt of the round when its reply ends.
func (r *Round) Reported() int {
	v := r.reported.Load()
	if v <= 0 {
		return 0
	}
	if n := int(v & (taken - 1)); n > 0 {
		return n
	}
	return 1 // taken, none reported yet
}

// Claim tells that the retry loop reports the round's attempt itself when the policy below
// has neither reported any of them nor taken the round (Take) yet (a stream that ended while
// nobody read it: the policy below reports its attempts when its caller reads them, which may
// come later or never), and reports whether it did: the policy below then reports none of the
// round's (Report), and sends none of its own (Take), so that a RecvMsg after the end does not
// report the attempt a second time nor send a request that nothing reports. What reports a
// stream's one attempt without a loop (a retry step's stream made with Disable, a suite's chain
// without a retry step) claims the round so too, on any end of the stream (one that failed in
// Header, read on after).
func (r *Round) Claim() bool { return r.reported.CompareAndSwap(0, claimed) }

// Take tells that the policy below begins a reply phase in which it may send attempts of its
// own (a client stream's hedges), all of which, the round's first included, it reports as the
// phase ends; it reports whether the round is its: false once the retry loop claimed it
// (Claim), when the policy below must send no attempt of its own, the loop having reported the
// round's. Once taken, the round cannot be claimed, and Reported counts at least one report,
// so that the loop leaves the round's reports to the policy below.
func (r *Round) Take() bool { return r.reported.Add(taken) > 0 }

// Decide records that the outcome the policy below returns for the round is its attempt k's
// (the winner, or the failure it chose among the round's).
func (r *Round) Decide(k int) { r.decided.Store(int32(k)) }

// Decided is the number over the call of the attempt whose outcome the round returned (see
// Decide), or 0 when the policy below told none.
func (r *Round) Decided() int {
	if k := int(r.decided.Load()); k > 0 {
		return r.prev + k
	}
	return 0
}

// RoundOf returns the Round among opts, or nil.
func RoundOf(opts []grpc.CallOption) *Round {
	for _, o := range opts {
		if r, ok := o.(*Round); ok {
			return r
		}
	}
	return nil
}

// Finished sends the AttemptFinished event of attempt n (numbered over the call), started at
// t0 and ended now with verdict v, to sink (nil: nothing is built). reason is why the attempt
// was sent: observe.ReasonHedgeDelay for a hedge, else empty.
func Finished(sink observe.Sink, policy string, m *Method, n int, t0, now time.Time, v codes.Verdict, reason string) {
	if sink == nil {
		return
	}
	sink.Observe(observe.Event{
		Kind: observe.AttemptFinished, Time: now, Service: m.Service, Method: m.Name,
		Policy: policy, Attempt: n, Code: v.Code, Class: v.Class, Duration: now.Sub(t0), Reason: reason,
	})
}

// Policy is a policy with interceptors.
type Policy interface {
	Unary() grpc.UnaryClientInterceptor
	Stream() grpc.StreamClientInterceptor
}

// UnaryOf returns p's unary interceptor, or err: the body of a package's
// UnaryClientInterceptor(cfg, opts...), written attempt.UnaryOf(New(cfg, opts...)).
func UnaryOf[P Policy](p P, err error) (grpc.UnaryClientInterceptor, error) {
	if err != nil {
		return nil, err
	}
	return p.Unary(), nil
}

// StreamOf is UnaryOf for the stream interceptor.
func StreamOf[P Policy](p P, err error) (grpc.StreamClientInterceptor, error) {
	if err != nil {
		return nil, err
	}
	return p.Stream(), nil
}

// Base is what the retry and hedge policies are both built with: a clock, a classifier and
// a sink, set by their Options (see Base.Set).
type Base struct {
	Clock      clock.Clock
	Classifier *codes.Classifier
	Sink       observe.Sink
}

// NewBase returns the defaults: the real clock, codes.Default(), no sink.
func NewBase() Base { return Base{Clock: clock.Real, Classifier: codes.Default()} }

// BaseOption is one of a Base's settings, carried by a policy's Option.
type BaseOption struct {
	kind       uint8
	clock      clock.Clock
	classifier *codes.Classifier
	sink       observe.Sink
}

const (
	baseClock uint8 = iota + 1
	baseClassifier
	baseSink
)

// WithClock sets the clock (nil: the real one).
func WithClock(c clock.Clock) BaseOption { return BaseOption{kind: baseClock, clock: c} }

// WithClassifier sets the classifier (nil: left as it is).
func WithClassifier(c *codes.Classifier) BaseOption {
	return BaseOption{kind: baseClassifier, classifier: c}
}

// WithSink sets the sink (nil: no events).
func WithSink(s observe.Sink) BaseOption { return BaseOption{kind: baseSink, sink: s} }

// Set applies o, and reports whether o set anything (false for the zero BaseOption).
func (b *Base) Set(o BaseOption) bool {
	switch o.kind {
	case baseClock:
		b.Clock = clock.OrReal(o.clock)
	case baseClassifier:
		if o.classifier != nil {
			b.Classifier = o.classifier
		}
	case baseSink:
		b.Sink = o.sink
	default:
		return false
	}
	return true
}
