package config

import (
	_ "embed"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/bulwarkrpc/bulwark/section"
)

//go:embed builtin.yaml
var builtinYAML []byte

// BuiltinYAML returns the text of the built-in profiles and bindings (builtin.yaml), comments
// included.
func BuiltinYAML() []byte { return append([]byte(nil), builtinYAML...) }

// builtin parses builtin.yaml once. It is set in init, not in its declaration, as it
// validates with the methods that read a nil Config as its result (orBuiltin).
var builtin func() (*Config, *source)

func init() {
	builtin = sync.OnceValues(func() (*Config, *source) {
		cfg, src, errs := parseFile("builtin.yaml", builtinYAML)
		if len(errs) > 0 {
			panic("config: builtin.yaml: " + joinErrors(errs).Error())
		}
		if err := cfg.Validate(); err != nil {
			panic("config: builtin.yaml: " + err.Error())
		}
		return cfg, src
	})
}

// Builtin returns the built-in configuration: the budget (8s), the profiles ml, fast and ocr
// and the bindings of kyc.v1.LivenessService, kyc.v1.FaceMatchService (ml) and
// kyc.v1.OCRService (ocr), as builtin.yaml holds them. Each call returns a fresh copy.
func Builtin() *Config {
	cfg, _ := builtin()
	return cfg.Clone()
}

// Clone returns a deep copy of c; of a nil c, Builtin(), which a nil Config means.
func (c *Config) Clone() *Config {
	return deepCopyConfig(c.orBuiltin())
}

// orBuiltin returns c, or the built-in configuration for a nil c: every method of Config
// reads a nil one as Builtin(), as Explain and interceptors.New do. The built-in one is
// shared: it is only read, never changed or returned.
func (c *Config) orBuiltin() *Config {
	if c == nil {
		cfg, _ := builtin()
		return cfg
	}
	return c
}

func deepCopyConfig(c *Config) *Config {
	if c == nil {
		return nil
	}
	out := *clone(c)
	return &out
}

// Load reads the YAML file at path and merges it over the built-ins (see Parse).
func Load(path string) (*Config, []Warning, error) { return loadFile(path, Parse) }

// loadFile reads the file at path and hands it to parse, named by its path.
func loadFile(path string, parse func(name string, data []byte) (*Config, []Warning, error)) (*Config, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return parse(path, data)
}

// Parse reads a YAML configuration named name (used in messages) and merges it over Builtin:
// a non-zero budget replaces the built-in one; a profile replaces the built-in profile of the
// same name as a whole; a service replaces the built-in binding of the same name, keeping the
// built-in's profile when it names none.
//
// The error, when not nil, joins every problem found as *Error values in file order. The
// warnings say which profiles, services and methods cannot run their worst case within the
// budget; they come with a valid configuration, and are nil with an error.
func Parse(name string, data []byte) (*Config, []Warning, error) {
	user, src, errs := parseFile(name, data)
	base, bsrc := builtin()
	if user == nil {
		return nil, nil, joinErrors(errs)
	}
	bsrc = bsrc.without(src)
	cfg := merge(base, user)
	errs = withValidation(errs, cfg, src, bsrc)
	if len(errs) > 0 {
		return nil, nil, joinErrors(errs)
	}
	warns := cfg.Warnings()
	for i := range warns {
		warns[i].File, warns[i].Line = locate(warns[i].Path, src, bsrc)
	}
	cfg.srcs = []*source{src, bsrc}
	return cfg, warns, nil
}

// withValidation returns errs, the errors decoding srcs[0] found, with what cfg.Validate finds,
// located in srcs and sorted. A value that could not be decoded was left zero: what Validate
// says of it, and of another field by it (namesBad), is left out. A number or a boolean in a
// string field was decoded as its text: what Validate says of it replaces the hint to quote it
// (see source.quoteHints).
func withValidation(errs []*Error, cfg *Config, srcs ...*source) []*Error {
	inheritedZeros(srcs[0], cfg)
	bad := map[string]bool{}
	hints := map[string]*Error{}
	for _, e := range errs {
		switch {
		case srcs[0].quoteHints[e]:
			hints[e.Path] = e
		case !srcs[0].keepValidation[e]:
			bad[e.Path] = true
		}
	}
	replaced := map[*Error]bool{}
	for _, e := range located(cfg.Validate(), srcs...) {
		if bad[e.Path] || namesBad(e, bad) {
			continue
		}
		if h, ok := hints[e.Path]; ok {
			replaced[h] = true // quoting would not help: the rule is the error
		}
		errs = append(errs, e)
	}
	errs = slices.DeleteFunc(errs, func(e *Error) bool { return replaced[e] })
	sortErrors(errs, srcs...)
	return errs
}

