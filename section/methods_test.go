package section_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/section"
)

// methodConfig is a section whose Spec leaves Validate, Explain and Equal nil: Register must
// take them from its methods.
type methodConfig struct {
	Size int    `yaml:"size"`
	Note string `yaml:"note"`
}

func (c methodConfig) Validate() error {
	var v fielderr.Checker
	v.Check(c.Size <= 10, "size", c.Size, "is above 10")
	return v.Err()
}

func (c methodConfig) Explain() string { return "size " + strings.Repeat("#", c.Size) }

// Equal ignores Note, so that a DeepEqual fallback would tell itself apart.
func (c methodConfig) Equal(d methodConfig) bool { return c.Size == d.Size }

// ptrConfig has its Validate on the pointer, and the Spec overrides its Explain.
type ptrConfig struct {
	Size int `yaml:"size"`
}

func (c *ptrConfig) Validate() error {
	// A pointer receiver that writes must not reach the value config holds.
	size := c.Size
	c.Size = -1
	if size > 3 {
		return fielderr.New("size", size, "is above 3")
	}
	return nil
}

func (c *ptrConfig) Explain() string { return "from the method" }

func init() {
	section.Register(section.Spec[methodConfig]{Key: "methodtoy", Rank: section.RankFallback - 60})
	section.Register(section.Spec[ptrConfig]{
		Key:     "ptrtoy",
		Rank:    section.RankFallback - 50,
		Explain: func(ptrConfig) string { return "from the spec" },
	})
}

func TestSpecTakesHooksFromMethods(t *testing.T) {
	s, ok := section.Lookup("methodtoy")
	if !ok {
		t.Fatal("methodtoy is not registered")
	}
	if err := s.Validate(&methodConfig{Size: 11}); err == nil || !strings.Contains(err.Error(), "size: 11 is above 10") {
		t.Fatalf("Validate(size 11) = %v, want the method's error", err)
	}
	if err := s.Validate(&methodConfig{Size: 10}); err != nil {
		t.Fatalf("Validate(size 10) = %v, want nil", err)
	}
	if got := s.Explain(&methodConfig{Size: 3}); got != "size ###" {
		t.Fatalf("Explain = %q, want the method's %q", got, "size ###")
	}
	if !s.Equal(&methodConfig{Size: 2, Note: "a"}, &methodConfig{Size: 2, Note: "b"}) {
		t.Fatal("Equal used reflect.DeepEqual, not the method (which ignores note)")
	}
	if s.Equal(&methodConfig{Size: 2}, &methodConfig{Size: 3}) {
		t.Fatal("Equal(size 2, size 3) = true")
	}
}

func TestSpecTakesPointerMethodsAndKeepsItsOwn(t *testing.T) {
	s, ok := section.Lookup("ptrtoy")
	if !ok {
		t.Fatal("ptrtoy is not registered")
	}
	v := &ptrConfig{Size: 4}
	err := s.Validate(v)
	var fe *fielderr.Error
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "size: 4 is above 3") {
		t.Fatalf("Validate(size 4) = %v, want the pointer method's error", err)
	}
	if v.Size != 4 {
		t.Fatalf("Validate changed the value it was given: size %d", v.Size)
	}
	if got := s.Explain(v); got != "from the spec" {
		t.Fatalf("Explain = %q, want the Spec's own hook over the method", got)
	}
	// No Equal method: reflect.DeepEqual.
	if s.Equal(&ptrConfig{Size: 1}, &ptrConfig{Size: 2}) || !s.Equal(&ptrConfig{Size: 1}, &ptrConfig{Size: 1}) {
		t.Fatal("Equal without a method is not reflect.DeepEqual")
	}
}

func TestSpecMethodsReachConfigFiles(t *testing.T) {
	_, _, err := config.Parse("m.yaml", []byte("profiles:\n  p:\n    methodtoy: {size: 12}\n"))
	if err == nil || !strings.Contains(err.Error(), "profiles.p.methodtoy.size: 12 is above 10") {
		t.Fatalf("Parse = %v, want methodConfig.Validate's error at its path", err)
	}
}

// tagConfig states its explicit-zero rules in tags, one in a struct it holds by pointer.
type tagConfig struct {
	Size  int `yaml:"size" zero:"is below 1"`
	Inner *struct {
		Wait int `yaml:"wait" zero:"is not positive"`
		Free int `yaml:"free"`
	} `yaml:"inner"`
	Other int `yaml:"other"`
}

func init() {
	section.Register(section.Spec[tagConfig]{
		Key:  "tagtoy",
		Rank: section.RankFallback - 40,
		Zero: map[string]string{"other": "is below 2"},
	})
}

func TestZeroRulesFromTags(t *testing.T) {
	s, ok := section.Lookup("tagtoy")
	if !ok {
		t.Fatal("tagtoy is not registered")
	}
	for path, want := range map[string]string{"size": "is below 1", "inner.wait": "is not positive", "other": "is below 2"} {
		if got, ok := s.ZeroRule(path); !ok || got != want {
			t.Errorf("ZeroRule(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
	if r, ok := s.ZeroRule("inner.free"); ok {
		t.Errorf("ZeroRule(inner.free) = %q, want none", r)
	}
	_, _, err := config.Parse("z.yaml", []byte("profiles:\n  p:\n    tagtoy: {inner: {wait: 0}}\n"))
	if err == nil || !strings.Contains(err.Error(), "profiles.p.tagtoy.inner.wait: 0 is not positive") {
		t.Fatalf("Parse = %v, want the tag's rule for inner.wait", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a rule in both Zero and a tag did not panic")
		}
	}()
	section.Register(section.Spec[tagConfig]{Key: "tagtoy2", Rank: section.RankFallback - 30, Zero: map[string]string{"size": "twice"}})
}

// The built-in policies state their explicit-zero rules in tags, nested ones included.
func TestBuiltinZeroRules(t *testing.T) {
	for _, c := range []struct{ key, path, want string }{
		{"retry", "throttle.window", "is not positive (leave it out for the default 10s)"},
		{"retry", "max_attempts", "is below 1"},
		{"rate_limit", "redis.timeout", "is not positive (leave it out for the default 50ms)"},
		{"hedge", "replay_buffer_bytes", "means the default 256 KiB: leave it out, or write -1 to never buffer"},
		{"breaker", "success_threshold", "is below 1"},
		{"breaker", "half_open_max_wait", "is not positive (leave it out for the default: 1m0s, or slow_call_duration when longer)"},
		{"bulkhead", "max_concurrent", "is below 1"},
	} {
		s, ok := section.Lookup(section.Key(c.key))
		if !ok {
			t.Fatalf("%s is not registered", c.key)
		}
		if got, ok := s.ZeroRule(c.path); !ok || got != c.want {
			t.Errorf("%s: ZeroRule(%q) = %q, %v; want %q", c.key, c.path, got, ok, c.want)
		}
	}
}
