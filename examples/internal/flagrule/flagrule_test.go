package flagrule

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestExplain(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-d", "5"}, `invalid value "5" for flag -d: ` + RuleDuration},
		// A duration with its unit that time.Duration cannot hold: flag's "parse error" too,
		// but the value has the unit the duration rule asks for.
		{[]string{"-d", "9999999999h"}, `invalid value "9999999999h" for flag -d: ` + RuleRange + ": " + RuleDurationRange},
		{[]string{"-d", "-3000000h"}, `invalid value "-3000000h" for flag -d: ` + RuleRange + ": " + RuleDurationRange},
		{[]string{"-d", "1.5.5s"}, `invalid value "1.5.5s" for flag -d: ` + RuleDuration},
		{[]string{"-i", "x"}, `invalid value "x" for flag -i: ` + RuleInt},
		{[]string{"-i", "99999999999999999999"}, `invalid value "99999999999999999999" for flag -i: ` + RuleRange + ": " + RuleInt},
		{[]string{"-f", "y"}, `invalid value "y" for flag -f: ` + RuleFloat},
		{[]string{"-b=maybe"}, `invalid boolean value "maybe" for -b: ` + RuleBool},
		// Errors of the flag's own parser, and others, are left as they are.
		{[]string{"-s", "z"}, `invalid value "z" for flag -s: parse error`},
		{[]string{"-nope"}, `flag provided but not defined: -nope`},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Duration("d", time.Second, "")
		fs.Int("i", 0, "")
		fs.Float64("f", 0, "")
		fs.Bool("b", false, "")
		fs.Func("s", "", func(string) error { return errors.New("parse error") })
		err := Explain(fs, fs.Parse(tt.args))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v: %v, want %s", tt.args, err, tt.want)
		}
	}
	if Explain(flag.NewFlagSet("t", flag.ContinueOnError), nil) != nil {
		t.Error("Explain(nil) is not nil")
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
