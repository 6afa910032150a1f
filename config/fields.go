package config

import (
	"reflect"
	"strings"
)

// field is one yaml key of a section struct.
type field struct {
	name  string
	index int
}

// yamlFields lists the yaml keys of struct type t, in declaration order.
func yamlFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		out = append(out, field{name: name, index: i})
	}
	return out
}

func fieldNamed(t reflect.Type, name string) (field, bool) {
	for _, f := range yamlFields(t) {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// validFieldPath reports whether path (yaml keys joined by dots) names a field of struct t.
func validFieldPath(t reflect.Type, path string) bool {
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
		f, ok := fieldNamed(t, part)
		if !ok {
			return false
		}
		t = t.Field(f.index).Type
	}
	return true
}

// setFieldPath copies the field at path from src into dst (both addressable structs of the
// same type), allocating nil pointers on dst's side on the way.
func setFieldPath(dst, src reflect.Value, path string) {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		f, ok := fieldNamed(dst.Type(), part)
		if !ok {
			return
		}
		df, sf := dst.Field(f.index), src.Field(f.index)
		if i == len(parts)-1 {
			df.Set(deepCopy(sf))
			return
		}
		if df.Kind() == reflect.Pointer {
			if df.IsNil() {
				df.Set(reflect.New(df.Type().Elem()))
			}
			df = df.Elem()
			if sf.IsNil() {
				sf = reflect.New(sf.Type().Elem())
			}
			sf = sf.Elem()
		}
		dst, src = df, sf
	}
}

// deepCopy returns a copy of v that shares no pointers, slices or maps with it.
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(deepCopy(v.Elem()))
		return p
	case reflect.Slice:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			s.Index(i).Set(deepCopy(v.Index(i)))
		}
		return s
	case reflect.Map:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), deepCopy(it.Value()))
		}
		return m
	case reflect.Interface:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(deepCopy(v.Elem()))
		return out
	case reflect.Struct:
		s := reflect.New(v.Type()).Elem()
		s.Set(v)
		for i := range v.NumField() {
			if s.Field(i).CanSet() {
				s.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return s
	default:
		return v
	}
}

// clone returns a deep copy of *p, or nil.
func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return deepCopy(reflect.ValueOf(p)).Interface().(*T)
}
