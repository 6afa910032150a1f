package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/codename"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/internal/yamlfield"
	"github.com/bulwarkrpc/bulwark/section"
	grpccodes "google.golang.org/grpc/codes"
)

// Validate reports every problem in c as field errors (fielderr.Error, joined with
// errors.Join) whose paths are yaml key paths: each section's own Validate, classifier
// entries, profile and service names, methods that are not identifiers, a method's full name
// written as a services or methods key ("/kyc.v1.OCRService/Extract", or
// kyc.v1.OCRService.Extract beside kyc.v1.OCRService: it configures no call), services bound to
// profiles that do not exist, override fields that do not exist, and overrides that make the
// effective section invalid (reported at the service or method that overrides; a service's
// overrides that do not fit the profile of a method with one of its own, at the method), a
// rate_limit.shared name given two rates or bursts, and entries of the Sections maps that are
// no registered section's or hold a value of another type than its *C (alone, as the rest
// would read them).
func (c *Config) Validate() error {
	c = c.orBuiltin()
	var v fielderr.Checker
	var errs []error
	v.Check(c.Budget >= 0, "budget", c.Budget, "is negative")
	errs = append(errs, v.Err())
	if err := c.checkSectionValues(); err != nil {
		// The rest reads those values: alone, they are what is wrong.
		return errors.Join(append(errs, err)...)
	}

	for _, name := range c.ProfileNames() {
		path := "profiles." + fielderr.Key(name)
		if !profileRE.MatchString(name) {
			errs = append(errs, fielderr.New(path, name, "is not a profile name (letters, digits, '_' and '-')"))
		}
		errs = append(errs, fielderr.Prefix(path, c.Profiles[name].validate()))
	}
	for _, name := range c.ServiceNames() {
		errs = append(errs, c.validateService(name))
	}
	errs = append(errs, c.checkSharedBuckets())
	return errors.Join(errs...)
}

// checkSectionValues reports the entries of the Sections maps of c's profiles, services and
// methods that no policy can be resolved from: a key that is no registered section kept there
// (a built-in section's value goes in its own field), and a value that is not a non-nil *C of
// its section's Config type C (an Override's Value may also be nil: the section's defaults).
// A file decodes to the right types; a Config built in code may not, and resolving such a
// value would panic, or leave the section silently off.
func (c *Config) checkSectionValues() error {
	var errs []error
	check := func(path string, k section.Key, v any, override bool) {
		path += "." + fielderr.Key(string(k))
		sl, ok := slotOf(k)
		switch {
		case !ok:
			errs = append(errs, fielderr.New(path, string(k), "is not a registered section"))
		case sl.pField >= 0:
			errs = append(errs, fielderr.New(path, string(k), "has a field of its own, where its value goes"))
		case v == nil && override:
		case v == nil || (reflect.TypeOf(v) == reflect.PointerTo(sl.sec.Type()) && reflect.ValueOf(v).IsNil()):
			errs = append(errs, &fielderr.Error{Path: path, Value: "nil", Rule: "is not a *" + sl.sec.Type().String() + " (leave the key out to turn the section off)"})
		case reflect.TypeOf(v) != reflect.PointerTo(sl.sec.Type()):
			errs = append(errs, &fielderr.Error{Path: path, Value: "a value of type " + reflect.TypeOf(v).String(), Rule: "is not a *" + sl.sec.Type().String()})
		}
	}
	overrides := func(path string, o Overrides) {
		for _, k := range slices.Sorted(maps.Keys(o.Sections)) {
			if ov := o.Sections[k]; ov != nil {
				var v any
				if !ov.Off {
					v = ov.Value
				}
				check(path, k, v, true)
			}
		}
	}
	for _, name := range c.ProfileNames() {
		p := c.Profiles[name]
		for _, k := range slices.Sorted(maps.Keys(p.Sections)) {
			check("profiles."+fielderr.Key(name), k, p.Sections[k], false)
		}
	}
	for _, name := range c.ServiceNames() {
		path := "services." + fielderr.Key(name)
		svc := c.Services[name]
		overrides(path, svc.Overrides)
		for _, m := range c.MethodNames(name) {
			overrides(path+".methods."+fielderr.Key(m), svc.Methods[m].Overrides)
		}
	}
	return errors.Join(errs...)
}

