package stub

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	grpccodes "google.golang.org/grpc/codes"
)

// Service names, as the -services flag and Config.Services spell them.
const (
	ServiceLiveness  = "liveness"
	ServiceFaceMatch = "facematch"
	ServiceOCR       = "ocr"
)

// AllServices lists every service the stub can serve, in the order it registers them.
func AllServices() []string { return []string{ServiceLiveness, ServiceFaceMatch, ServiceOCR} }

// Config is what a Stub serves and how it misbehaves. It is plain data; the zero value serves
// the three services on 127.0.0.1 at a free port, without faults and without an HTTP listener.
type Config struct {
	// Listen is the gRPC address. Empty means "127.0.0.1:0" (a free loopback port).
	Listen string `json:"listen"`
	// MetricsListen is the address of the HTTP listener that serves /metrics and the admin
	// endpoints (/faults, /outage, /down, /up). Empty means no HTTP listener.
	MetricsListen string `json:"metrics_listen"`
	// Services selects the services to serve (ServiceLiveness, ServiceFaceMatch, ServiceOCR).
	// Empty means all three; each is named once.
	Services []string `json:"services"`
	// Faults is the initial fault profile; SetFaults changes it at run time.
	Faults Faults `json:"faults"`
	// Outage schedules one full outage, counted from Start.
	Outage OutageWindow `json:"outage"`
	// Seed seeds the random fault decisions: the same seed and the same sequence of requests
	// give the same faults.
	Seed int64 `json:"seed"`
	// ScriptCapacity bounds how many request ids the stub remembers attempts for (least recently
	// used ids are forgotten first). Zero means 10000.
	ScriptCapacity int `json:"script_capacity"`
	// StopTimeout bounds the graceful part of Stop, gRPC and HTTP listeners together, after
	// which in-flight calls and connections are cut.
	// Zero means 5s.
	StopTimeout time.Duration `json:"stop_timeout"`
}

// OutageWindow is a full outage For long, starting After the stub starts. While it lasts every
// call fails with Unavailable and the health service reports NOT_SERVING. A zero For means no
// scheduled outage.
type OutageWindow struct {
	After time.Duration `json:"after"`
	For   time.Duration `json:"for"`
}

const (
	defaultScriptCapacity = 10000
	defaultStopTimeout    = 5 * time.Second
)

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	for i, s := range c.Services {
		if !slices.Contains(AllServices(), s) {
			return fmt.Errorf("services: unknown service %q (want one of %s)", s, strings.Join(AllServices(), ", "))
		}
		if slices.Contains(c.Services[:i], s) {
			return fmt.Errorf("services: service %q given twice", s)
		}
	}
	if err := c.Faults.Validate(); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	switch {
	case c.Outage.After < 0:
		return fmt.Errorf("outage: after %v is negative", c.Outage.After)
	case c.Outage.For < 0:
		return fmt.Errorf("outage: for %v is negative", c.Outage.For)
	case c.Outage.After > 0 && c.Outage.For == 0:
		return errors.New("outage: after is set but for is zero")
	case c.ScriptCapacity < 0:
		return fmt.Errorf("script_capacity: %d is negative", c.ScriptCapacity)
	case c.StopTimeout < 0:
		return fmt.Errorf("stop_timeout: %v is negative", c.StopTimeout)
	}
	return nil
}

// ParseServices reads a comma-separated list of service names ("liveness,facematch,ocr").
func ParseServices(s string) ([]string, error) {
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(AllServices(), name) {
			return nil, fmt.Errorf("unknown service %q (want one of %s)", name, strings.Join(AllServices(), ", "))
		}
		if slices.Contains(out, name) {
			return nil, fmt.Errorf("service %q given twice", name)
		}
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no service given (want one or more of %s)", strings.Join(AllServices(), ", "))
	}
	return out, nil
}

