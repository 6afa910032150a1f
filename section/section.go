package section

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/yamlfield"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// Key names a section: its yaml key in a profile, its row in -explain, and the policy label
// its events carry ("rate_limit").
type Key string

// Rank is a section's place in an interceptor chain, outermost first. The built-in policies
// are 100 apart so that a new policy can take a place between two of them.
type Rank int

// The built-in ranks, outermost first.
const (
	RankFallback  Rank = 100
	RankDeadline  Rank = 200
	RankRetry     Rank = 300
	RankHedge     Rank = 400
	RankBreaker   Rank = 500
	RankThrottle  Rank = 600
	RankRateLimit Rank = 700
	RankBulkhead  Rank = 800
)

// Spec describes one policy section. C is the policy package's Config: plain data whose
// fields carry yaml tags, decoded by reflection. Fields without a yaml tag are not read. A
// field is an int, float64, bool or string (or a type defined on one), a time.Duration, a
// type whose pointer implements encoding.TextUnmarshaler, a slice of those, or a struct or
// pointer to a struct of such fields: a configuration that writes a field of another type
// (int64, uint, float32, a map) is refused, as a value that cannot be decoded into it.
type Spec[C any] struct {
	// Key is the yaml key of the section. It must be a lower-case identifier ("rate_limit")
	// and must not be one of the keys a configuration uses otherwise: "profile", "methods",
	// "classifier", "budget", "profiles" or "services" (Register panics on other keys).
	Key Key
	// Rank is the section's place in a chain; no two sections share one.
	Rank Rank
	// Normalize returns c with every zero field that means a default replaced by that default.
	// Nil: the section has no defaults.
	Normalize func(c C) C
	// Validate reports the fields of c that are out of range, as fielderr errors whose paths
	// are yaml keys relative to the section. Zero fields, which mean defaults, are valid.
	// Nil: C's method Validate() error, if it has one (see Register).
	Validate func(c C) error
	// Zero maps a field path (yaml keys relative to the section, "throttle.window") to the
	// rule an explicit zero breaks, for fields where 0 means the default: writing 0 is then
	// an error stating this rule, rather than silently the default. Register adds the rules
	// C's fields state in a tag beside their yaml key, `zero:"is below 1"` (in nested structs
	// too), which is where a policy package writes them; Zero is for rules a tag cannot carry.
	Zero map[string]string
	// Explicit, if set, checks rules on fields written explicitly that depend on other
	// fields (the breaker's consecutive_failures: 0 is allowed only beside a failure rate).
	// written lists the field paths the file wrote. Paths in its errors are relative to the
	// section.
	Explicit func(c C, written []string) error
	// Unused, if set, reports the fields of c, as written (before Normalize), that are set
	// but that c's other settings never read (the ratio budget's window without a ratio),
	// as fielderr errors whose paths are relative to the section. Package config refuses
	// such a field where a profile, a service or a method writes it, and warns of one an
	// override leaves unused by writing the setting that reads it off (ratio: 0).
	Unused func(c C) error
	// Equal reports whether a and b behave the same. Nil: C's method Equal(C) bool, if it
	// has one, else reflect.DeepEqual.
	Equal func(a, b C) bool
	// Explain describes a normalized c in one line, for -explain. Nil: C's method
	// Explain() string, if it has one, else "on".
	Explain func(c C) string

	// Build makes the step a suite puts in a chain for c, a normalized value of the
	// section (see Env). Nil: the section is configuration only, and no chain has a step
	// for it.
	Build func(env *Env, c C) (Built, error)
	// Check, if set, reports before any stateful object of a configuration is taken or
	// replaced what Build would refuse for a reason outside c (a fleet-wide limiter without
	// its factory), so that such a configuration is refused whole and changes nothing. Build
	// must still refuse it.
	Check func(env *Env, c C) error
	// Name names the object Build makes for a chain of fullMethod: objects of one name (and
	// section) are one object, shared by the chains that name it and kept across reloads
	// while its fingerprint holds (see Uses). shared is true when the method resolves the
	// section as its service does, and the classifier and the budget where the object uses
	// them (not the classifier for a section that sets ServiceClassifier), and the sections
	// it Captures likewise. A suite refuses a configuration whose chains give one object
	// two fingerprints (two values, or classifiers or budgets it uses, or Deps): one object
	// has one setting. It does so at New or Reload for the chains built there and for those
	// of a configured service whose methods no registered descriptor declares and whose
	// entry lists none (of their Deps, which only a build tells, it compares the objects of
	// the sections they Capture, by name: Deps that come from elsewhere and do not follow c
	// are judged at the build); a chain built on another first call that would give the
	// object another fingerprint is refused at that build, and its calls fail. Nil: service
	// when shared, else fullMethod.
	Name func(c C, service, fullMethod string, shared bool) string
	// Uses says what besides c the object's behaviour depends on; an object is rebuilt when
	// any of it changes. Nil: nothing.
	Uses func(c C) Uses
	// ServiceClassifier says that an object that classifies outcomes (Uses) classifies them
	// for its service as a whole: a method that resolves the section (and the budget, where
	// the object uses it, and what it Captures) as its service does shares the service's
	// object even where the method's classifier differs, and that object classifies every
	// method's outcomes with the service's classifier (Env.Classifier, whichever chain builds
	// it), and is rebuilt when the service's classifier changes, not a method's. A method with
	// settings of its own for the section has an object of its own, with its own classifier,
	// as has one whose object Name names apart from its service's (a breaker under scope
	// method). (The bulkhead's: its cap is the service's, whatever its methods' classifiers.)
	// With ForClassifier, such a method's chain judges its own outcomes instead. Ignored for
	// Stateless sections, whose steps no two chains share: each classifies with its chain's
	// classifier.
	ServiceClassifier bool
	// ForClassifier, with ServiceClassifier, returns the step of a chain that shares its
	// service's object (built, as Build returned it) but whose classifier c differs from the
	// service's: a step over the same object (Built.Object unchanged) that judges that chain's
	// outcomes by c before they reach the object. It runs for every such chain as it is built,
	// also when the object is kept; the object is still rebuilt only when the service's
	// classifier changes. (The breaker's, the adaptive throttle's and the adaptive bulkhead's:
	// one state for the service, each method's business errors never failures or overload.)
	// Nil: the object judges every chain's outcomes itself.
	ForClassifier func(b Built, c *codes.Classifier) Built
	// Deps returns, before Build runs, the objects Build will capture that it does not make:
	// those of earlier steps of the chain (from env.Earlier), and those it takes from a store
	// outside the suite (a shared token bucket, which it may make in env.Stage for Build to
	// take); they join the fingerprint by identity (==), so that the object is rebuilt when
	// one of them is replaced: return pointers (an earlier step's Built.Object, not the
	// Built), as a suite refuses a value that cannot be compared. Nil: none.
	Deps func(env *Env, c C) []any
	// Captures lists the sections, ranked before this one, whose objects Build captures
	// (those Deps returns come from them): the object is its service's only where the method
	// resolves each of them as its service does (see Name's shared), since the methods that
	// share one object must capture the same objects. Otherwise the chains of one service
	// would name one object with two fingerprints, and each build would replace it, losing
	// its state. Sections ranked after this one are ignored. An object that captures the step
	// of a Stateless section, which every chain builds afresh, is its method's own, and is
	// rebuilt whenever its chain is. Nil: none.
	Captures []Key
	// Stateless says that Build's step holds no state worth keeping and none shared between
	// chains: it is built afresh for every chain, before any stateful object is taken or
	// replaced, so that a configuration whose stateless steps fail to build (a fallback
	// reply that does not fit its method) changes nothing.
	Stateless bool
	// Always says that the chain has the step even where the section is off: Build then
	// gets the zero C (the deadline step, as the call budget caps every call).
	Always bool
	// Refresh says that the object lives in a store outside the suite that other suites may
	// share (the breaker registry): Build runs at every build of the suite that takes the
	// object (a reload, the chain of a method on its first call unless a chain of the
	// configuration in force holds the object already, which the new chain then shares; once
	// for the chains of one build that share it), also when the fingerprint holds (with
	// Env.Replacing false), and returns the store's object. Each such build's step replaces the one before, whose
	// OnClose funcs run at Close, as a replaced object's do, even when both steps hold the
	// same object: a Build registers one only for what it made itself (the breaker's: a
	// breaker the registry does not hold yet), not for the store's object it takes again,
	// whose closer would otherwise run once per build at Close.
	Refresh bool
	// CallSink, if set, returns the call option by which the step sends one call's own
	// events (attempts, retries, hedges) to that call's sink too (observe.WithCallSink).
	CallSink func(observe.Sink) grpc.CallOption
	// Retune, if set, lets a reload keep an object whose section value changed (Equal says
	// it behaves otherwise) in settings the object can take in place, with its state (the
	// bulkhead's slots in use when only max_wait changed). It is asked only when all else
	// the object's fingerprint holds (classifier, budget, Deps) is unchanged, with the object
	// (Built.Object) and the new value c: it either returns a func that gives obj c's
	// settings and true, or returns false (the object is rebuilt, as without Retune). It
	// changes nothing itself: the suite runs apply when the reload commits, as it publishes
	// the new configuration, and never for a reload it rejects. Calls in flight keep their
	// own settings; new ones get c's. Ignored for Refresh and Stateless sections.
	Retune func(obj any, c C) (apply func(), ok bool)
}

