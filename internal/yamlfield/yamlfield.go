// Package yamlfield finds the fields of a configuration struct by their yaml keys.
package yamlfield

import (
	"reflect"
	"strings"
)

// Field is one yaml key of a struct type.
type Field struct {
	Name  string
	Index int
}

// Fields lists the yaml keys of struct type t, in declaration order.
func Fields(t reflect.Type) []Field {
	var out []Field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		out = append(out, Field{Name: name, Index: i})
	}
	return out
}

// Named returns the field of struct type t whose yaml key is name.
func Named(t reflect.Type, name string) (Field, bool) {
	for _, f := range Fields(t) {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// ValidPath reports whether path (yaml keys joined by dots) names a field of struct type t,
// through nested structs and pointers to structs.
func ValidPath(t reflect.Type, path string) bool {
	if path == "" {
		return false
	}
	for part := range strings.SplitSeq(path, ".") {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		f, ok := Named(t, part)
		if !ok {
			return false
		}
		t = t.Field(f.Index).Type
	}
	return true
}
