package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/bulwarkrpc/bulwark/internal/yamlfield"
	"github.com/bulwarkrpc/bulwark/section"
)

// slot is where one registered section lives in a Profile and in Overrides: a typed field
// whose yaml tag is the section's key (the built-ins), else an entry of the Sections map.
type slot struct {
	sec     section.Section
	key     section.Key
	pField  int // index in Profile, or -1: Profile.Sections
	ovField int // index in Overrides, or -1: Overrides.Sections
}

var slotCache struct {
	sync.Mutex
	version int
	slots   []slot
}

// slots returns the slot of every registered section, in the order a profile lists them:
// Profile's typed fields first, then the other sections by rank. A Profile field without a
// registered section is a programming error.
func slots() []slot {
	secs, version := section.All()
	slotCache.Lock()
	defer slotCache.Unlock()
	if slotCache.slots != nil && slotCache.version == version {
		return slotCache.slots
	}
	byKey := map[section.Key]section.Section{}
	for _, s := range secs {
		byKey[s.Key()] = s
	}
	var out []slot
	seen := map[section.Key]bool{}
	pt, ot := reflect.TypeFor[Profile](), reflect.TypeFor[Overrides]()
	for i := range pt.NumField() {
		f := pt.Field(i)
		if f.Type.Kind() != reflect.Pointer {
			continue
		}
		k := section.Key(yamlKey(f))
		s, ok := byKey[k]
		if !ok || s.Type() != f.Type.Elem() {
			panic(fmt.Sprintf("config: Profile.%s has no registered section %q of type %s", f.Name, k, f.Type.Elem()))
		}
		of, ok := ot.FieldByName(f.Name)
		if !ok {
			panic("config: Overrides has no field " + f.Name)
		}
		out = append(out, slot{sec: s, key: k, pField: i, ovField: of.Index[0]})
		seen[k] = true
	}
	for _, s := range secs {
		if !seen[s.Key()] {
			out = append(out, slot{sec: s, key: s.Key(), pField: -1, ovField: -1})
		}
	}
	slotCache.slots, slotCache.version = out, version
	return out
}

func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// slotOf returns the slot of the section named k.
func slotOf(k section.Key) (slot, bool) {
	for _, s := range slots() {
		if s.key == k {
			return s, true
		}
	}
	return slot{}, false
}

// get returns the section's value in p (a *C), or nil when the section is off.
func (s slot) get(p *Profile) any {
	if s.pField < 0 {
		return p.Sections[s.key]
	}
	f := reflect.ValueOf(p).Elem().Field(s.pField)
	if f.IsNil() {
		return nil
	}
	return f.Interface()
}

// set stores v (a *C, or nil for off) as the section's value in p.
func (s slot) set(p *Profile, v any) {
	if s.pField < 0 {
		if v == nil {
			delete(p.Sections, s.key)
			return
		}
		if p.Sections == nil {
			p.Sections = map[section.Key]any{}
		}
		p.Sections[s.key] = v
		return
	}
	f := reflect.ValueOf(p).Elem().Field(s.pField)
	if v == nil {
		f.Set(reflect.Zero(f.Type()))
		return
	}
	f.Set(reflect.ValueOf(v))
}

// override is an Override with its type erased: value is a *C (nil when off).
type override struct {
	off    bool
	value  any
	fields []string
}

// getOverride returns the section's override in o, or nil.
func (s slot) getOverride(o *Overrides) *override {
	if s.ovField < 0 {
		ov := o.Sections[s.key]
		if ov == nil {
			return nil
		}
		v := ov.Value
		if v == nil && !ov.Off {
			v = s.sec.New()
		}
		return &override{off: ov.Off, value: v, fields: ov.Fields}
	}
	f := reflect.ValueOf(o).Elem().Field(s.ovField)
	if f.IsNil() {
		return nil
	}
	e := f.Elem()
	return &override{
		off:    e.FieldByName("Off").Bool(),
		value:  e.FieldByName("Value").Addr().Interface(),
		fields: e.FieldByName("Fields").Interface().([]string),
	}
}

// setOverride stores ov as the section's override in o.
func (s slot) setOverride(o *Overrides, ov override) {
	if s.ovField < 0 {
		if o.Sections == nil {
			o.Sections = map[section.Key]*Override[any]{}
		}
		o.Sections[s.key] = &Override[any]{Off: ov.off, Value: ov.value, Fields: ov.fields}
		return
	}
	f := reflect.ValueOf(o).Elem().Field(s.ovField)
	p := reflect.New(f.Type().Elem())
	p.Elem().FieldByName("Off").SetBool(ov.off)
	if ov.value != nil {
		p.Elem().FieldByName("Value").Set(reflect.ValueOf(ov.value).Elem())
	}
	p.Elem().FieldByName("Fields").Set(reflect.ValueOf(ov.fields))
	f.Set(p)
}

// cloneValue returns a deep copy of v (a *C), or nil.
func cloneValue(v any) any {
	if v == nil {
		return nil
	}
	return deepCopy(reflect.ValueOf(v)).Interface()
}

// applyOverride returns base (a *C or nil) with ov applied, as a fresh copy.
func (s slot) applyOverride(base any, ov *override) any {
	if ov == nil {
		return cloneValue(base)
	}
	if ov.off {
		return nil
	}
	out := cloneValue(base)
	if out == nil {
		out = s.sec.New()
	}
	dst, src := reflect.ValueOf(out).Elem(), reflect.ValueOf(ov.value).Elem()
	for _, path := range ov.fields {
		if yamlfield.ValidPath(dst.Type(), path) {
			setFieldPath(dst, src, path)
		}
	}
	return out
}
