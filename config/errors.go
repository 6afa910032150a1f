package config

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// Error is one problem in a configuration file:
//
//	ocr.yaml:12: services."kyc.v1.OCRService".retry.max_attempts: 0 is below 1
//
// Load and Parse return every Error found, joined with errors.Join in file order; use
// errors.As (or fielderr.Flatten) to reach them.
type Error struct {
	// File is the file's name as given to Parse (or the path given to Load).
	File string
	// Line is the 1-based line of the offending key or value, 0 when unknown.
	Line int
	// Path is the field's path of yaml keys ("services."kyc.v1.OCRService".retry.max_attempts").
	// Empty for errors about the document as a whole.
	Path string
	// Value is the offending value as configuration spells it.
	Value string
	// Rule is what the value breaks, phrased to follow it ("is below 1").
	Rule string
}

func (e *Error) Error() string {
	var b strings.Builder
	writePlace(&b, e.File, e.Line, true)
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	if e.Value != "" {
		b.WriteString(e.Value + " ")
	}
	b.WriteString(e.Rule)
	return b.String()
}

// Warning is a finding that does not fail a load, such as a profile whose worst case does not
// fit the budget.
type Warning struct {
	// File and Line locate the profile, service or method warned about (empty and 0 when the
	// configuration was not read from a file).
	File string
	Line int
	// Path is the yaml path of what the warning is about ("profiles.ml").
	Path string
	// Message says what is wrong, by how much, and what happens at run time.
	Message string
}

func (w Warning) String() string {
	var b strings.Builder
	writePlace(&b, w.File, w.Line, false)
	b.WriteString(w.Path + ": " + w.Message)
	return b.String()
}

// writePlace starts a message with where it points: "file:line: ", "file: " when the line is
// unknown, and with no file "line N: " when lineAlone is set, else nothing.
func writePlace(b *strings.Builder, file string, line int, lineAlone bool) {
	switch {
	case file != "" && line > 0:
		b.WriteString(file + ":" + strconv.Itoa(line) + ": ")
	case file != "":
		b.WriteString(file + ": ")
	case line > 0 && lineAlone:
		b.WriteString("line " + strconv.Itoa(line) + ": ")
	}
}

// source maps yaml paths of one file to their lines.
type source struct {
	file  string
	lines map[string]int
	// numbers holds the text of each number and duration written, by path, so that a message
	// quotes the value as written (1000000, 90s) rather than as Go prints it (1e+06, 1m30s).
	numbers map[string]string
	// keepValidation holds the errors decoding found that leave nothing Validate checks at
	// their path undecoded, so that what Validate says there is reported too: those about a
	// key of a mapping (unknown, written twice), at the mapping's path, and those about the
	// value of a profile, service or method, at the path where Validate checks its name.
	keepValidation map[*Error]bool
	// quoteHints holds the errors "is not a string (quote it)" about a number or a boolean
	// decoded as its text into a plain string field: each is reported only when Validate
	// finds nothing wrong at its path, else what Validate finds is.
	quoteHints map[*Error]bool
	// zeros holds the errors of a zero written where it means the default, with the field's
	// key (section.field, "retry.initial_backoff"): in an override, leaving the field out keeps
	// the inherited value, which the rule then quotes (see inheritedZeros).
	zeros map[*Error]string
}

// asWritten returns value, a number or a duration as an error spells it, as written at path
// in one of srcs when it is the same number or duration there; else value.
func asWritten(path, value string, srcs ...*source) string {
	same := sameAs(value)
	if same == nil {
		return value
	}
	for _, s := range srcs {
		if s == nil {
			continue
		}
		if raw, ok := s.numbers[path]; ok && same(raw) {
			return raw
		}
	}
	return value
}

// otherField finds, in a rule, another field of the same section and its value: "is above
// max (1m0s)".
var otherField = regexp.MustCompile(`\b([a-z_]+) \(([^()]+)\)`)

// ruleAsWritten returns rule, the rule an error at path breaks, with the value of another field
// it names quoted as a source writes that field (a sibling of path, or of one of its parents):
// "is above max (60s)", not "(1m0s)".
func ruleAsWritten(path, rule string, srcs ...*source) string {
	segs := splitPath(path)
	return otherField.ReplaceAllStringFunc(rule, func(m string) string {
		sub := otherField.FindStringSubmatch(m)
		name, value := sub[1], sub[2]
		for n := len(segs) - 1; n > 0; n-- {
			field := strings.Join(segs[:n], "") + "." + name
			for _, s := range srcs {
				if s == nil {
					continue
				}
				if _, ok := s.numbers[field]; ok {
					return name + " (" + asWritten(field, value, srcs...) + ")"
				}
			}
		}
		return m
	})
}

