package section_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// hookConfig has a Validate method that a Spec's own Validate must win over, and no Explain
// method.
type hookConfig struct {
	Size int `yaml:"size"`
}

func (c hookConfig) Validate() error { return fielderr.New("size", c.Size, "is refused by the method") }

// hookCalls counts the calls of the hooks of the hooktoy sections that must not run.
var hookCalls struct{ retune int }

func hookRetune(obj any, c hookConfig) (func(), bool) {
	hookCalls.retune++
	return nil, true
}

func init() {
	section.Register(section.Spec[hookConfig]{
		Key:  "hooktoy",
		Rank: section.RankFallback - 70,
		Validate: func(c hookConfig) error {
			if c.Size > 3 {
				return fielderr.New("size", c.Size, "is above 3 (spec)")
			}
			return nil
		},
		Check: func(_ *section.Env, c hookConfig) error {
			if c.Size == 0 {
				return errors.New("check saw the zero value")
			}
			return fielderr.New("size", c.Size, "is checked")
		},
		Retune: func(obj any, c hookConfig) (func(), bool) {
			if obj == nil {
				return nil, false
			}
			return func() {}, c.Size > 0
		},
	})
	section.Register(section.Spec[hookConfig]{
		Key: "hookrefreshtoy", Rank: section.RankFallback - 71, Refresh: true, Retune: hookRetune,
	})
	section.Register(section.Spec[hookConfig]{
		Key: "hookstatelesstoy", Rank: section.RankFallback - 72, Stateless: true, Retune: hookRetune,
	})
}

func lookup(t *testing.T, k section.Key) section.Section {
	t.Helper()
	s, ok := section.Lookup(k)
	if !ok {
		t.Fatalf("%s is not registered", k)
	}
	return s
}

// A Spec's own Validate wins over C's method of that name (Register takes the method only
// for a hook left nil), and a section without Explain, hook or method, explains itself "on".
func TestSpecHooksWinOverMethods(t *testing.T) {
	s := lookup(t, "hooktoy")
	if err := s.Validate(&hookConfig{Size: 2}); err != nil {
		t.Fatalf("Validate(size 2) = %v, want nil from the Spec's hook (the method refuses every value)", err)
	}
	if err := s.Validate(&hookConfig{Size: 4}); err == nil || !strings.Contains(err.Error(), "size: 4 is above 3 (spec)") {
		t.Fatalf("Validate(size 4) = %v, want the Spec's error", err)
	}
	if got := s.Explain(&hookConfig{Size: 4}); got != "on" {
		t.Fatalf("Explain without a hook or method = %q, want %q", got, "on")
	}
}

// Section.Check is Spec.Check of the value, the zero value for nil; nil without a Check.
func TestCheckRunsTheSpecsCheck(t *testing.T) {
	s := lookup(t, "hooktoy")
	env := &section.Env{Service: "s"}
	if err := s.Check(env, &hookConfig{Size: 5}); err == nil || !strings.Contains(err.Error(), "size: 5 is checked") {
		t.Fatalf("Check(size 5) = %v, want the Spec's Check error", err)
	}
	if err := s.Check(env, nil); err == nil || err.Error() != "check saw the zero value" {
		t.Fatalf("Check(nil) = %v, want the Spec's Check of the zero value", err)
	}
	if err := lookup(t, "hookrefreshtoy").Check(env, &hookConfig{Size: 5}); err != nil {
		t.Fatalf("Check of a section without one = %v, want nil", err)
	}
}

// Retune reaches the Spec's hook, but never for a nil value, nor for a Refresh or a Stateless
// section, whose Retune is ignored.
func TestRetuneIgnoredForRefreshAndStateless(t *testing.T) {
	obj := &poolObj{}
	apply, ok := lookup(t, "hooktoy").Retune(obj, &hookConfig{Size: 1})
	if !ok || apply == nil {
		t.Fatalf("Retune(size 1) = %v, %v; want the Spec's apply and true", apply != nil, ok)
	}
	if _, ok := lookup(t, "hooktoy").Retune(obj, &hookConfig{Size: 0}); ok {
		t.Fatal("Retune(size 0) = true, want the Spec's false")
	}
	if _, ok := lookup(t, "hooktoy").Retune(obj, nil); ok {
		t.Fatal("Retune(nil value) = true, want false")
	}
	before := hookCalls.retune
	for _, k := range []section.Key{"hookrefreshtoy", "hookstatelesstoy"} {
		if _, ok := lookup(t, k).Retune(obj, &hookConfig{Size: 1}); ok {
			t.Errorf("%s: Retune = true, want false (ignored)", k)
		}
	}
	if hookCalls.retune != before {
		t.Fatalf("the Spec's Retune ran %d times for Refresh and Stateless sections, want 0", hookCalls.retune-before)
	}
}