// Uses is what a policy object depends on besides its own section.
type Uses uint8

const (
	// UsesClassifier: the object classifies outcomes (Env.Classifier).
	UsesClassifier Uses = 1 << iota
	// UsesBudget: the object bounds itself by the call budget (Env.Budget).
	UsesBudget
)

// Section is a registered Spec with its type erased: what config loops over. Values are *C.
type Section interface {
	Key() Key
	Rank() Rank
	// Type is C.
	Type() reflect.Type
	// New returns a new *C holding the zero value.
	New() any
	// Normalize returns a new *C holding Spec.Normalize of *v.
	Normalize(v any) any
	Validate(v any) error
	// ZeroRule returns the rule an explicit zero of the field at path breaks, if any.
	ZeroRule(path string) (string, bool)
	Explicit(v any, written []string) error
	// Unused is Spec.Unused of *v, nil when Unused is unset.
	Unused(v any) error
	Equal(a, b any) bool
	Explain(v any) string

	// CanBuild reports whether Spec.Build is set.
	CanBuild() bool
	// Build is Spec.Build of *v; a nil v is the zero C.
	Build(env *Env, v any) (Built, error)
	// Check is Spec.Check of *v, nil when Check is unset.
	Check(env *Env, v any) error
	// Name is Spec.Name, or its default, of *v.
	Name(v any, service, fullMethod string, shared bool) string
	// Uses is Spec.Uses of *v.
	Uses(v any) Uses
	// ServiceClassifier is Spec.ServiceClassifier; false for a Stateless section.
	ServiceClassifier() bool
	// ForClassifier is Spec.ForClassifier.
	ForClassifier() func(b Built, c *codes.Classifier) Built
	// Deps is Spec.Deps of *v.
	Deps(env *Env, v any) []any
	// Captures is Spec.Captures.
	Captures() []Key
	Stateless() bool
	Always() bool
	Refresh() bool
	// CallSink is Spec.CallSink.
	CallSink() func(observe.Sink) grpc.CallOption
	// Retune is Spec.Retune of obj and *v; false when Retune is unset, for a nil v, and for
	// a Refresh or Stateless section.
	Retune(obj, v any) (apply func(), ok bool)
}

