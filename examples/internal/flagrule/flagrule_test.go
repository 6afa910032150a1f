package flagrule

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"
	_ "google.golang.org/grpc" // registers the unix and passthrough resolvers, as the commands have them
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

// An address without a port, or with a port that is none, is named with its flag and the rule:
// the commands reported it only when listening failed, exit status 1 as for a port in use.
func TestListenProblem(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want string
	}{
		{"127.0.0.1:50051", ""},
		{"127.0.0.1:0", ""},
		{":9464", ""},
		{"[::1]:0", ""},
		{"localhost:", ""},
		{"127.0.0.1:http", ""}, // a service's name, from Go's own table where /etc/services lacks it
		{"nonsense", `-listen "nonsense": ` + RuleListen},
		{"127.0.0.1", `-listen "127.0.0.1": ` + RuleListen},
		{"127.0.0.1:99999", `-listen "127.0.0.1:99999": ` + RuleListen},
		{"127.0.0.1:-1", `-listen "127.0.0.1:-1": ` + RuleListen},
		{"127.0.0.1:no-such-service", `-listen "127.0.0.1:no-such-service": ` + RuleListen},
	} {
		if got := ListenProblem("listen", tt.v); got != tt.want {
			t.Errorf("ListenProblem(listen, %q) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// TestListenRuleNamesThePortRange: an address whose port is out of range reads as HOST:PORT,
// so the rule must say which ports there are. It said "want HOST:PORT, such as
// 127.0.0.1:50051", which 127.0.0.1:99999 seems to be.
func TestListenRuleNamesThePortRange(t *testing.T) {
	got := ListenProblem("listen", "127.0.0.1:99999")
	if want := `-listen "127.0.0.1:99999": want HOST:PORT with a port from 0 to 65535 or a service's name, such as 127.0.0.1:50051 (port 0: any free port)`; got != want {
		t.Errorf("ListenProblem = %q, want %q", got, want)
	}
}

// A port that no dial can reach (past 65535, 0, no service's name) is named with RuleDial;
// a gRPC target with a scheme and an address without a port are left to the resolver.
func TestDialPortProblem(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"127.0.0.1:50051", ""},
		{"localhost:https", ""},
		{"dns:///ocr.internal:50051", ""},
		{"unix:/run/ocr.sock", ""},
		{"ocr.internal", ""},
		{"127.0.0.1:99999", `port "99999" is not one to dial: ` + RuleDial},
		{"127.0.0.1:0", `port "0" is not one to dial: ` + RuleDial},
		{"127.0.0.1:no-such-service", `port "no-such-service" is not one to dial: ` + RuleDial},
	} {
		if got := DialPortProblem(tt.addr); got != tt.want {
			t.Errorf("DialPortProblem(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
