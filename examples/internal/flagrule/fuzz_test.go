package flagrule

import (
	"errors"
	"flag"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzExplain checks, for a value given to a flag of each type, that what the flag accepts
// reads as its type reads it (IntVar's in base 10), and that Explain turns each refusal into
// the rule of the flag's type: the range rule exactly for a number out of range, and for a
// duration exactly for one written with its units (its digits zeroed, it parses, and is not
// the bare "0", which needs none).
func FuzzExplain(f *testing.F) {
	for _, s := range []string{"5", "5s", "9999999999h", "-3000000h", "1.5.5s", "08", "010", "0x10", "99999999999999999999",
		"-9223372036854775809", "1e999", "maybe", "", "\xff1s", `"1s"`, "1µs", ".s", "00"} {
		for name := range uint8(5) {
			f.Add(name, s)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		d := fs.Duration("d", time.Second, "")
		var i int
		IntVar(fs, &i, "i", 0, "")
		var i64 int64
		Int64Var(fs, &i64, "j", 0, "")
		fs.Float64("f", 0, "")
		fs.Bool("b", false, "")
		name := []string{"d", "i", "j", "f", "b"}[which%5]
		err := fs.Parse([]string{"-" + name + "=" + value})
		n, nerr := strconv.ParseInt(value, 10, 64)
		if err == nil {
			switch name {
			case "i":
				if nerr != nil || int64(i) != n {
					t.Fatalf("-i=%q read as %d (ParseInt: %d, %v)", value, i, n, nerr)
				}
			case "j":
				if nerr != nil || i64 != n {
					t.Fatalf("-j=%q read as %d (ParseInt: %d, %v)", value, i64, n, nerr)
				}
			case "d":
				if want, derr := time.ParseDuration(value); derr != nil || *d != want {
					t.Fatalf("-d=%q read as %v (ParseDuration: %v, %v)", value, *d, want, derr)
				}
			}
			return
		}
		if Explain(fs, nil) != nil {
			t.Fatal("Explain(nil) is not nil")
		}
		got := Explain(fs, err)
		if got == nil {
			t.Fatalf("Explain(%v) = nil", err)
		}
		msg := got.Error()
		var want string
		switch name {
		case "d":
			zeroed := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return '0'
				}
				return r
			}, value)
			want = RuleDuration
			if _, zerr := time.ParseDuration(zeroed); zerr == nil && strings.TrimLeft(zeroed, "+-") != "0" { // "0" needs no unit
				want = RuleRange + ": " + RuleDurationRange
			}
		case "i", "j":
			want = RuleInt
			if errors.Is(nerr, strconv.ErrRange) {
				want = RuleRange + ": " + RuleInt
			}
		case "f":
			want = RuleFloat
			if _, ferr := strconv.ParseFloat(value, 64); errors.Is(ferr, strconv.ErrRange) {
				want = RuleRange + ": " + RuleFloat
			}
		case "b":
			want = RuleBool
		}
		if !strings.HasSuffix(msg, ": "+want) || !strings.Contains(msg, strconv.Quote(value)) || !strings.Contains(msg, "-"+name) {
			t.Fatalf("-%s=%q: Explain gives %q, want the value, the flag and %q", name, value, msg, want)
		}
	})
}