type erased[C any] struct{ s Spec[C] }

func (e erased[C]) Key() Key           { return e.s.Key }
func (e erased[C]) Rank() Rank         { return e.s.Rank }
func (e erased[C]) Type() reflect.Type { return reflect.TypeFor[C]() }
func (e erased[C]) New() any           { return new(C) }

func (e erased[C]) Normalize(v any) any {
	c := *v.(*C)
	if e.s.Normalize != nil {
		c = e.s.Normalize(c)
	}
	return &c
}

func (e erased[C]) Validate(v any) error {
	if e.s.Validate == nil {
		return nil
	}
	return e.s.Validate(*v.(*C))
}

func (e erased[C]) ZeroRule(path string) (string, bool) {
	r, ok := e.s.Zero[path]
	return r, ok
}

func (e erased[C]) Explicit(v any, written []string) error {
	if e.s.Explicit == nil {
		return nil
	}
	return e.s.Explicit(*v.(*C), written)
}

func (e erased[C]) Unused(v any) error {
	if e.s.Unused == nil {
		return nil
	}
	return e.s.Unused(*v.(*C))
}

func (e erased[C]) Equal(a, b any) bool {
	x, y := a.(*C), b.(*C)
	if e.s.Equal == nil {
		return reflect.DeepEqual(*x, *y)
	}
	return e.s.Equal(*x, *y)
}