// All's version changes when a section is registered, so that what callers derive from the
// sections is derived again.
func TestAllVersionChangesOnRegister(t *testing.T) {
	before, v := section.All()
	key, rank := unregistered("hooklatetoy", section.RankFallback-73)
	section.Register(section.Spec[hookConfig]{Key: key, Rank: rank})
	after, w := section.All()
	if w == v || len(after) != len(before)+1 {
		t.Fatalf("All after Register: version %d (was %d), %d sections (were %d); want a new version and one more", w, v, len(after), len(before))
	}
	if _, u := section.All(); u != w {
		t.Fatalf("All's version moved from %d to %d with nothing registered", w, u)
	}
}

// unregistered returns key and rank, for a test that registers a section, when no section
// holds them, else the first of key2, key3, ... and the first rank below rank that none
// holds: the registry keeps a section for good, and a test run again (go test -count) must
// not register its section twice.
func unregistered(key section.Key, rank section.Rank) (section.Key, section.Rank) {
	k := key
	for i := 2; ; i++ {
		if _, ok := section.Lookup(k); !ok {
			break
		}
		k = key + section.Key(strconv.Itoa(i))
	}
	all, _ := section.All()
	for taken := true; taken; {
		taken = false
		for _, s := range all {
			if s.Rank() == rank {
				taken, rank = true, rank-1
			}
		}
	}
	return k, rank
}

// Capped bounds a policy's own total by the call budget: 0 means the budget, a longer one is
// cut to it, a shorter one stays.
func TestCapped(t *testing.T) {
	env := &section.Env{Budget: 8 * time.Second}
	for _, tt := range []struct{ d, want time.Duration }{
		{0, 8 * time.Second},
		{3 * time.Second, 3 * time.Second},
		{8 * time.Second, 8 * time.Second},
		{9 * time.Second, 8 * time.Second},
	} {
		if got := env.Capped(tt.d); got != tt.want {
			t.Errorf("Capped(%v) with budget 8s = %v, want %v", tt.d, got, tt.want)
		}
	}
}

// flatObj is a policy object whose unary step runs flat (section.UnaryStep).
type flatObj struct{ poolObj }

func (*flatObj) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return next.Invoke(ctx, method, req, reply, cc, opts)
}

// Step runs an object that implements UnaryStep flat (Built.Flat is the object), and leaves
// Flat nil for one that does not; a constructor's error is returned with no step.
func TestStepSetsFlatForUnarySteps(t *testing.T) {
	f := &flatObj{}
	b, err := section.Step(f, nil)
	if err != nil || b.Flat == nil || b.Flat != section.UnaryStep(f) || b.Object != f {
		t.Fatalf("Step(UnaryStep) = Flat %v, Object %v, err %v; want the object as both", b.Flat, b.Object, err)
	}
	if b, _ := section.Step(&poolObj{}, nil); b.Flat != nil {
		t.Fatalf("Step(object without InvokeStep).Flat = %v, want nil", b.Flat)
	}
	boom := errors.New("boom")
	if b, err := section.Step(f, boom); !errors.Is(err, boom) || b.Object != nil {
		t.Fatalf("Step(o, boom) = Object %v, err %v; want no step and boom", b.Object, err)
	}
}

// Every key a configuration uses otherwise is refused as a section's key.
func TestRegisterRefusesEveryReservedKey(t *testing.T) {
	for i, k := range []section.Key{"profile", "methods", "classifier", "budget", "profiles", "services"} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "reserved") {
					t.Errorf("Register(key %q) recovered %v, want a panic saying it is reserved", k, r)
				}
			}()
			section.Register(section.Spec[hookConfig]{Key: k, Rank: section.Rank(-2000 - i)})
		}()
	}
}

// hookValue is a suite value of a type of the test's own.
type hookValue struct{ n int }

// Value finds the suite's value by its type, and nothing for a type the suite has no value of.
func TestValueFindsTheSuitesValueByType(t *testing.T) {
	v := &hookValue{n: 3}
	env := &section.Env{Values: map[reflect.Type]any{reflect.TypeFor[*hookValue](): v}}
	if got, ok := section.Value[*hookValue](env); !ok || got != v {
		t.Fatalf("Value[*hookValue] = %v, %v; want the suite's value", got, ok)
	}
	if got, ok := section.Value[hookValue](env); ok {
		t.Fatalf("Value[hookValue] = %v, true; want none (the suite holds a *hookValue)", got)
	}
}

// A change registered on a stage already committed would never run: OnCommit refuses it.
func TestOnCommitAfterCommitPanics(t *testing.T) {
	var st section.Stage
	st.Commit()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "committed") {
			t.Fatalf("OnCommit after Commit recovered %v, want a panic naming the committed stage", r)
		}
	}()
	st.OnCommit(func() {})
}