// checkSharedBuckets refuses a rate_limit.shared name given two rates or bursts (after
// defaults) by the profiles, services and methods of c: a shared name is one in-process
// bucket, with one rate and burst. (A reload may change them: the suite then replaces the
// bucket.) So is a fleet-wide one (with a redis section) on one server and key prefix (see
// bucketOf): redislimit's key names the limit too, so its services with other limits would
// each draw on a bucket of their own, not the one the name says. (Across a fleet, replicas
// configured otherwise, as in a rolling deploy, keep a bucket each: see redislimit.)
func (c *Config) checkSharedBuckets() error {
	type settings struct {
		rate  float64
		burst int
	}
	type use struct {
		path string
		settings
	}
	type conflict struct {
		name string
		settings
	}
	first := map[string]use{}
	reported := map[conflict]bool{} // each name and settings once, not at every method
	var errs []error
	see := func(path string, rl *ratelimit.Config) {
		key := bucketOf(rl)
		if key == "" {
			return
		}
		n := ratelimit.Normalize(*rl)
		here := settings{n.Rate, n.Burst}
		u, ok := first[key]
		if !ok {
			first[key] = use{path, here}
			return
		}
		if k := (conflict{key, here}); u.settings != here && !reported[k] {
			reported[k] = true
			errs = append(errs, fielderr.New(path+".rate_limit.shared", rl.Shared, fmt.Sprintf(
				"is the bucket %s gives rate %s/s burst %d, here rate %s/s burst %d: a shared bucket has one rate and burst",
				u.path, prose.Float(u.rate), u.burst, prose.Float(n.Rate), n.Burst)))
		}
	}
	for _, name := range c.ProfileNames() {
		see("profiles."+fielderr.Key(name), c.Profiles[name].RateLimit)
	}
	for _, name := range c.ServiceNames() {
		path := "services." + fielderr.Key(name)
		see(path, c.resolve(name, "", false).RateLimit)
		for _, m := range c.MethodNames(name) {
			see(path+".methods."+fielderr.Key(m), c.resolve(name, m, false).RateLimit)
		}
	}
	return errors.Join(errs...)
}

func (c *Config) validateService(name string) error {
	var errs []error
	svc := c.Services[name]
	path := "services." + fielderr.Key(name)
	if s, m, ok := methodOfKey(name, c.Services); ok {
		// A method's full name configures no call: say where the method goes.
		what := "is a method's full name"
		if !strings.Contains(name, "/") {
			what = "is the method " + m + " of the service " + s + " (also configured)"
		}
		errs = append(errs, fielderr.New(path, name, what+", not a service: a services key is a fully qualified service name; "+
			"methods go under the service's methods ("+s+": {methods: {"+m+": ...}})"))
	} else if !fullyQualified(name) {
		errs = append(errs, fielderr.New(path, name, "is not a fully qualified service name (such as kyc.v1.OCRService)"))
	}
	errs = append(errs, c.checkProfileRef(path+".profile", svc.Profile))
	errs = append(errs, fielderr.Prefix(path, svc.Overrides.validateFields()))
	// The service's effective sections, against its profile's.
	eff := c.resolve(name, "", false)
	svcErrs := effectiveErrors(c.Profiles[eff.ProfileName], eff.Profile, svc.Overrides)
	errs = append(errs, fielderr.Prefix(path, svcErrs))
	reported := map[string]bool{}
	for _, e := range fielderr.Flatten(svcErrs) {
		reported[e.Error()] = true
	}

	for _, m := range c.MethodNames(name) {
		meth := svc.Methods[m]
		mpath := path + ".methods." + fielderr.Key(m)
		if _, short, ok := methodOfKey(m, nil); ok {
			errs = append(errs, fielderr.New(mpath, m, "is a method's full name: a methods key is the method's short name ("+short+")"))
		} else if !identRE.MatchString(m) {
			errs = append(errs, fielderr.New(mpath, m, "is not a method name (an identifier such as Extract)"))
		}
		errs = append(errs, c.checkProfileRef(mpath+".profile", meth.Profile))
		errs = append(errs, fielderr.Prefix(mpath, meth.Overrides.validateFields()))
		// A method with a profile of its own gets the service's overrides on top of it: those
		// were checked against the service's profile, and may not fit the method's. A field
		// they write that the method's profile leaves unused (a ratio budget's window over a
		// profile with no ratio budget) is no mistake of the service's, whose profile reads it,
		// and the method cannot clear it (a written 0 means its default): Warnings says it at
		// the method (see unusedWarnings).
		if mp, ok := c.Profiles[meth.Profile]; ok && meth.Profile != eff.ProfileName {
			onMethod := *c
			onMethod.Services = map[string]Service{name: {Profile: meth.Profile, Overrides: svc.Overrides}}
			onProfile := onMethod.resolve(name, "", false).Profile
			unused := onProfile.unusedSet()
			for _, e := range fielderr.Flatten(effectiveErrors(mp, onProfile, svc.Overrides)) {
				if reported[e.Error()] {
					continue // wrong whatever the profile: reported at the service
				}
				var fe *fielderr.Error
				if errors.As(e, &fe) && unused[fe.Error()] {
					continue // unused on the method's profile alone: a warning at the method
				}
				if fe != nil {
					e = &fielderr.Error{Path: fe.Path, Value: fe.Value,
						Rule: fe.Rule + ": the service's override does not fit the method's profile " + meth.Profile}
				}
				errs = append(errs, fielderr.Prefix(mpath, e))
			}
		}
		// Against what the method would get without overrides of its own.
		without := *c
		without.Services = map[string]Service{name: {Profile: svc.Profile, Overrides: svc.Overrides,
			Methods: map[string]Method{m: {Profile: meth.Profile}}}}
		parent := without.resolve(name, m, false).Profile
		errs = append(errs, fielderr.Prefix(mpath, effectiveErrors(parent, c.resolve(name, m, false).Profile, meth.Overrides)))
	}
	return errors.Join(errs...)
}