func (e erased[C]) Explain(v any) string {
	if e.s.Explain == nil {
		return "on"
	}
	return e.s.Explain(*v.(*C))
}

func (e erased[C]) CanBuild() bool  { return e.s.Build != nil }
func (e erased[C]) Stateless() bool { return e.s.Stateless }
func (e erased[C]) Always() bool    { return e.s.Always }
func (e erased[C]) Refresh() bool   { return e.s.Refresh }
func (e erased[C]) Captures() []Key { return e.s.Captures }

func (e erased[C]) ServiceClassifier() bool { return e.s.ServiceClassifier && !e.s.Stateless }

func (e erased[C]) ForClassifier() func(Built, *codes.Classifier) Built { return e.s.ForClassifier }

func (e erased[C]) CallSink() func(observe.Sink) grpc.CallOption { return e.s.CallSink }

func (e erased[C]) Retune(obj, v any) (func(), bool) {
	c, ok := v.(*C)
	if e.s.Retune == nil || e.s.Refresh || e.s.Stateless || !ok || c == nil {
		return nil, false
	}
	return e.s.Retune(obj, *c)
}

// value returns *v, or the zero C for a nil v.
func value[C any](v any) C {
	if p, ok := v.(*C); ok && p != nil {
		return *p
	}
	var c C
	return c
}

func (e erased[C]) Build(env *Env, v any) (Built, error) {
	if e.s.Build == nil {
		return Built{}, fmt.Errorf("section: %s has no Build", e.s.Key)
	}
	return e.s.Build(env, value[C](v))
}

func (e erased[C]) Check(env *Env, v any) error {
	if e.s.Check == nil {
		return nil
	}
	return e.s.Check(env, value[C](v))
}

func (e erased[C]) Name(v any, service, fullMethod string, shared bool) string {
	if e.s.Name != nil {
		return e.s.Name(value[C](v), service, fullMethod, shared)
	}
	if shared {
		return service
	}
	return fullMethod
}

func (e erased[C]) Uses(v any) Uses {
	if e.s.Uses == nil {
		return 0
	}
	return e.s.Uses(value[C](v))
}

func (e erased[C]) Deps(env *Env, v any) []any {
	if e.s.Deps == nil {
		return nil
	}
	return e.s.Deps(env, value[C](v))
}

// The methods of C that stand in for the hooks of Spec[C] left nil.
type (
	validator      interface{ Validate() error }
	explainer      interface{ Explain() string }
	equaler[C any] interface{ Equal(C) bool }
)

// withMethods returns s with Validate, Explain and Equal, where nil, calling C's methods (on
// a copy, so that pointer receivers do not change the caller's value).
func (s Spec[C]) withMethods() Spec[C] {
	if _, ok := any(new(C)).(validator); ok && s.Validate == nil {
		s.Validate = func(c C) error { return any(&c).(validator).Validate() }
	}
	if _, ok := any(new(C)).(explainer); ok && s.Explain == nil {
		s.Explain = func(c C) string { return any(&c).(explainer).Explain() }
	}
	if _, ok := any(new(C)).(equaler[C]); ok && s.Equal == nil {
		s.Equal = func(a, b C) bool { return any(&a).(equaler[C]).Equal(b) }
	}
	return s
}

