package yamlfield

import (
	"reflect"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type inner struct {
	Max int `yaml:"max_attempts"`
}

type outer struct {
	Untagged int
	hidden   int    `yaml:"hidden"` //nolint:unused // an unexported field is no key, tag or not
	Skipped  int    `yaml:"-"`
	Name     string `yaml:"name,omitempty"`
	Retry    inner  `yaml:"retry"`
	Ptr      *inner `yaml:"ptr"`
	Count    int    `yaml:"count"`
}

func TestFields(t *testing.T) {
	got := Fields(reflect.TypeFor[outer]())
	want := []Field{{"name", 3}, {"retry", 4}, {"ptr", 5}, {"count", 6}}
	if !slices.Equal(got, want) {
		t.Fatalf("Fields = %v, want %v", got, want)
	}
}

func TestNamed(t *testing.T) {
	typ := reflect.TypeFor[outer]()
	if f, ok := Named(typ, "count"); !ok || f != (Field{"count", 6}) {
		t.Errorf("Named(count) = %v, %v; want {count 6}, true", f, ok)
	}
	for _, name := range []string{"Count", "hidden", "-", "", "Untagged", "name,omitempty"} {
		if f, ok := Named(typ, name); ok {
			t.Errorf("Named(%q) = %v, true; want none", name, f)
		}
	}
}

func TestValidPath(t *testing.T) {
	typ := reflect.TypeFor[outer]()
	for path, want := range map[string]bool{
		"name":               true,
		"retry":              true,
		"retry.max_attempts": true,
		"ptr.max_attempts":   true, // through a pointer to a struct
		"":                   false,
		"retry.":             false,
		".retry":             false,
		"retry.missing":      false,
		"missing":            false,
		"count.max_attempts": false, // count is no struct
		"name.x":             false,
	} {
		if got := ValidPath(typ, path); got != want {
			t.Errorf("ValidPath(%q) = %v, want %v", path, got, want)
		}
	}
	if !ValidPath(reflect.TypeFor[*outer](), "retry.max_attempts") {
		t.Error("ValidPath of a pointer to the struct = false, want true")
	}
}