func (c *Config) checkProfileRef(path, name string) error {
	if name == "" {
		return nil
	}
	if _, ok := c.Profiles[name]; ok {
		return nil
	}
	names := c.ProfileNames()
	list := "there are none"
	if len(names) > 0 {
		list = "profiles: " + strings.Join(names, ", ")
	}
	return fielderr.New(path, name, "is not a profile ("+list+")")
}

// fullMethodRE is a method's full name as gRPC writes it ("/kyc.v1.OCRService/Extract"), the
// leading slash optional: the service and the method.
var fullMethodRE = regexp.MustCompile(`^/?([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)/([A-Za-z_][A-Za-z0-9_]*)$`)

// methodOfKey returns the service and the method that key, written where a service's name
// goes, names instead: a method's full name ("/S/M" or "S/M"), or "S.M" for a service S
// among services (protobuf does not let a name be a service's and a package's both, so S.M
// cannot be a service then). A service whose last part starts with a lower-case letter
// ("acme.v1") is taken for a package (written there by mistake, or not), not for a service.
func methodOfKey(key string, services map[string]Service) (svc, method string, ok bool) {
	if m := fullMethodRE.FindStringSubmatch(key); m != nil {
		return m[1], m[2], true
	}
	i := strings.LastIndexByte(key, '.')
	if i < 0 || !identRE.MatchString(key[i+1:]) {
		return "", "", false
	}
	s := key[:i]
	last := s[strings.LastIndexByte(s, '.')+1:]
	if _, found := services[s]; !found || !fullyQualified(s) || last == "" || last[0] < 'A' || last[0] > 'Z' {
		return "", "", false
	}
	return s, key[i+1:], true
}

// fullyQualified reports whether name is a dotted name of identifiers with a package part.
func fullyQualified(name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if !identRE.MatchString(p) {
			return false
		}
	}
	return true
}

// validate runs each section's Validate, prefixed by the section's key.
func (p Profile) validate() error {
	var errs []error
	for _, sl := range slots() {
		if v := sl.get(&p); v != nil {
			// A section valid as written is validated again with its defaults filled in, as
			// the policy's New does: a default must not make it invalid where New would reject it.
			err := sl.sec.Validate(v)
			if err == nil {
				err = sl.sec.Validate(sl.sec.Normalize(v))
			}
			if err == nil {
				err = sl.sec.Unused(v)
			}
			errs = append(errs, fielderr.Prefix(string(sl.key), err))
		}
	}
	errs = append(errs, fielderr.Prefix(string(SectionClassifier), validateClassifier(p.Classifier)))
	return errors.Join(errs...)
}