// sameAs returns a test of whether a text as written is the number or the duration value,
// parsed once; nil when value is neither.
func sameAs(value string) func(raw string) bool {
	if n, err := strconv.ParseFloat(value, 64); err == nil {
		return func(raw string) bool {
			raw = strings.ReplaceAll(raw, "_", "")
			got, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				// A whole number in another base (0x14, 0o24, 0b10100), as YAML reads one.
				i, ierr := strconv.ParseInt(raw, 0, 64)
				got, err = float64(i), ierr
			}
			return err == nil && got == n
		}
	}
	if d, err := time.ParseDuration(value); err == nil {
		return func(raw string) bool {
			got, err := time.ParseDuration(raw)
			return err == nil && got == d
		}
	}
	return nil
}

// locate returns the file and line of the longest prefix of path that one of the sources
// knows, trying the sources in order at each length.
func locate(path string, srcs ...*source) (string, int) {
	segs := splitPath(path)
	for n := len(segs); n > 0; n-- {
		p := strings.Join(segs[:n], "")
		for _, s := range srcs {
			if s == nil {
				continue
			}
			if l, ok := s.lines[p]; ok {
				return s.file, l
			}
		}
	}
	for _, s := range srcs {
		if s != nil {
			return s.file, 0
		}
	}
	return "", 0
}

// splitPath cuts a path into segments that keep their separators ("a", ".b", "[0]",
// `."x.y"`), so that joining a prefix of them gives a parent path.
func splitPath(p string) []string {
	var segs []string
	start := 0
	inQuote := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == '.' || c == '[') && i > start:
			segs = append(segs, p[start:i])
			start = i
		}
	}
	if start < len(p) {
		segs = append(segs, p[start:])
	}
	return segs
}

// located turns the field errors in err into *Error values located in srcs, sorted in file
// order (stable, unknown lines last).
func located(err error, srcs ...*source) []*Error {
	var out []*Error
	for _, e := range fielderr.Flatten(err) {
		var fe *fielderr.Error
		var ce *Error
		switch {
		case errors.As(e, &ce):
			out = append(out, ce)
		case errors.As(e, &fe):
			file, line := locate(fe.Path, srcs...)
			rule := ruleAsWritten(fe.Path, fe.Rule, srcs...)
			if isZeroValue(fe.Value) && unwritten(fe.Path, srcs...) {
				rule += " (the key is missing)"
			}
			out = append(out, &Error{File: file, Line: line, Path: fe.Path, Value: asWritten(fe.Path, fe.Value, srcs...), Rule: rule})
		default:
			file, _ := locate("", srcs...)
			out = append(out, &Error{File: file, Rule: e.Error()})
		}
	}
	sortErrors(out, srcs...)
	return out
}

// isZeroValue reports whether value, as an error quotes it, is the zero of its field's type:
// what a key left out of a file is read as.
func isZeroValue(value string) bool {
	return value == "0" || value == "0s" || value == `""`
}

// unwritten reports whether no source writes the key at path, while one writes the section
// or entry that holds it: an error there judges the zero the key was read as, which quoted
// alone ("rate: 0 is not a positive number") reads as a value the file wrote.
func unwritten(path string, srcs ...*source) bool {
	segs := splitPath(path)
	if len(segs) < 2 {
		return false
	}
	parent := strings.Join(segs[:len(segs)-1], "")
	parentWritten := false
	for _, s := range srcs {
		if s == nil {
			continue
		}
		if _, ok := s.lines[path]; ok {
			return false
		}
		if _, ok := s.lines[parent]; ok {
			parentWritten = true
		}
	}
	return parentWritten
}

// sortErrors sorts errs by source (in the order of srcs), then by line.
func sortErrors(errs []*Error, srcs ...*source) {
	rank := func(file string) int {
		for i, s := range srcs {
			if s != nil && s.file == file {
				return i
			}
		}
		return len(srcs)
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if ra, rb := rank(a.File), rank(b.File); ra != rb {
			return ra - rb
		}
		la, lb := a.Line, b.Line
		if la == 0 {
			la = 1 << 30
		}
		if lb == 0 {
			lb = 1 << 30
		}
		return la - lb
	})
}

func joinErrors(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}