// Faults is a fault profile: random errors, latency and pushback. The decision is made once per
// request (a Liveness stream is one request, whatever its number of frames). It is plain data;
// the zero value injects nothing.
//
// In JSON (the admin endpoint's format) codes are gRPC's snake_case names and durations are Go
// duration strings:
//
//	{"fail": {"unavailable": 0.2}, "latency": "20ms", "spike_rate": 0.05, "spike": "2s", "pushback": "500ms"}
type Faults struct {
	// Fail maps an error code to the fraction of requests, in [0,1], that fail with it. The
	// fractions add up to at most 1.
	Fail map[grpccodes.Code]float64
	// Latency delays every request.
	Latency time.Duration
	// SpikeRate is the fraction of requests, in [0,1], delayed by Spike on top of Latency.
	SpikeRate float64
	// Spike is the extra delay of a latency spike.
	Spike time.Duration
	// Pushback, when positive, is the delay of the google.rpc.RetryInfo detail carried by every
	// injected ResourceExhausted error.
	Pushback time.Duration
	// Capacity, when positive, is how many requests the service serves at full speed, as a
	// GPU shares its time: a request admitted while n requests (itself included) are in
	// service has its delay (Latency and Spike) stretched by max(1, n/Capacity), so latency
	// grows with concurrency past the knee and throughput levels off. 0 means no such effect.
	Capacity int
}

// DefaultMildFaults is a profile mild enough for quick batch runs: 2% Unavailable, 20ms of
// latency, 1% spikes of 300ms, and a 200ms pushback on ResourceExhausted (which it does not
// inject by itself).
func DefaultMildFaults() Faults {
	return Faults{
		Fail:      map[grpccodes.Code]float64{grpccodes.Unavailable: 0.02},
		Latency:   20 * time.Millisecond,
		SpikeRate: 0.01,
		Spike:     300 * time.Millisecond,
		Pushback:  200 * time.Millisecond,
	}
}

// Validate reports the first problem with f, naming the field.
func (f Faults) Validate() error {
	return f.check(func(field string) string { return field + ":" })
}

// FlagProblem is Validate for a profile read from command-line flags: it names the first
// problem by the flag that carries the field, as mlstub and the orchestrator spell it
// ("-spike-rate 2 is outside [0,1]", "-latency -1s is negative"), and returns "" when f is
// valid. The rates of Fail come from -fail, which ParseFailSpec checks; a problem with them is
// named as Validate names it.
func (f Faults) FlagProblem() string {
	err := f.check(func(field string) string {
		if field == "fail" {
			return field + ":"
		}
		return "-" + strings.ReplaceAll(field, "_", "-")
	})
	if err != nil {
		return err.Error()
	}
	return ""
}

// check reports the first problem with f, naming its field by name(field), the field as the
// configuration spells it.
func (f Faults) check(name func(field string) string) error {
	for _, c := range sortedCodes(f.Fail) {
		r := f.Fail[c]
		code := CodeName(c)
		if c == grpccodes.OK || code == "" {
			return fmt.Errorf("%s %v is not an error code", name("fail"), c)
		}
		if !(r >= 0 && r <= 1) {
			return fmt.Errorf("%s rate %v for %s is outside [0,1]", name("fail"), r, code)
		}
	}
	if sum := failSum(f.Fail); sum > 1+rateSumSlack {
		return fmt.Errorf("%s rates add up to %v, more than 1", name("fail"), roundRate(sum))
	}
	switch {
	case f.Latency < 0:
		return fmt.Errorf("%s %v is negative", name("latency"), f.Latency)
	case !(f.SpikeRate >= 0 && f.SpikeRate <= 1):
		return fmt.Errorf("%s %v is outside [0,1]", name("spike_rate"), f.SpikeRate)
	case f.Spike < 0:
		return fmt.Errorf("%s %v is negative", name("spike"), f.Spike)
	case f.Pushback < 0:
		return fmt.Errorf("%s %v is negative", name("pushback"), f.Pushback)
	case f.Capacity < 0:
		return fmt.Errorf("%s %d is negative", name("capacity"), f.Capacity)
	}
	return nil
}

// failSum is the sum of the rates of m, added in the order of their codes: the sum depends on
// the order of the additions, and ParseFailSpec and Validate must judge a profile alike.
func failSum(m map[grpccodes.Code]float64) float64 {
	sum := 0.0
	for _, c := range sortedCodes(m) {
		sum += m[c]
	}
	return sum
}

