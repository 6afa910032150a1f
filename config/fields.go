package config

import (
	"reflect"
	"strings"

	"github.com/bulwarkrpc/bulwark/internal/yamlfield"
)

// setFieldPath copies the field at path from src into dst (both addressable structs of the
// same type), allocating nil pointers on dst's side on the way.
func setFieldPath(dst, src reflect.Value, path string) {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		f, ok := yamlfield.Named(dst.Type(), part)
		if !ok {
			return
		}
		df, sf := dst.Field(f.Index), src.Field(f.Index)
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
