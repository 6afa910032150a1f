// Package flagrule gives the example commands (orchestrator, mlstub) error messages that say
// what a flag wants. The flag package reports a value it cannot parse as a bare "parse error"
// ("invalid value "5" for flag -latency: parse error"), which leaves an operator guessing that
// a duration needs a unit; Explain replaces those words by the rule of the flag's type.
package flagrule

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/resolver"
)

// Rules of the flag package's own value types, as Explain writes them.
const (
	RuleDuration = "want a duration with a unit, such as 300ms, 2s or 1m30s"
	RuleInt      = "want a whole number"
	RuleFloat    = "want a number"
	RuleBool     = "want true or false"
	RuleRange    = "out of range"
	// RuleDurationRange follows RuleRange for a duration written with its unit that
	// time.Duration cannot hold (past about 292 years either way).
	RuleDurationRange = "want a duration of at most 2562047h, either way"
)

// parseFailure matches the end of the flag package's messages for a value its own types
// refuse: "... for flag -NAME: parse error" and, for a boolean, "... for -NAME: parse error".
var parseFailure = regexp.MustCompile(`for (?:flag )?-([A-Za-z0-9_.-]+): (parse error|value out of range)$`)

// Explain returns err, an error of fs.Parse, with flag's "parse error" replaced by the rule
// of the flag's type (RuleDuration, RuleInt, RuleFloat, RuleBool) and "value out of range" by
// RuleRange and the rule; a duration written with its units but too long for time.Duration,
// which flag calls a "parse error" too, gets RuleRange and RuleDurationRange. Any other error
// is returned as it is.
func Explain(fs *flag.FlagSet, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	m := parseFailure.FindStringSubmatchIndex(msg)
	if m == nil {
		return err
	}
	name, what := msg[m[2]:m[3]], msg[m[4]:m[5]]
	fl := fs.Lookup(name)
	if fl == nil {
		return err
	}
	rule := ruleOf(fl.Value)
	if rule == "" {
		return err
	}
	switch {
	case rule == RuleDuration && durationOverflows(msg):
		rule = RuleRange + ": " + RuleDurationRange
	case what == "value out of range":
		rule = RuleRange + ": " + rule
	}
	return errors.New(msg[:m[4]] + rule)
}

// durationSyntax is a duration as time.ParseDuration reads it: numbers, each with its unit.
var durationSyntax = regexp.MustCompile(`^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$`)

// quotedValue is the value flag's message quotes: `invalid value "VALUE" for flag -NAME: ...`.
var quotedValue = regexp.MustCompile(`^invalid value ("(?:[^"\\]|\\.)*") for flag -`)

// durationOverflows reports whether msg, flag's refusal of a duration, quotes a value written
// as a duration, with its units, that time.Duration cannot hold: flag says "parse error" for
// both, and only this one is not a missing unit.
func durationOverflows(msg string) bool {
	m := quotedValue.FindStringSubmatch(msg)
	if m == nil {
		return false
	}
	v, err := strconv.Unquote(m[1])
	return err == nil && durationSyntax.MatchString(v)
}

// ruleOf is the rule of a value of the flag package's own types, "" for any other.
func ruleOf(v flag.Value) string {
	g, ok := v.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return RuleDuration
	case int, int64, uint, uint64:
		return RuleInt
	case float64:
		return RuleFloat
	case bool:
		return RuleBool
	}
	return ""
}

// IntVar defines an int flag, as fs.IntVar does, whose value is read in base 10: the flag
// package reads its own in base 0, where "08" is refused and "010" is eight. A value it
// refuses reads as the flag package's own do ("parse error", "value out of range"), which
// Explain turns into RuleInt.
func IntVar(fs *flag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	fs.Var(decimal[int]{p}, name, usage)
}

// Int64Var is IntVar for an int64.
func Int64Var(fs *flag.FlagSet, p *int64, name string, value int64, usage string) {
	*p = value
	fs.Var(decimal[int64]{p}, name, usage)
}

// decimal is an integer flag value read in base 10.
type decimal[T int | int64] struct{ p *T }

func (v decimal[T]) Set(s string) error {
	bits := 64
	if _, ok := any(T(0)).(int); ok {
		bits = strconv.IntSize
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if errors.Is(err, strconv.ErrRange) {
		return errors.New("value out of range")
	}
	if err != nil {
		return errors.New("parse error")
	}
	*v.p = T(n)
	return nil
}

func (v decimal[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

// Get implements flag.Getter, for Explain's rule.
func (v decimal[T]) Get() any { return *v.p }

// RuleListen is the rule of a flag that names an address to listen on.
const RuleListen = "want HOST:PORT with a port from 0 to 65535 or a service's name, such as 127.0.0.1:50051 (port 0: any free port)"

// ListenProblem names what is wrong with v, the value of the flag name (without its dash), as
// a TCP address to listen on, or returns "". Only its form is judged (a host and a port, the
// port a number up to 65535 or a service's name): a value without a port, or with a port that
// is none, is a bad command line, reported before anything starts; an address of the right
// form that cannot be listened on (in use, not this host's) is the listen's to report.
func ListenProblem(name, v string) string {
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		if _, ok := Port(port); ok || port == "" {
			return ""
		}
	}
	return fmt.Sprintf("-%s %q: %s", name, v, RuleListen)
}

// Port reads port, the port of a TCP address: a number up to 65535 (n), or a service's name
// (n, the service's port number as the system's services database gives it). ok is false
// for anything else, "" among them.
func Port(port string) (n int, ok bool) {
	if v, err := strconv.ParseUint(port, 10, 16); err == nil {
		return int(v), true
	}
	if v, err := net.LookupPort("tcp", port); err == nil && port != "" {
		return v, true
	}
	return 0, false
}

// RuleDial is the rule of a flag that names an address to dial.
const RuleDial = "want HOST:PORT with a port from 1 to 65535 (or a service name such as https)"

// DialPortProblem names what is wrong with the port of addr, an address to dial given as
// host:port, or returns "": a port past 65535, or 0, or text that is no service's name can
// never be dialled, where an unreachable address of the right form may come up later. A gRPC
// target with a scheme (dns:///host:port, unix:/path) and an address without a port are the
// resolver's to judge. The problem names the port and RuleDial, not the flag: the caller
// names it.
func DialPortProblem(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || strings.Contains(addr, "://") || HasScheme(addr) {
		return ""
	}
	if n, ok := Port(port); ok && n != 0 {
		return ""
	}
	return fmt.Sprintf("port %q is not one to dial: %s", port, RuleDial)
}

// HasScheme reports whether addr starts with the scheme of a registered gRPC resolver (unix:,
// unix-abstract:, dns:, passthrough:), as grpc.NewClient reads it: such a target splits as a
// host:port ("unix", "/path/to/socket") that no TCP dial can reach. The schemes are those
// registered in the binary: importing grpc registers unix, dns and passthrough.
func HasScheme(addr string) bool {
	u, err := url.Parse(addr)
	return err == nil && u.Scheme != "" && resolver.Get(u.Scheme) != nil
}