// rateSumSlack is how far from 1 a sum of rates may be, rounded at each addition, and still be
// taken for 1: rates written to add up to 1 do only up to rounding.
const rateSumSlack = 1e-9

func roundRate(r float64) float64 { return math.Round(r*1e6) / 1e6 }

// clone returns a copy of f that shares nothing with it.
func (f Faults) clone() Faults {
	if f.Fail != nil {
		m := make(map[grpccodes.Code]float64, len(f.Fail))
		for c, r := range f.Fail {
			m[c] = r
		}
		f.Fail = m
	}
	return f
}

type faultsJSON struct {
	Fail      map[string]float64 `json:"fail"`
	Latency   string             `json:"latency,omitempty"`
	SpikeRate float64            `json:"spike_rate,omitempty"`
	Spike     string             `json:"spike,omitempty"`
	Pushback  string             `json:"pushback,omitempty"`
	Capacity  int                `json:"capacity,omitempty"`
}

// MarshalJSON writes f in the admin endpoint's format.
func (f Faults) MarshalJSON() ([]byte, error) {
	j := faultsJSON{Fail: map[string]float64{}, SpikeRate: f.SpikeRate, Capacity: f.Capacity}
	for c, r := range f.Fail {
		j.Fail[CodeName(c)] = r
	}
	if f.Latency != 0 {
		j.Latency = f.Latency.String()
	}
	if f.Spike != 0 {
		j.Spike = f.Spike.String()
	}
	if f.Pushback != 0 {
		j.Pushback = f.Pushback.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads f from the admin endpoint's format. Missing fields are zero. It checks
// names and formats; Validate checks the values.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: got a JSON %s, %s", cmp.Or(te.Field, "faults"), te.Value, jsonRule(te))
		}
		return err
	}
	out := Faults{SpikeRate: j.SpikeRate, Capacity: j.Capacity}
	if len(j.Fail) > 0 {
		out.Fail = make(map[grpccodes.Code]float64, len(j.Fail))
		for name, r := range j.Fail {
			c, err := ParseCode(name)
			if err != nil {
				return fmt.Errorf("fail: %w", err)
			}
			if _, dup := out.Fail[c]; dup {
				// Names are read case-insensitively: "unavailable" and "UNAVAILABLE" are one
				// code, and which rate won would depend on the map's order.
				return fmt.Errorf("fail: code %s given twice", CodeName(c))
			}
			out.Fail[c] = r
		}
	}
	for _, d := range []struct {
		field string
		s     string
		dst   *time.Duration
	}{{"latency", j.Latency, &out.Latency}, {"spike", j.Spike, &out.Spike}, {"pushback", j.Pushback, &out.Pushback}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return fmt.Errorf("%s: %q is not a duration: %s", d.field, d.s, ruleDuration)
		}
		*d.dst = v
	}
	*f = out
	return nil
}

const ruleDuration = `want a Go duration string such as "20ms"`

// jsonRule says what the field of te, a value of the wrong JSON type, wants.
func jsonRule(te *json.UnmarshalTypeError) string {
	switch te.Field {
	case "":
		return `want an object such as {"fail": {"unavailable": 0.2}, "latency": "20ms"}`
	case "fail":
		if te.Type.Kind() == reflect.Float64 {
			return "want a number in [0,1] for each code"
		}
		return `want an object of rates by code such as {"unavailable": 0.2}`
	case "latency", "spike", "pushback":
		return ruleDuration
	case "spike_rate":
		return "want a number in [0,1]"
	case "capacity":
		return "want a whole number"
	}
	return "want a value of type " + te.Type.String()
}