// unused returns the fields of p's sections, as written, that are set but that the rest of
// their section never reads (section.Spec.Unused), with their paths from the profile, in the
// order of the sections and of their fields; each section is judged only once it is valid
// (validate reports these among its errors).
func (p Profile) unused() []*fielderr.Error {
	var out []*fielderr.Error
	for _, sl := range slots() {
		v := sl.get(&p)
		if v == nil || sl.sec.Validate(v) != nil || sl.sec.Validate(sl.sec.Normalize(v)) != nil {
			continue
		}
		for _, e := range fielderr.Flatten(fielderr.Prefix(string(sl.key), sl.sec.Unused(v))) {
			var fe *fielderr.Error
			if errors.As(e, &fe) {
				out = append(out, fe)
			}
		}
	}
	return out
}

// unusedSet returns p.unused as a set of their texts (fielderr.Error.Error), to look an
// error of p's validate up in.
func (p Profile) unusedSet() map[string]bool {
	set := map[string]bool{}
	for _, fe := range p.unused() {
		set[fe.Error()] = true
	}
	return set
}

func validateClassifier(o codes.Overrides) error {
	var v fielderr.Checker
	for code, cl := range o.Codes {
		v.Check(code <= grpccodes.Unauthenticated, "codes", code, "is not a gRPC code")
		v.Check(code != grpccodes.OK, "codes.OK", cl, "is not allowed for OK: OK is the code of every success")
		v.Check(cl.Valid(), "codes."+codename.Name(code), cl, "is not a class")
	}
	for r, cl := range o.Reasons {
		v.Check(r != "", "reasons", r, "is not a reason: it is empty")
		v.Check(cl.Valid(), "reasons."+fielderr.Key(r), cl, "is not a class")
	}
	return v.Err()
}

// validateFields reports override field paths that name no field of their section.
func (o Overrides) validateFields() error {
	var errs []error
	for _, sl := range slots() {
		ov := sl.getOverride(&o)
		if ov == nil {
			continue
		}
		var v fielderr.Checker
		for _, f := range ov.fields {
			v.Check(yamlfield.ValidPath(sl.sec.Type(), f), string(sl.key), f, "is not a field of "+string(sl.key))
		}
		errs = append(errs, v.Err())
	}
	errs = append(errs, fielderr.Prefix(string(SectionClassifier), validateClassifier(o.Classifier)))
	return errors.Join(errs...)
}

// effectiveErrors validates the sections o overrides in eff, leaving out the errors parent
// already has in the same section (they are reported where parent is defined). An override's
// explicit fields are checked against the effective section (section.Spec.Explicit).
func effectiveErrors(parent, eff Profile, o Overrides) error {
	overridden := map[string]bool{}
	written := map[string]bool{} // the fields o writes, by their path from the profile
	var out []error
	for _, sl := range slots() {
		ov := sl.getOverride(&o)
		if ov == nil {
			continue
		}
		overridden[string(sl.key)] = true
		for _, f := range ov.fields {
			written[string(sl.key)+"."+f] = true
		}
		if v := sl.get(&eff); v != nil && !ov.off {
			out = append(out, fielderr.Prefix(string(sl.key), sl.sec.Explicit(v, ov.fields)))
		}
	}
	known := map[string]bool{}
	for _, e := range fielderr.Flatten(parent.validate()) {
		known[e.Error()] = true
	}
	unused := eff.unusedSet()
	for _, e := range fielderr.Flatten(eff.validate()) {
		var fe *fielderr.Error
		if !errors.As(e, &fe) || known[e.Error()] {
			continue
		}
		if unused[fe.Error()] && !written[fe.Path] {
			// Kept from the parent, and left unused by what o writes (retry.throttle.ratio:
			// 0 over a ratio budget's window): o turns the setting off, which is no mistake,
			// and o could not clear the field (a written 0 means its default). Warnings says so.
			continue
		}
		sec, _, _ := strings.Cut(fe.Path, ".")
		if overridden[sec] {
			var val any
			if sl, ok := slotOf(section.Key(sec)); ok {
				val = sl.get(&eff)
			}
			out = append(out, atWritten(fe, sec, written, val))
		}
	}
	return errors.Join(out...)
}