// namesBad reports whether e's rule weighs e's field against another field that could not be
// decoded ("is below initial_backoff (100ms)", "is set but jitter is not additive"): that field
// was left zero, so the rule judged its default or its absence, not what the file wrote.
func namesBad(e *Error, bad map[string]bool) bool {
	for b := range bad {
		for p := e.Path; ; {
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
			if rel, ok := strings.CutPrefix(b, p+"."); ok && mentions(e.Rule, rel) {
				return true
			}
		}
	}
	return false
}

// mentions reports whether rule names the field at path (yaml keys joined by dots) as a whole,
// not as a part of a longer name or path.
func mentions(rule, path string) bool {
	isName := func(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for from := 0; ; {
		i := strings.Index(rule[from:], path)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(path)
		before := start == 0 || !isName(rule[start-1]) && rule[start-1] != '.'
		after := end == len(rule) || !isName(rule[end]) && (rule[end] != '.' || end+1 == len(rule) || !isName(rule[end+1]))
		if before && after {
			return true
		}
		from = start + 1
	}
}

// without returns a copy of s (builtin.yaml's source) without the paths of the profiles and
// services that file (the file's source) defines: those replace the built-in ones as a whole,
// so nothing under them is located in s.
func (s *source) without(file *source) *source {
	out := &source{file: s.file, lines: map[string]int{}, numbers: map[string]string{}}
	replaced := func(path string) bool {
		segs := splitPath(path)
		if len(segs) < 2 || (segs[0] != "profiles" && segs[0] != "services") {
			return false
		}
		_, ok := file.lines[segs[0]+segs[1]]
		return ok
	}
	for p, l := range s.lines {
		if !replaced(p) {
			out.lines[p] = l
		}
	}
	for p, n := range s.numbers {
		if !replaced(p) {
			out.numbers[p] = n
		}
	}
	return out
}

// merge returns over merged over base (see Parse); neither is changed.
func merge(base, over *Config) *Config {
	out := base.Clone()
	o := over.Clone()
	if o.Budget != 0 {
		out.Budget = o.Budget
	}
	if out.Profiles == nil && len(o.Profiles) > 0 {
		out.Profiles = map[string]Profile{}
	}
	for name, p := range o.Profiles {
		out.Profiles[name] = p
	}
	if out.Services == nil && len(o.Services) > 0 {
		out.Services = map[string]Service{}
	}
	for name, s := range o.Services {
		if s.Profile == "" {
			s.Profile = out.Services[name].Profile
		}
		out.Services[name] = s
	}
	return out
}

// inheritedZeros rewrites, in the errors of a zero written in a service's or a method's
// override (src.zeros), the advice to leave the field out "for the default": left out there,
// the field keeps the value the profile (or, for a method, the service) gives it, which the
// rule then quotes when it is set. cfg is the configuration src was merged into.
func inheritedZeros(src *source, cfg *Config) {
	if len(src.zeros) == 0 {
		return
	}
	targets := map[string][2]string{} // a service's or method's path: its service and method
	for _, s := range cfg.ServiceNames() {
		targets[targetPath(s, "")] = [2]string{s, ""}
		for _, m := range cfg.MethodNames(s) {
			targets[targetPath(s, m)] = [2]string{s, m}
		}
	}
	for e, key := range src.zeros {
		target, ok := targets[strings.TrimSuffix(e.Path, "."+key)]
		if !ok || !strings.HasSuffix(e.Path, "."+key) {
			continue
		}
		sec, rel, _ := strings.Cut(key, ".")
		sl, ok := slotOf(section.Key(sec))
		if !ok {
			continue
		}
		parent := cfg.inherited(target[0], target[1])
		if v, ok := fieldValue(sl.get(&parent), rel); !ok || v.IsZero() {
			continue // nothing inherited: left out, the field is the default
		}
		text, _ := fieldText(sl.get(&parent), rel)
		e.Rule = keepRule(e.Rule, text)
	}
}

// inherited returns what a method of service (the service as a whole when method is empty)
// inherits before its own overrides: its profile, with the service's overrides for a method.
func (c *Config) inherited(service, method string) Profile {
	svc := c.Services[service]
	only := Service{Profile: svc.Profile}
	if method != "" {
		only.Overrides = svc.Overrides
		only.Methods = map[string]Method{method: {Profile: svc.Methods[method].Profile}}
	}
	without := *c
	without.Services = map[string]Service{service: only}
	return without.resolve(service, method, false).Profile
}

// keepRule returns rule with its advice to leave the field out ("leave it out for the
// default 10)", up to the parenthesis it closes) saying that this keeps value instead.
func keepRule(rule, value string) string {
	i := strings.Index(rule, "leave it out")
	if i < 0 {
		return rule
	}
	keep := "leave it out to keep the inherited " + value
	rest := rule[i+len("leave it out"):]
	if strings.HasPrefix(rest, ",") {
		return rule[:i] + keep + rest // "leave it out, or write -1 to never buffer"
	}
	depth := 0
	for j, r := range rest {
		switch r {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return rule[:i] + keep + rest[j:]
			}
			depth--
		}
	}
	return rule[:i] + keep
}
