// Package fielderr is the error a configuration check returns: it names the field (as a path
// of yaml keys), the value found and the rule it breaks, so that
//
//	services."kyc.v1.OCRService".retry.max_attempts: 0 is below 1
//
// can be built by prefixing the path at each level.
package fielderr

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error is one invalid field.
type Error struct {
	// Path is the field's path of yaml keys, dot separated (keys with dots are quoted).
	Path string
	// Value is the offending value, as written in configuration.
	Value string
	// Rule is what the value breaks, phrased to follow the value: "is below 1".
	Rule string
}

func (e *Error) Error() string { return e.Path + ": " + e.Value + " " + e.Rule }

// New returns an Error for the field at path.
func New(path string, value any, rule string) *Error {
	return &Error{Path: path, Value: Format(value), Rule: rule}
}

// Format writes a value the way configuration spells it (durations as 500ms, strings quoted).
func Format(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// Key quotes a map key for use in a path when it holds a dot or a space.
func Key(k string) string {
	if strings.ContainsAny(k, ". \"") || k == "" {
		return fmt.Sprintf("%q", k)
	}
	return k
}

// Prefix returns err with prefix put before the path of every Error in it (errors.Join trees
// included). Other errors are returned wrapped with the prefix.
func Prefix(prefix string, err error) error {
	if err == nil || prefix == "" {
		return err
	}
	var out []error
	for _, e := range Flatten(err) {
		var fe *Error
		if errors.As(e, &fe) {
			p := *fe
			if p.Path == "" {
				p.Path = prefix
			} else {
				p.Path = prefix + "." + p.Path
			}
			out = append(out, &p)
			continue
		}
		out = append(out, fmt.Errorf("%s: %w", prefix, e))
	}
	return errors.Join(out...)
}

// Flatten returns the leaves of an errors.Join tree, in order.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Checker collects field errors in order.
type Checker struct{ errs []error }

// Add records an error for the field at path.
func (c *Checker) Add(path string, value any, rule string) {
	c.errs = append(c.errs, New(path, value, rule))
}

// Check records an error when ok is false.
func (c *Checker) Check(ok bool, path string, value any, rule string) {
	if !ok {
		c.Add(path, value, rule)
	}
}

// ZeroOrWithin checks a field where 0 means the default: v is 0, or in [lo, hi]. It records
// "is below lo" or "is above hi", the bounds spelt as configuration spells them, or "is not a
// number" for a NaN, which no bound holds.
func ZeroOrWithin[T cmp.Ordered](c *Checker, path string, v, lo, hi T) {
	if v != v { // only a floating-point NaN differs from itself
		c.Add(path, v, "is not a number")
		return
	}
	var zero T
	c.Check(v == zero || v >= lo, path, v, "is below "+Format(lo))
	c.Check(v <= hi, path, v, "is above "+Format(hi))
}

// DurationRange checks two durations that bound a range, where 0 means a default: neither is
// negative, and high is not below low when both are set.
func (c *Checker) DurationRange(lowPath string, low time.Duration, highPath string, high time.Duration) {
	c.Check(low >= 0, lowPath, low, "is negative")
	c.Check(high >= 0, highPath, high, "is negative")
	if low > 0 && high > 0 {
		c.Check(high >= low, highPath, high, "is below "+lowPath+" ("+low.String()+")")
	}
}

// Err returns the collected errors joined, or nil.
func (c *Checker) Err() error { return errors.Join(c.errs...) }