// pairRule is a rule between two fields of a section, naming the other one and its value,
// and what follows from it: "is below initial_backoff (30s)", "is above window_size (10), so
// the rate would never be judged".
var pairRule = regexp.MustCompile(`^is (below|above) ([a-z_.]+) \(([^()]+)\)(,.*)?$`)

// setWithRule, setButRule and setWithValueRule are rules between two fields of a section
// that are not bounds: "is set with throttle.max_tokens (choose the ratio budget or the token
// bucket)", "is set but jitter is not additive", "is set but failure_rate_threshold is not",
// "is set with window_size 10, so even 10 failures of 10 would never trip ...". Turning them
// round reads the other field's value from the section.
var (
	setWithRule      = regexp.MustCompile(`^is set with ([a-z_.]+) \(([^()]+)\)$`)
	setButRule       = regexp.MustCompile(`^is set but ([a-z_.]+) is not( [a-z_]+)?$`)
	setWithValueRule = regexp.MustCompile(`^is set with ([a-z_.]+) [^ ,()]+(, .*)$`)
)

// atWritten returns fe, an error of section sec that an override brought about, at the
// other field its rule names when the override wrote that one and not fe's: an override
// of initial_backoff: 30s over max_backoff 10s is "initial_backoff: 30s is above
// max_backoff (10s)", not an error at a max_backoff it does not write. val is the effective
// section (a *C), where the other field's value is read for the rules that do not quote it.
func atWritten(fe *fielderr.Error, sec string, written map[string]bool, val any) error {
	if written[fe.Path] {
		return fe
	}
	field := strings.TrimPrefix(fe.Path, sec+".")
	if m := pairRule.FindStringSubmatch(fe.Rule); m != nil && written[sec+"."+m[2]] {
		rule := "is above "
		if m[1] == "above" {
			rule = "is below "
		}
		return &fielderr.Error{Path: sec + "." + m[2], Value: m[3], Rule: rule + field + " (" + fe.Value + ")" + m[4]}
	}
	if m := setWithRule.FindStringSubmatch(fe.Rule); m != nil && written[sec+"."+m[1]] {
		if v, ok := fieldText(val, m[1]); ok {
			return &fielderr.Error{Path: sec + "." + m[1], Value: v, Rule: "is set with " + field + " (" + fe.Value + "): " + m[2]}
		}
	}
	if m := setWithValueRule.FindStringSubmatch(fe.Rule); m != nil && written[sec+"."+m[1]] {
		if v, ok := fieldText(val, m[1]); ok {
			return &fielderr.Error{Path: sec + "." + m[1], Value: v, Rule: "is set with " + field + " (" + fe.Value + ")" + m[2]}
		}
	}
	if m := setButRule.FindStringSubmatch(fe.Rule); m != nil && written[sec+"."+m[1]] {
		if v, ok := fieldText(val, m[1]); ok {
			not := cmp.Or(m[2], " set")
			return &fielderr.Error{Path: sec + "." + m[1], Value: v, Rule: "is not" + not + ", but " + field + " (" + fe.Value + ") is set"}
		}
	}
	return fe
}

// fieldText returns the value of the field at path (yaml keys joined by dots) in v, a *C, as
// a field error spells it.
func fieldText(v any, path string) (string, bool) {
	rv, ok := fieldValue(v, path)
	if !ok {
		return "", false
	}
	if rv.Kind() == reflect.String {
		return fielderr.Format(rv.String()), true
	}
	return fielderr.Format(rv.Interface()), true
}

// fieldValue returns the field at path (yaml keys joined by dots) in v, a *C; false when v is
// nil or path leads nowhere.
func fieldValue(v any, path string) (reflect.Value, bool) {
	if v == nil {
		return reflect.Value{}, false
	}
	rv := reflect.ValueOf(v)
	for part := range strings.SplitSeq(path, ".") {
		for rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return reflect.Value{}, false
			}
			rv = rv.Elem()
		}
		if rv.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		f, ok := yamlfield.Named(rv.Type(), part)
		if !ok {
			return reflect.Value{}, false
		}
		rv = rv.Field(f.Index)
	}
	return rv, true
}
