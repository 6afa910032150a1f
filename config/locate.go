package config

import (
	"errors"
	"strings"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/section"
)

// LocateSectionError returns err, an error that section s's policy gave for fullMethod when
// it was built, as an *Error naming the field in c, when err names a field of the section
// (a path relative to it, as the policy package's Config spells it: fallback's "reply_json"):
// the layer of c whose value of the field the method's policy takes — the method's
// overrides, its service's, or its profile — so that
//
//	services."kyc.v1.OCRService".methods.Extract.fallback.reply_json: "{}" does not fit ...
//
// with the file and line when c was parsed. It returns nil when err names no field or no
// layer of c writes it (the field has its default).
func (c *Config) LocateSectionError(fullMethod string, s Section, err error) error {
	c = c.orBuiltin()
	var fe *fielderr.Error
	if !errors.As(err, &fe) || fe.Path == "" {
		return nil
	}
	sl, ok := slotOf(section.Key(s))
	if !ok {
		return nil
	}
	prefix := c.fieldLayer(sl, fullMethod, fe.Path)
	if prefix == "" {
		return nil
	}
	path := prefix + "." + string(s) + "." + fe.Path
	file, line := locate(path, c.srcs...)
	return &Error{File: file, Line: line, Path: path, Value: fe.Value, Rule: fe.Rule}
}

// fieldLayer returns the yaml path of the layer (a method's or service's entry, or a
// profile) whose value of field of section sl the policy of fullMethod takes (see resolve),
// or "" when none writes it.
func (c *Config) fieldLayer(sl slot, fullMethod, field string) string {
	svc, m := grpcmethod.Split(fullMethod)
	se, hasSvc := c.Services[svc]
	me, hasMethod := se.Methods[m]
	hasMethod = hasSvc && m != "" && hasMethod
	// An override that turns the section off leaves the layers below it unused; one that
	// does not write the field passes it on from them.
	for _, l := range []struct {
		on   bool
		o    *Overrides
		path string
	}{{hasMethod, &me.Overrides, targetPath(svc, m)}, {hasSvc, &se.Overrides, targetPath(svc, "")}} {
		if !l.on {
			continue
		}
		switch ov := sl.getOverride(l.o); {
		case ov == nil:
		case ov.off:
			return ""
		case writes(ov.fields, field):
			return l.path
		}
	}
	name := c.resolve(svc, m, false).ProfileName
	if p, ok := c.Profiles[name]; ok && name != "" && sl.get(&p) != nil {
		return "profiles." + fielderr.Key(name)
	}
	return ""
}

// writes reports whether an override of fields sets field: it names the field, a section
// that holds it, or a field it holds (a rate limit's redis.addr, of its redis).
func writes(fields []string, field string) bool {
	for _, f := range fields {
		if f == field || strings.HasPrefix(field, f+".") || strings.HasPrefix(f, field+".") {
			return true
		}
	}
	return false
}
