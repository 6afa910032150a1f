// Package prose spells numbers and durations the way -explain writes them.
package prose

import (
	"strconv"
	"strings"
	"time"
)

// Float writes f in the shortest form that reads back the same.
func Float(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// OrNone writes d, or "none" for 0.
func OrNone(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

// Wait writes how long a call waits for what ("a slot"), or "fail fast" for 0.
func Wait(d time.Duration, what string) string {
	if d == 0 {
		return "fail fast"
	}
	return "wait up to " + d.String() + " for " + what
}

// Plural writes n with one or many.
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Percent writes the fraction p as a percentage, rounded to ten significant digits so that
// 0.07 reads 7, not 7.000000000000001.
func Percent(p float64) string { return strconv.FormatFloat(p*100, 'g', 10, 64) }

// List writes items as an English list: "a", "a and b", "a, b and c".
func List(items []string) string {
	var b strings.Builder
	for i, it := range items {
		switch {
		case i == 0:
		case i == len(items)-1:
			b.WriteString(" and ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(it)
	}
	return b.String()
}