// codeNames are gRPC's codes in snake_case, indexed by code.
var codeNames = [...]string{
	grpccodes.OK:                 "ok",
	grpccodes.Canceled:           "canceled",
	grpccodes.Unknown:            "unknown",
	grpccodes.InvalidArgument:    "invalid_argument",
	grpccodes.DeadlineExceeded:   "deadline_exceeded",
	grpccodes.NotFound:           "not_found",
	grpccodes.AlreadyExists:      "already_exists",
	grpccodes.PermissionDenied:   "permission_denied",
	grpccodes.ResourceExhausted:  "resource_exhausted",
	grpccodes.FailedPrecondition: "failed_precondition",
	grpccodes.Aborted:            "aborted",
	grpccodes.OutOfRange:         "out_of_range",
	grpccodes.Unimplemented:      "unimplemented",
	grpccodes.Internal:           "internal",
	grpccodes.Unavailable:        "unavailable",
	grpccodes.DataLoss:           "data_loss",
	grpccodes.Unauthenticated:    "unauthenticated",
}

const numCodes = len(codeNames)

// CodeName returns the snake_case name of c ("unavailable", "deadline_exceeded"), or "" for a
// code outside the canonical set.
func CodeName(c grpccodes.Code) string {
	if int(c) >= numCodes {
		return ""
	}
	return codeNames[c]
}

// ParseCode reads an error code by its snake_case name, case-insensitively. "ok" is refused: it
// is not an error.
func ParseCode(name string) (grpccodes.Code, error) {
	lower := strings.ToLower(strings.TrimSpace(name))
	if lower == "ok" {
		return 0, errors.New("ok is not an error code")
	}
	for i, n := range codeNames {
		if n == lower {
			return grpccodes.Code(i), nil
		}
	}
	return 0, fmt.Errorf("unknown code %q (want a gRPC code in snake_case, such as unavailable or deadline_exceeded)", name)
}

// FailSpecError is a problem with one entry of a fail spec.
type FailSpecError struct {
	// Entry is the entry as written, such as "bogus=0.1". Empty for a problem with the whole spec.
	Entry string
	// Problem says what is wrong with it.
	Problem string
}

func (e *FailSpecError) Error() string {
	if e.Entry == "" {
		return "fail spec: " + e.Problem
	}
	return fmt.Sprintf("fail spec entry %q: %s", e.Entry, e.Problem)
}

// ParseFailSpec reads the -fail flag: CODE=RATE[,CODE=RATE...], with codes in gRPC's snake_case
// names and rates in [0,1] that add up to at most 1, such as
// "unavailable=0.2,deadline_exceeded=0.05". An empty spec is an empty map. Errors are
// *FailSpecError values that name the bad entry.
func ParseFailSpec(spec string) (map[grpccodes.Code]float64, error) {
	out := map[grpccodes.Code]float64{}
	if strings.TrimSpace(spec) == "" {
		return out, nil
	}
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, &FailSpecError{Problem: "empty entry (a stray comma?)"}
		}
		name, rateText, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, &FailSpecError{Entry: entry, Problem: "want CODE=RATE"}
		}
		c, err := ParseCode(name)
		if err != nil {
			return nil, &FailSpecError{Entry: entry, Problem: err.Error()}
		}
		rate, err := strconv.ParseFloat(strings.TrimSpace(rateText), 64)
		if err != nil {
			return nil, &FailSpecError{Entry: entry, Problem: fmt.Sprintf("rate %q is not a number", rateText)}
		}
		if !(rate >= 0 && rate <= 1) {
			return nil, &FailSpecError{Entry: entry, Problem: fmt.Sprintf("rate %v is outside [0,1]", rate)}
		}
		if _, dup := out[c]; dup {
			return nil, &FailSpecError{Entry: entry, Problem: fmt.Sprintf("code %s given twice", CodeName(c))}
		}
		out[c] = rate
	}
	if sum := failSum(out); sum > 1+rateSumSlack {
		return nil, &FailSpecError{Problem: fmt.Sprintf("rates add up to %v, more than 1", roundRate(sum))}
	}
	return out, nil
}

// FormatFailSpec writes m as ParseFailSpec reads it, codes in numeric order.
func FormatFailSpec(m map[grpccodes.Code]float64) string {
	var b strings.Builder
	for i, c := range sortedCodes(m) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(CodeName(c))
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(m[c], 'g', -1, 64))
	}
	return b.String()
}

func sortedCodes(m map[grpccodes.Code]float64) []grpccodes.Code {
	out := make([]grpccodes.Code, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
