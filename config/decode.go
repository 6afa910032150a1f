package config

import (
	"cmp"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"go.yaml.in/yaml/v3"
	grpccodes "google.golang.org/grpc/codes"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/codename"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/internal/yamlfield"
	"github.com/bulwarkrpc/bulwark/section"
)

// zeroRules are the top-level fields where the zero value means "use the default": writing
// it explicitly is an error with this rule. A section's own rules are its section.Spec.Zero.
var zeroRules = map[string]string{
	"budget": "is not positive (leave it out for the default 8s)",
	// An empty profile name is not a name: left out, the field means the default.
	"service.profile": `is not a profile name: leave the field out for the default (the built-in binding's profile, else the profile named "default")`,
	"method.profile":  "is not a profile name: leave the field out for the service's profile",
}

// zeroRule returns the rule an explicit zero breaks at ruleKey (budget, or section.field).
func zeroRule(ruleKey string) (string, bool) {
	if r, ok := zeroRules[ruleKey]; ok {
		return r, true
	}
	key, rel, ok := strings.Cut(ruleKey, ".")
	if !ok {
		return "", false
	}
	s, ok := slotOf(section.Key(key))
	if !ok {
		return "", false
	}
	return s.sec.ZeroRule(rel)
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
	identRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	profileRE    = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	yamlLineRE   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	// durationRE is the syntax time.ParseDuration reads, whatever the size of the numbers.
	durationRE = regexp.MustCompile(`^[-+]?(([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)
	// intRE is a plain decimal integer, as YAML writes one.
	intRE = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)
	// leadingZeroRE is a whole number written with a leading zero (010, -0_12), which YAML
	// reads as octal when its digits allow it and as a decimal number when they do not (09).
	leadingZeroRE = regexp.MustCompile(`^[-+]?0[0-9_]*[0-9][0-9_]*$`)
	// floatRE is a plain decimal number, as YAML writes a float.
	floatRE = regexp.MustCompile(`^[-+]?([0-9][0-9_]*\.?[0-9_]*|\.[0-9_]+)([eE][-+]?[0-9]+)?$`)
)

// decoder reads a yaml.Node tree into a Config, collecting every error with its line and
// recording the line of every path it visits.
type decoder struct {
	src  *source
	errs []*Error
}

func (d *decoder) add(n *yaml.Node, path, value, rule string) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.src.file, Line: line, Path: path, Value: value, Rule: rule})
}

// addKey records an error about a key of the mapping at path: the mapping's values are
// decoded all the same (see source.keepValidation).
func (d *decoder) addKey(n *yaml.Node, path, value, rule string) {
	d.add(n, path, value, rule)
	d.keepValidation(d.errs[len(d.errs)-1])
}

// keepValidation records that e leaves nothing Validate checks at its path undecoded.
func (d *decoder) keepValidation(e *Error) {
	if d.src.keepValidation == nil {
		d.src.keepValidation = map[*Error]bool{}
	}
	d.src.keepValidation[e] = true
}

// number records the text of the number or duration written at path (see source.numbers).
func (d *decoder) number(path, text string) {
	if d.src.numbers == nil {
		d.src.numbers = map[string]string{}
	}
	d.src.numbers[path] = text
}

func (d *decoder) mark(path string, n *yaml.Node) {
	if _, ok := d.src.lines[path]; !ok {
		d.src.lines[path] = n.Line
	}
}

// parseFile decodes data without merging it over anything. The Config is nil when the
// document could not be read at all.
func parseFile(name string, data []byte) (*Config, *source, []*Error) {
	d := &decoder{src: &source{file: name, lines: map[string]int{}}}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Config{}, d.src, nil
		}
		d.errs = append(d.errs, syntaxError(name, data, err))
		return nil, d.src, d.errs
	}
	// A file holds one document. Empty ones (a bare "---", as tools that join documents
	// leave at the end) are no documents: they are skipped, wherever they are.
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d.errs = append(d.errs, syntaxError(name, data, err))
			return nil, d.src, d.errs
		}
		switch {
		case emptyDocument(&extra):
		case emptyDocument(&doc):
			doc = extra
		default:
			d.add(&extra, "", "", "a second YAML document is not allowed: a configuration file holds one")
			return nil, d.src, d.errs
		}
	}
	cfg := &Config{}
	d.top(&doc, cfg)
	return cfg, d.src, d.errs
}

// syntaxError returns the error for err, the parser's error reading data (a file named
// name), at the line of the mistake (see syntaxErrorLine), in whichever document it is.
func syntaxError(name string, data []byte, err error) *Error {
	e := yamlError(name, err)
	text := utf8Text(data)
	e.Line = syntaxErrorLine(text, e.Line)
	if strings.HasSuffix(e.Rule, "found character that cannot start any token") && tabIndented(text, e.Line) {
		e.Rule += ": the line is indented with a tab, and YAML indents with spaces only"
	}
	return e
}

// emptyDocument reports whether n is a document with nothing written in it but comments: no
// value, not even an explicit null (~, null or a tag).
func emptyDocument(n *yaml.Node) bool {
	if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return n.Kind == yaml.DocumentNode
	}
	c := n.Content[0]
	return len(n.Content) == 1 && c.Kind == yaml.ScalarNode && c.Tag == "!!null" && c.Value == "" &&
		c.Style == 0 && c.Anchor == ""
}

// utf8Text returns data, which YAML reads in UTF-16 when it starts with a byte order mark, as
// UTF-8 with the same lines, for what looks at its lines: cut at '\n' bytes, UTF-16 text
// breaks into halves of characters.
func utf8Text(data []byte) []byte {
	if len(data) < 2 {
		return data
	}
	var order binary.ByteOrder
	switch {
	case data[0] == 0xff && data[1] == 0xfe:
		order = binary.LittleEndian
	case data[0] == 0xfe && data[1] == 0xff:
		order = binary.BigEndian
	default:
		return data
	}
	units := make([]uint16, 0, len(data)/2)
	for i := 2; i+1 < len(data); i += 2 {
		units = append(units, order.Uint16(data[i:]))
	}
	return []byte(string(utf16.Decode(units)))
}

// tabIndented reports whether line (1-based) of data has a tab in its indentation: the
// parser says only that it "found character that cannot start any token".
func tabIndented(data []byte, line int) bool {
	if line < 1 {
		return false
	}
	for i, l := range strings.Split(string(data), "\n") {
		if i == line-1 {
			return strings.Contains(l[:len(l)-len(strings.TrimLeft(l, " \t"))], "\t")
		}
	}
	return false
}

func yamlError(name string, err error) *Error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Rule: "invalid YAML: " + m[2]}
	}
	return &Error{File: name, Rule: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// mapping checks that n is a mapping without aliases or repeated keys, and calls fn for each
// entry in order. known, when not nil, lists the accepted keys; others are reported.
func (d *decoder) mapping(n *yaml.Node, path, what string, known []string, fn func(key string, k, v *yaml.Node)) {
	n = d.deref(n, path)
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.add(n, path, show(n), "is not a mapping of "+what)
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.addKey(k, path, show(k), "is not a valid key")
			continue
		}
		if k.Tag == "!!merge" {
			d.addKey(k, path, "<<", "merge keys are not supported")
			continue
		}
		key := k.Value
		if first, ok := seen[key]; ok {
			d.addKey(k, path, strconv.Quote(key), "is written twice (first on line "+strconv.Itoa(first)+")")
			continue
		}
		seen[key] = k.Line
		if known != nil && !contains(known, key) {
			d.addKey(k, path, strconv.Quote(key), unknownKey(what, key, known))
			continue
		}
		if v.Kind == yaml.AliasNode {
			d.add(v, join(path, key), "*"+v.Value, "aliases are not supported")
			continue
		}
		if a := cmp.Or(k.Anchor, v.Anchor); a != "" {
			d.add(v, join(path, key), "&"+a, "anchors are not supported")
			continue
		}
		fn(key, k, v)
	}
}

func (d *decoder) deref(n *yaml.Node, path string) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		d.add(n, path, "*"+n.Value, "aliases are not supported")
		return nil
	}
	return n
}

func unknownKey(what, key string, known []string) string {
	if s := closest(key, known); s != "" {
		return "is not a key of " + what + "; did you mean " + s + "?"
	}
	return "is not a key of " + what + " (keys: " + strings.Join(known, ", ") + ")"
}

// closest returns the known key within edit distance 2 of key, if any.
func closest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dist := fielderr.Distance(key, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return fielderr.Key(key)
	}
	return path + "." + fielderr.Key(key)
}

// show spells a node's value for a message.
func show(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "*" + n.Value
	}
	if n.Tag == "!!null" {
		return "null"
	}
	if n.Tag == "!!str" {
		return strconv.Quote(n.Value)
	}
	return n.Value
}

var topKeys = []string{"budget", "profiles", "services"}

// sectionKeys lists the keys a profile takes: every registered section, then classifier.
func sectionKeys() []string {
	var out []string
	for _, s := range slots() {
		out = append(out, string(s.key))
	}
	return append(out, string(SectionClassifier))
}

func serviceKeys() []string { return append(append([]string{"profile"}, sectionKeys()...), "methods") }
func methodKeys() []string  { return append([]string{"profile"}, sectionKeys()...) }

func (d *decoder) top(doc *yaml.Node, cfg *Config) {
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return
		}
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return
	}
	if doc.Anchor != "" {
		d.add(doc, "", "&"+doc.Anchor, "anchors are not supported")
		return
	}
	d.mapping(doc, "", "the configuration", topKeys, func(key string, k, v *yaml.Node) {
		d.mark(key, k)
		switch key {
		case "budget":
			d.scalar(v, "budget", "budget", reflect.ValueOf(&cfg.Budget).Elem())
		case "profiles":
			cfg.Profiles = named(d, v, "profiles", "profiles", d.profile)
		case "services":
			cfg.Services = named(d, v, "services", "services", d.service)
		}
	})
}

// named decodes n, a mapping of names to what (profiles, services, methods), at path, each
// value with decode. It returns nil when n is null.
func named[T any](d *decoder, n *yaml.Node, path, what string, decode func(n *yaml.Node, path string, v *T)) map[string]T {
	if isNull(n) {
		return nil
	}
	out := map[string]T{}
	d.mapping(n, path, what, nil, func(name string, k, v *yaml.Node) {
		p := join(path, name)
		d.mark(p, k)
		before := len(d.errs)
		var x T
		decode(v, p, &x)
		// At p itself Validate checks only the name, which an undecoded value leaves as it is.
		for _, e := range d.errs[before:] {
			if e.Path == p {
				d.keepValidation(e)
			}
		}
		out[name] = x
	})
	return out
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// isOff reports whether n turns a section off: null, "off" or false (as YAML reads the
// boolean, also False and FALSE).
func isOff(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	var b bool
	return n.Tag == "!!null" || (n.Tag == "!!str" && (n.Value == "off" || n.Value == "Off" || n.Value == "OFF")) ||
		(n.Tag == "!!bool" && n.Decode(&b) == nil && !b)
}

// onlyOff reports, for n, the value of a section or sub-section that isOff did not turn off,
// a scalar (true, on, 5): it is neither off nor a mapping, and the error says what turns the
// section off, which such a value often means to do.
func (d *decoder) onlyOff(n *yaml.Node, path, what string) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	d.add(n, path, show(n), "is not a mapping of "+what+" (off, false or null turns it off)")
	return true
}

// fields decodes n, a mapping of what's known keys at path (a profile, a service, a method),
// calling fn with each key, its path and its value; a null n holds no key.
func (d *decoder) fields(n *yaml.Node, path, what string, known []string, fn func(key, path string, v *yaml.Node)) {
	if isNull(n) {
		return
	}
	d.mapping(n, path, what, known, func(key string, k, v *yaml.Node) {
		sp := join(path, key)
		d.mark(sp, k)
		fn(key, sp, v)
	})
}

func (d *decoder) profile(n *yaml.Node, path string, p *Profile) {
	d.fields(n, path, "a profile", sectionKeys(), func(key, sp string, v *yaml.Node) {
		if key == string(SectionClassifier) {
			d.classifier(v, sp, &p.Classifier)
			return
		}
		if sl, ok := slotOf(section.Key(key)); ok {
			sl.set(p, d.profileSection(sl, v, sp))
		}
	})
}

func (d *decoder) service(n *yaml.Node, path string, s *Service) {
	d.fields(n, path, "a service", serviceKeys(), func(key, sp string, v *yaml.Node) {
		switch key {
		case "profile":
			d.scalar(v, sp, "service.profile", reflect.ValueOf(&s.Profile).Elem())
		case "methods":
			s.Methods = named(d, v, sp, "methods", d.method)
		default:
			d.override(key, v, sp, &s.Overrides)
		}
	})
}

func (d *decoder) method(n *yaml.Node, path string, m *Method) {
	d.fields(n, path, "a method", methodKeys(), func(key, sp string, v *yaml.Node) {
		if key == "profile" {
			d.scalar(v, sp, "method.profile", reflect.ValueOf(&m.Profile).Elem())
			return
		}
		d.override(key, v, sp, &m.Overrides)
	})
}

func (d *decoder) override(key string, v *yaml.Node, path string, o *Overrides) {
	if key == string(SectionClassifier) {
		d.classifier(v, path, &o.Classifier)
		return
	}
	sl, ok := slotOf(section.Key(key))
	if !ok {
		return
	}
	if isOff(v) {
		sl.setOverride(o, override{off: true})
		return
	}
	if d.onlyOff(v, path, key) {
		return
	}
	val := sl.sec.New()
	var fields []string
	d.structure(v, path, key, "", reflect.ValueOf(val).Elem(), &fields)
	sl.setOverride(o, override{value: val, fields: fields})
}

// profileSection decodes a profile's section: nil when it is off, else a *C checked against
// the section's rules on explicit fields.
func (d *decoder) profileSection(sl slot, n *yaml.Node, path string) any {
	if isOff(n) || d.onlyOff(n, path, string(sl.key)) {
		return nil
	}
	v := sl.sec.New()
	var written []string
	d.structure(n, path, string(sl.key), "", reflect.ValueOf(v).Elem(), &written)
	for _, e := range fielderr.Flatten(sl.sec.Explicit(v, written)) {
		var fe *fielderr.Error
		if !errors.As(e, &fe) {
			d.add(n, path, "", e.Error())
			continue
		}
		d.add(nodeAt(n, fe.Path), path+"."+fe.Path, fe.Value, fe.Rule)
	}
	return v
}

// nodeAt returns the value node at path (yaml keys joined by dots) under mapping n, or n
// itself where the path leaves the document.
func nodeAt(n *yaml.Node, path string) *yaml.Node {
	for part := range strings.SplitSeq(path, ".") {
		c := valueOf(n, part)
		if c == nil {
			return n
		}
		n = c
	}
	return n
}

// valueOf returns the value node of key in mapping n, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// structure decodes a mapping into the struct v by yaml tags. rel is the path of v inside
// its section ("" or "throttle"); fields, when not nil, collects the leaf paths written.
func (d *decoder) structure(n *yaml.Node, path, section, rel string, v reflect.Value, fields *[]string) {
	fs := yamlfield.Fields(v.Type())
	known := make([]string, len(fs))
	for i, f := range fs {
		known[i] = f.Name
	}
	what := section
	if rel != "" {
		what = section + "." + rel
	}
	d.mapping(n, path, what, known, func(key string, k, val *yaml.Node) {
		f, _ := yamlfield.Named(v.Type(), key)
		fp := join(path, key)
		frel := key
		if rel != "" {
			frel = rel + "." + key
		}
		d.mark(fp, k)
		fv := v.Field(f.Index)
		switch {
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct,
			fv.Kind() == reflect.Struct && fv.Type() != durationType:
			// A nested section, held by pointer or by value (bulkhead.adaptive,
			// retry.throttle), is off at its zero value: off turns it off as a whole.
			if isOff(val) {
				fv.Set(reflect.Zero(fv.Type()))
				if fields != nil {
					*fields = append(*fields, frel)
				}
				return
			}
			if d.onlyOff(val, fp, section+"."+frel) {
				return
			}
			sec := fv
			if fv.Kind() == reflect.Pointer {
				fv.Set(reflect.New(fv.Type().Elem()))
				sec = fv.Elem()
			}
			d.structure(val, fp, section, frel, sec, fields)
		default:
			if d.scalar(val, fp, section+"."+frel, fv) && fields != nil {
				*fields = append(*fields, frel)
			}
		}
	})
}

// scalar decodes a leaf value (a scalar or a list of scalars) into v. rule is the
// section.field key of zeroRules. It reports whether v was set.
func (d *decoder) scalar(n *yaml.Node, path, ruleKey string, v reflect.Value) bool {
	if v.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			if isNull(n) {
				v.Set(reflect.Zero(v.Type()))
				return true
			}
			d.add(n, path, show(n), "is not a list")
			return false
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		ok := true
		for i, e := range n.Content {
			ep := path + "[" + strconv.Itoa(i) + "]"
			d.mark(ep, e)
			if e.Kind == yaml.AliasNode {
				d.add(e, ep, "*"+e.Value, "aliases are not supported")
				ok = false
				continue
			}
			if e.Anchor != "" {
				d.add(e, ep, "&"+e.Anchor, "anchors are not supported")
				ok = false
				continue
			}
			ok = d.leaf(e, ep, "", s.Index(i)) && ok
		}
		if ok {
			v.Set(s)
		}
		return ok
	}
	return d.leaf(n, path, ruleKey, v)
}

func (d *decoder) leaf(n *yaml.Node, path, ruleKey string, v reflect.Value) bool {
	if n.Kind != yaml.ScalarNode {
		d.add(n, path, show(n), "is not a single value")
		return false
	}
	if n.Tag == "!!null" {
		d.add(n, path, "null", "is not a value: write one, or remove the key for the default")
		return false
	}
	if v.CanAddr() && v.Addr().Type().Implements(textType) {
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			rule := "is not valid"
			if v.Type() == reflect.TypeFor[codes.Class]() {
				rule = "is not a class (want one of " + classList() + ")"
			}
			d.add(n, path, strconv.Quote(n.Value), rule)
			return false
		}
		return true
	}
	if (v.Kind() == reflect.Int || v.Kind() == reflect.Float64) && v.Type() != durationType && leadingZero(n) {
		d.add(n, path, n.Value, leadingZeroRule(n.Value))
		return false
	}
	switch {
	case v.Type() == durationType:
		// A tag would say how to read the text, which is read as a duration whatever it says.
		if n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!str" {
			d.add(n, path, n.Tag+" "+n.Value, "is tagged "+n.Tag+": a duration takes no tag (such as 500ms or 2s)")
			return false
		}
		if n.Tag == "!!int" || n.Tag == "!!float" {
			f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			switch {
			case !floatRE.MatchString(n.Value): // 0x10, .inf: no unit makes a duration of it
				d.add(n, path, n.Value, "is not a duration (such as 500ms or 2s)")
				return false
			case err != nil || f != 0:
				d.add(n, path, n.Value, bareNumberRule(n.Value))
				return false
			}
			v.SetInt(0)
			break
		}
		dur, err := time.ParseDuration(n.Value)
		if f, nerr := strconv.ParseFloat(n.Value, 64); err != nil && nerr == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			d.add(n, path, strconv.Quote(n.Value), bareNumberRule(n.Value))
			return false
		}
		if err != nil && durationRE.MatchString(n.Value) {
			// Well formed, so too long: ParseDuration says "invalid duration" of both.
			d.add(n, path, strconv.Quote(n.Value), durationOutOfRange)
			return false
		}
		if err != nil {
			d.add(n, path, strconv.Quote(n.Value), "is not a duration (such as 500ms or 2s)")
			return false
		}
		v.SetInt(int64(dur))
		d.number(path, n.Value)
	case v.Kind() == reflect.Int:
		var i int
		outOfRange := "is out of range (a whole number is at most " + strconv.Itoa(math.MaxInt) + " either way)"
		// YAML reads a plain integer too large for an int64 as a float.
		if plain := n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.TaggedStyle) == 0; plain && intRE.MatchString(n.Value) && n.Tag != "!!int" {
			d.add(n, path, n.Value, outOfRange)
			return false
		}
		if n.Tag == "!!float" {
			d.add(n, path, tagged(n), floatInIntRule(n.Value, outOfRange))
			return false
		}
		if n.Tag != "!!int" {
			d.add(n, path, show(n), "is not a whole number")
			return false
		}
		// Every !!int, whatever its base (0x14, 0o24, 0b10100); it fails past an int64, and on
		// a text tagged !!int that is no whole number (!!int 3.5).
		if n.Decode(&i) != nil {
			rule := "is not a whole number"
			if _, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); errors.Is(err, strconv.ErrRange) {
				rule = outOfRange
			}
			d.add(n, path, n.Value, rule)
			return false
		}
		v.SetInt(int64(i))
		d.number(path, n.Value)
	case v.Kind() == reflect.Float64:
		var f float64
		if _, err := strconv.ParseFloat(n.Value, 64); n.Tag == "!!str" && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 &&
			errors.Is(err, strconv.ErrRange) && floatRE.MatchString(n.Value) {
			// YAML reads a plain number too large for a float64 as a string.
			d.add(n, path, n.Value, floatOutOfRange)
			return false
		}
		if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			rule := "is not a number"
			if _, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); n.Tag == "!!float" && errors.Is(err, strconv.ErrRange) {
				rule = floatOutOfRange // !!float 1e400
			}
			d.add(n, path, show(n), rule)
			return false
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			d.add(n, path, n.Value, "is not a finite number")
			return false
		}
		v.SetFloat(f)
		d.number(path, n.Value)
	case v.Kind() == reflect.Bool:
		if n.Tag != "!!bool" {
			d.add(n, path, show(n), "is not true or false")
			return false
		}
		var b bool
		// A tagged word that is not true or false (!!bool yes) fails to decode, leaving false.
		if n.Decode(&b) != nil {
			d.add(n, path, n.Tag+" "+n.Value, "is not true or false")
			return false
		}
		v.SetBool(b)
	case v.Kind() == reflect.String:
		// A named string type (retry.Jitter, breaker.Scope) takes one of a few words, which
		// its section's Validate lists: a number or a boolean is taken as its text and left to
		// that rule, since quoting it would not make it one of them.
		// A number or a boolean in a plain string field is taken as its text, so that the
		// field's own rule judges it: where that rule refuses the text too (on_codes: [14], a
		// Redis address, a profile that does not exist), quoting would not help, and the rule
		// is the error (see source.quoteHints).
		if n.Tag != "!!str" && v.Type() == reflect.TypeFor[string]() {
			v.SetString(n.Value)
			d.add(n, path, n.Value, "is not a string (quote it)")
			if d.src.quoteHints == nil {
				d.src.quoteHints = map[*Error]bool{}
			}
			d.src.quoteHints[d.errs[len(d.errs)-1]] = true
			return true
		}
		v.SetString(n.Value)
	default:
		d.add(n, path, show(n), fmt.Sprintf("cannot be decoded into %s", v.Type()))
		return false
	}
	if rule, ok := zeroRule(ruleKey); ok && v.IsZero() {
		value := n.Value
		if v.Kind() == reflect.String {
			value = strconv.Quote(n.Value)
		}
		d.add(n, path, value, rule)
		if d.src.zeros == nil {
			d.src.zeros = map[*Error]string{}
		}
		d.src.zeros[d.errs[len(d.errs)-1]] = ruleKey
		return false
	}
	return true
}

// bareNumberRule is the rule a duration written as value, a finite number without a unit,
// breaks, with durations to write instead: the number as time.ParseDuration reads it (no '_',
// no exponent), with a unit.
func bareNumberRule(value string) string {
	num := strings.ReplaceAll(value, "_", "")
	if !durationRE.MatchString(num + "s") {
		if f, err := strconv.ParseFloat(num, 64); err == nil {
			num = strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	if _, err := time.ParseDuration(num + "ms"); err != nil {
		return durationOutOfRange // 1e400: with any unit
	}
	return "is a bare number: add a unit, such as " + num + "s or " + num + "ms"
}

// tagged spells n's value with its tag when the tag is written (!!float 3), else as show does.
func tagged(n *yaml.Node) string {
	if n.Style&yaml.TaggedStyle != 0 {
		return n.Tag + " " + n.Value
	}
	return show(n)
}

// floatInIntRule is the rule a float written where a whole number goes (value, as YAML reads
// 1e3, 3.0 or !!float 3) breaks: with the whole number to write when it is one, out of range
// (outOfRange) when it is one past an int64.
func floatInIntRule(value, outOfRange string) string {
	f, err := strconv.ParseFloat(strings.ReplaceAll(value, "_", ""), 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f):
		return "is not a whole number"
	case f >= math.MaxInt64 || f < math.MinInt64:
		return outOfRange
	}
	return "is a float, not a whole number: write " + strconv.FormatInt(int64(f), 10)
}

// durationOutOfRange is the rule a duration too long for a time.Duration breaks.
var durationOutOfRange = "is out of range (a duration is at most " + time.Duration(math.MaxInt64).String() + " either way)"

// floatOutOfRange is the rule a number too large for a float64 breaks.
var floatOutOfRange = "is out of range (a number is at most " + strconv.FormatFloat(math.MaxFloat64, 'g', -1, 64) + " either way)"

// leadingZero reports whether n is a number written with a leading zero (see leadingZeroRE),
// unquoted.
func leadingZero(n *yaml.Node) bool {
	return (n.Tag == "!!int" || n.Tag == "!!float") && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 &&
		leadingZeroRE.MatchString(n.Value)
}

// leadingZeroRule is the rule a number with a leading zero breaks, with what to write instead:
// the decimal number, and the octal one when the digits make one.
func leadingZeroRule(value string) string {
	sign := ""
	if value[0] == '-' || value[0] == '+' {
		sign, value = value[:1], value[1:]
	}
	if sign == "+" {
		sign = ""
	}
	digits := strings.TrimLeft(strings.ReplaceAll(value, "_", ""), "0")
	if digits == "" {
		digits = "0"
	}
	rule := "has a leading zero, which YAML reads as octal where the digits allow it (010 is 8): write " + sign + digits
	if strings.Trim(digits, "01234567") == "" {
		rule += ", or " + sign + "0o" + digits + " for the octal number"
	}
	return rule
}

func classList() string {
	var names []string
	for _, c := range codes.Classes() {
		names = append(names, c.String())
	}
	return strings.Join(names, ", ")
}

func (d *decoder) classifier(n *yaml.Node, path string, o *codes.Overrides) {
	if isNull(n) {
		return
	}
	d.mapping(n, path, "classifier", []string{"codes", "reasons"}, func(key string, k, v *yaml.Node) {
		sp := join(path, key)
		d.mark(sp, k)
		if isNull(v) {
			return
		}
		d.mapping(v, sp, "classifier."+key, nil, func(name string, k, v *yaml.Node) {
			ep := join(sp, name)
			d.mark(ep, k)
			var cl codes.Class
			if !d.leaf(v, ep, "", reflect.ValueOf(&cl).Elem()) {
				return
			}
			if key == "codes" {
				code, ok := codename.Parse(name)
				if !ok {
					d.add(k, sp, strconv.Quote(name), codename.Rule(name))
					return
				}
				if o.Codes == nil {
					o.Codes = map[grpccodes.Code]codes.Class{}
				}
				o.Codes[code] = cl
				return
			}
			if o.Reasons == nil {
				o.Reasons = map[string]codes.Class{}
			}
			o.Reasons[name] = cl
		})
	})
}

// UnmarshalYAML implements yaml.Unmarshaler of go.yaml.in/yaml/v3, the YAML package this one
// uses: it decodes and validates a configuration as Parse does, without merging it over the
// built-ins. Errors name lines, not a file.
//
// Another YAML package, such as gopkg.in/yaml.v3 (whose Node is another type), does not call
// it: it fills a Config field by field without any of these checks, dropping unknown keys and
// taking a written 0 for a default. Decode the document with go.yaml.in/yaml/v3, or give the
// configuration's own text to Parse. Called on a nil *Config, it returns an error.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	if c == nil {
		return errors.New("config: UnmarshalYAML: the receiver is a nil *Config, which has nowhere to decode into: decode into a Config value's address (var cfg config.Config; yaml.Unmarshal(data, &cfg))")
	}
	d := &decoder{src: &source{lines: map[string]int{}}}
	var cfg Config
	d.top(n, &cfg)
	errs := withValidation(d.errs, &cfg, d.src)
	if len(errs) > 0 {
		return joinErrors(errs)
	}
	cfg.srcs = []*source{d.src}
	*c = cfg
	return nil
}