// zeroTags calls add with the path and rule of every field of struct type t, and of the
// structs it holds (directly or by pointer), that has a zero tag. A path is prefix followed by
// the yaml keys that lead to the field. outer are the struct types that lead to t: a struct
// among them, which holds the path's structs again (by pointer), is not entered again, so that
// types that hold each other end the walk.
func zeroTags(t reflect.Type, prefix string, outer []reflect.Type, add func(path, rule string)) {
	outer = append(outer, t)
	for _, f := range yamlfield.Fields(t) {
		sf := t.Field(f.Index)
		if rule, ok := sf.Tag.Lookup("zero"); ok {
			add(prefix+f.Name, rule)
		}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !slices.Contains(outer, ft) {
			zeroTags(ft, prefix+f.Name+".", outer, add)
		}
	}
}

var (
	mu       sync.RWMutex
	sections []Section // by rank
	version  int
)

// lowerIdent reports whether k is a lower-case identifier, as a section's key must be.
func lowerIdent(k string) bool {
	for i, r := range k {
		letter := r >= 'a' && r <= 'z' || r == '_'
		digit := i > 0 && r >= '0' && r <= '9'
		if !letter && !digit {
			return false
		}
	}
	return k != ""
}

// reserved are keys a section cannot take: they mean something else where sections are written.
var reserved = []Key{"profile", "methods", "classifier", "budget", "profiles", "services"}

// Register adds a section. Policy packages call it from an init function, so that a program
// has the sections of the packages it links. It panics when the key or rank is taken, the key
// is reserved, empty or not a lower-case identifier, or C is not a struct: those are
// programming errors.
//
// Validate, Equal and Explain left nil are taken from C's methods of those names and
// signatures (Validate() error, Equal(C) bool, Explain() string), declared on C or *C, so
// that a Spec states only what its section does differently from its Config's own methods.
func Register[C any](s Spec[C]) {
	s = s.withMethods()
	if reflect.TypeFor[C]().Kind() != reflect.Struct {
		panic(fmt.Sprintf("section: %s: config type %s is not a struct", s.Key, reflect.TypeFor[C]()))
	}
	if s.Key == "" || slices.Contains(reserved, s.Key) {
		panic(fmt.Sprintf("section: key %q is reserved", s.Key))
	}
	if !lowerIdent(string(s.Key)) {
		// Config reads a dot as the step into a field, and writes paths with other keys
		// quoted: a section's errors would lose their place, or their section.
		panic(fmt.Sprintf("section: key %q is not a lower-case identifier (letters a-z, digits and '_', not first a digit)", s.Key))
	}
	if s.ForClassifier != nil && !s.ServiceClassifier {
		// Only a service's object shared across classifiers has chains to judge apart.
		panic(fmt.Sprintf("section: %s: ForClassifier without ServiceClassifier", s.Key))
	}
	for path := range s.Zero {
		// A misspelt path would silently turn its rule off.
		if !yamlfield.ValidPath(reflect.TypeFor[C](), path) {
			panic(fmt.Sprintf("section: %s: Zero names %q, which is not a field of %s", s.Key, path, reflect.TypeFor[C]()))
		}
	}
	zero := maps.Clone(s.Zero)
	zeroTags(reflect.TypeFor[C](), "", nil, func(path, rule string) {
		if _, ok := zero[path]; ok {
			panic(fmt.Sprintf("section: %s: %q has a zero rule both in Zero and in a tag", s.Key, path))
		}
		if zero == nil {
			zero = map[string]string{}
		}
		zero[path] = rule
	})
	s.Zero = zero
	mu.Lock()
	defer mu.Unlock()
	for _, o := range sections {
		if o.Key() == s.Key {
			panic(fmt.Sprintf("section: %q is registered twice", s.Key))
		}
		if o.Rank() == s.Rank {
			panic(fmt.Sprintf("section: %q and %q both take rank %d", o.Key(), s.Key, s.Rank))
		}
	}
	sections = append(sections, erased[C]{s})
	slices.SortFunc(sections, func(a, b Section) int { return cmp.Compare(a.Rank(), b.Rank()) })
	version++
}

// All returns the registered sections by rank, outermost first, and a version number that
// changes whenever a section is registered (for callers that cache what they derive).
func All() ([]Section, int) {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Clone(sections), version
}

// Lookup returns the section registered under k.
func Lookup(k Key) (Section, bool) {
	mu.RLock()
	defer mu.RUnlock()
	for _, s := range sections {
		if s.Key() == k {
			return s, true
		}
	}
	return nil, false
}
