package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/deadline"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/codename"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	grpccodes "google.golang.org/grpc/codes"
)

// ServiceConfigProfilePrefix starts the name of each profile ParseServiceConfig makes: the
// profile of methodConfig[i] is named ServiceConfigProfilePrefix + i ("grpc-0", "grpc-1"...).
const ServiceConfigProfilePrefix = "grpc-"

// grpcMaxAttempts is the cap grpc-go puts on retryPolicy and hedgingPolicy maxAttempts.
const grpcMaxAttempts = 5

// maxMultiplier is the largest retry.multiplier (retry.Config.Validate); gRPC has no bound.
const maxMultiplier = 100.0

// LoadServiceConfig reads a gRPC service config JSON file; see ParseServiceConfig.
func LoadServiceConfig(path string) (*Config, []Warning, error) {
	return loadFile(path, ParseServiceConfig)
}

// ParseServiceConfig turns a gRPC service config JSON document (the methodConfig,
// retryThrottling and timeout of gRFC A6, as grpc.WithDefaultServiceConfig takes it) into the
// Config that makes bulwark behave as grpc-go's built-in retries would, so that a client can
// move over in one step: disable grpc-go's retries (grpc.WithDisableRetry) and install the
// suite built from the result.
//
// Each methodConfig becomes a profile named "grpc-<index>", bound to the services and methods
// its name list names; an entry with no service is the profile "default". What has no
// equivalent, or is only approximated, comes back as a warning naming its JSON path; the
// Config is not merged with the built-in profiles. The mapping is in the package
// documentation's "gRPC service config" section.
//
// The error, when not nil, joins every invalid field found, in document order, as *Error
// values naming the file, the field's JSON path, its value and the rule it breaks; a duration
// or a status code gRPC would not read is reported so, every one of them, before the other
// checks. A document that is not JSON of the service config's shape is one error: a field
// whose value is of another JSON type than the field's (a string for maxAttempts) is an *Error
// naming it so, with the index of each list on its path; a document that is not JSON at all
// (a trailing comma, an unquoted duration, a document cut short or empty) is a *SyntaxError,
// which says where the mistake is: its line and column (1-based, the column counted in bytes),
// its byte offset, and up to 40 bytes of its line around it.
//
// A key written twice in one object (or in two spellings that differ only in case, such as
// "timeout" and "Timeout") takes its last value, as grpc-go's parser, encoding/json, does
// silently. The earlier value is checked as grpc-go checks it, which decodes every value: its
// JSON type (a string for maxAttempts is an error), and a duration or status code grpc-go
// reads (timeout, initialBackoff, maxBackoff, retryableStatusCodes) that it cannot read
// ("timeout": "1m" before "timeout": "1s"), also inside an earlier value of a key on its path
// (a retryPolicy written twice), is an *Error at its JSON path with the rule of a last value
// and a word that it is an earlier one, reported after the last values' errors. An earlier
// value grpc-go reads ("--1s", a null code) or does not read (hedgingPolicy,
// perAttemptRecvTimeout) is not checked: the last is taken. A last value of null
// is read as encoding/json reads it, as in grpc-go: it leaves an earlier number or name in
// place, removes an earlier object or list (a timeout, a retryPolicy, a code list: as if not
// written), and is no duration where one is required (initialBackoff).
func ParseServiceConfig(name string, data []byte) (*Config, []Warning, error) {
	var doc keyed[scDoc]
	// json.Unmarshal, as grpc-go reads it: anything after the object is an error.
	if err := json.Unmarshal(data, &doc); err != nil {
		if e := wrongType(name, data, err); e != nil {
			return nil, nil, e
		}
		if e := syntaxErrorAt(name, data, err); e != nil {
			return nil, nil, e
		}
		return nil, nil, fmt.Errorf("%s: not a gRPC service config: %w", name, err)
	}
	c := &scConv{file: name, cfg: &Config{Profiles: map[string]Profile{}, Services: map[string]Service{}}}
	// A duration or a code gRPC would not read refuses the document, as in gRPC, each named
	// by its path; the checks that follow would read such a value as 0.
	for i, mc := range doc.V.MethodConfig {
		c.values(fmt.Sprintf("methodConfig[%d]", i), mc.V)
	}
	c.earlierValues(data)
	if len(c.errs) > 0 {
		return nil, nil, errors.Join(c.errs...)
	}
	c.unknown("", doc.raw, "methodConfig", "retryThrottling")
	var throttle retry.RetryBudgetConfig
	if kt := doc.V.RetryThrottling; kt != nil {
		c.unknown("retryThrottling", kt.raw, throttlingKeys...)
		t := kt.V
		// gRFC A6's bounds, which grpc-go enforces: out of them the config is refused.
		if !(t.MaxTokens > 0 && t.MaxTokens <= 1000) {
			c.required("retryThrottling", kt.raw, "maxTokens", t.MaxTokens, "must be more than 0 and at most 1000", throttlingKeys)
		}
		if !(t.TokenRatio > 0) {
			c.required("retryThrottling", kt.raw, "tokenRatio", t.TokenRatio, "must be more than 0", throttlingKeys)
		}
		// A6 refills min(maxTokens, tokens + tokenRatio): a ratio above maxTokens refills as
		// maxTokens does, which is the most bulwark's bucket takes.
		throttle = retry.RetryBudgetConfig{MaxTokens: t.MaxTokens, TokenRatio: min(t.TokenRatio, t.MaxTokens)}
		// What gRPC takes and bulwark's bucket cannot count, by the fields written here: asked
		// only of values within gRPC's bounds, so that no field is reported twice.
		var beyond error
		if len(c.errs) == 0 {
			beyond = (retry.Config{Throttle: throttle}).Validate()
		}
		for _, e := range fielderr.Flatten(beyond) {
			var fe *fielderr.Error
			if !errors.As(e, &fe) {
				c.fail("retryThrottling", "", e.Error())
				continue
			}
			switch fe.Path {
			case "throttle.max_tokens":
				c.fail("retryThrottling.maxTokens", t.MaxTokens, fe.Rule)
			case "throttle.token_ratio":
				if t.TokenRatio > t.MaxTokens {
					continue // taken as maxTokens, whose own error says what is wrong with it
				}
				c.fail("retryThrottling.tokenRatio", t.TokenRatio, fe.Rule)
			default:
				c.fail("retryThrottling", fe.Path+" "+fe.Value, fe.Rule)
			}
		}
		c.warn("retryThrottling", "grpc-go keeps one token bucket per channel (server); bulwark keeps one per service and profile")
		// grpc-go's shouldRetry returns before it throttles for a code the retry policy does not
		// list; bulwark's bucket takes a token for every failure class, server_fault included.
		c.warn("retryThrottling", "grpc-go takes a token only for a failure whose code retryableStatusCodes lists; bulwark takes one for every failure (INTERNAL, UNKNOWN, an unlisted UNAVAILABLE...), so the bucket drains sooner and retries stop sooner")
	}
	// Every service the document names, for a name that is a method of one of them.
	c.named = map[string]Service{}
	for _, mc := range doc.V.MethodConfig {
		for _, kn := range mc.V.Name {
			c.named[kn.V.Service] = Service{}
		}
	}
	seen := map[string]string{}
	for i, mc := range doc.V.MethodConfig {
		c.method(i, mc, throttle, seen)
	}
	if len(c.errs) > 0 {
		return nil, nil, errors.Join(c.errs...)
	}
	if len(c.cfg.Profiles) > 0 {
		c.warn("budget", fmt.Sprintf("gRPC has no total budget; bulwark bounds every call, attempts and sleeps together, by %v", DefaultBudget))
	}
	if err := c.cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: the converted configuration is invalid: %w", name, err)
	}
	return c.cfg, c.warns, nil
}

// wrongType returns err, an error of json.Unmarshal of data, a service config, as an *Error
// of file when it is a field's value of another JSON type than the field's: its JSON path,
// with the index of each list on the way, found by walking data along the field's keys (see
// badValue), its value as written and the type wanted; or, when the document is no object,
// its value. nil for any other error.
func wrongType(file string, data []byte, err error) *Error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Type == nil {
		return nil
	}
	if te.Field == "" {
		if te.Type != reflect.TypeFor[scDoc]() {
			return nil
		}
		// The document itself.
		return &Error{File: file, Value: clipValue(string(bytes.TrimSpace(data))), Rule: `is not a gRPC service config: want a JSON object, such as {"methodConfig": [...]}`}
	}
	path, v, ok := badValue(data, strings.Split(te.Field, "."), reflect.TypeFor[keyed[scDoc]]())
	if !ok {
		// Not found again: the keys without indexes.
		path, v = te.Field, []byte("a JSON "+te.Value)
	}
	return &Error{File: file, Path: strings.TrimPrefix(path, "."), Value: clipValue(string(v)), Rule: jsonTypeRule(te.Type)}
}

// clipValue shortens a value as written, for an error.
func clipValue(value string) string {
	const maxValue = 64
	if len(value) > maxValue {
		value = strings.ToValidUTF8(value[:maxValue-3], "") + "..."
	}
	return value
}

// badValue finds under v, JSON that decodes into a t (a type of scDoc's), the first value in
// document order at keys (see eachValue) that does not decode into its field's type, and
// returns its path below v (".key", "[i]") and its JSON; ok is false when there is none.
// encoding/json decodes every value of a key written twice, and fails on the first of another
// type, though a later value replaces it.
func badValue(v []byte, keys []string, t reflect.Type) (path string, bad []byte, ok bool) {
	ok = eachValue(v, "", keys, t, false, func(p string, value []byte, t reflect.Type, _ bool) bool {
		if json.Unmarshal(value, reflect.New(scValueType(t)).Interface()) == nil {
			return false
		}
		path, bad = p, value
		return true
	})
	return path, bad, ok
}

// scValueType returns t, a type of scDoc's, without its pointers and keyed: what its JSON
// decodes into.
func scValueType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if k, isKeyed := reflect.Zero(t).Interface().(keyedValue); isKeyed {
		t = k.valueType()
	}
	return t
}

// eachValue calls visit with every value under v, JSON that decodes into a t (a type of
// scDoc's), at keys (JSON keys, matched as encoding/json matches a field's: regardless of
// case), in document order: its path (path, v's, then ".key", "[i]"), its JSON, the type it
// decodes into as its field declares it, and whether it is earlier: in a value of a key
// written twice in one object that is not the key's last (earlier when v is). It looks into
// every element of a list the field's type holds, and into every value of a key written
// twice: encoding/json decodes each, though a later value replaces it. It stops when visit
// returns true, and returns whether it did.
func eachValue(v []byte, path string, keys []string, t reflect.Type, earlier bool, visit func(path string, value []byte, t reflect.Type, earlier bool) bool) bool {
	v = bytes.TrimSpace(v)
	vt := scValueType(t)
	if vt.Kind() == reflect.Slice && len(v) > 0 && v[0] == '[' {
		var elems []json.RawMessage
		if json.Unmarshal(v, &elems) != nil {
			return false
		}
		for i, e := range elems {
			if eachValue(e, path+"["+strconv.Itoa(i)+"]", keys, vt.Elem(), earlier, visit) {
				return true
			}
		}
		return false
	}
	if len(keys) == 0 {
		return visit(path, v, t, earlier)
	}
	if vt.Kind() != reflect.Struct {
		return false
	}
	var field reflect.Type
	for i := range vt.NumField() {
		if tag, _, _ := strings.Cut(vt.Field(i).Tag.Get("json"), ","); tag == keys[0] {
			field = vt.Field(i).Type
		}
	}
	if field == nil {
		return false
	}
	ms := members(v)
	for i, m := range ms {
		if !strings.EqualFold(m.key, keys[0]) {
			continue
		}
		again := slices.ContainsFunc(ms[i+1:], func(l member) bool { return strings.EqualFold(l.key, keys[0]) })
		if eachValue(m.value, path+"."+keys[0], keys[1:], field, earlier || again, visit) {
			return true
		}
	}
	return false
}

// member is a key of a JSON object and its value.
type member struct {
	key   string
	value json.RawMessage
}

// members returns the keys and values of the JSON object v in document order, each key as
// often as it is written; none when v is not an object.
func members(v []byte) []member {
	d := json.NewDecoder(bytes.NewReader(v))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []member
	for d.More() {
		tok, err := d.Token()
		key, isKey := tok.(string)
		if err != nil || !isKey {
			return out
		}
		var value json.RawMessage
		if d.Decode(&value) != nil {
			return out
		}
		out = append(out, member{key, value})
	}
	return out
}

// jsonTypeRule says what JSON a field decoded into a t wants.
func jsonTypeRule(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "is not an integer (a JSON number without a fraction, within " + strconv.Itoa(t.Bits()) + " bits)"
	case reflect.Float32, reflect.Float64:
		return "is not a JSON number"
	case reflect.String:
		return "is not a JSON string"
	case reflect.Bool:
		return "is not true or false"
	case reflect.Slice, reflect.Array:
		return "is not a JSON array"
	case reflect.Struct, reflect.Map:
		return "is not a JSON object"
	}
	return "is not of the JSON type gRPC reads there"
}

// scDoc is the part of a service config bulwark reads. Each object is decoded as a keyed,
// which keeps every key it holds, for warnings.
type scDoc struct {
	MethodConfig    []keyed[scMethod]  `json:"methodConfig"`
	RetryThrottling *keyed[scThrottle] `json:"retryThrottling"`
}

type scMethod struct {
	Name          []keyed[scName]   `json:"name"`
	Timeout       *scDur            `json:"timeout"`
	RetryPolicy   *keyed[scRetry]   `json:"retryPolicy"`
	HedgingPolicy *keyed[scHedging] `json:"hedgingPolicy"`
}

type scName struct {
	Service string `json:"service"`
	Method  string `json:"method"`
}

type scRetry struct {
	MaxAttempts           int      `json:"maxAttempts"`
	InitialBackoff        scDur    `json:"initialBackoff"`
	MaxBackoff            scDur    `json:"maxBackoff"`
	BackoffMultiplier     float64  `json:"backoffMultiplier"`
	RetryableStatusCodes  []scCode `json:"retryableStatusCodes"`
	PerAttemptRecvTimeout *scDur   `json:"perAttemptRecvTimeout"`
}

type scHedging struct {
	MaxAttempts         int      `json:"maxAttempts"`
	HedgingDelay        scDur    `json:"hedgingDelay"`
	NonFatalStatusCodes []scCode `json:"nonFatalStatusCodes"`
}

type scThrottle struct {
	MaxTokens  float64 `json:"maxTokens"`
	TokenRatio float64 `json:"tokenRatio"`
}

// keyed is a JSON object decoded into V, with every key it holds kept in raw, for warnings of
// those bulwark does not read. V must not have an UnmarshalJSON method.
type keyed[T any] struct {
	V   T
	raw map[string]json.RawMessage
}

// keyedValue is a keyed of any T: the type of its V, for scValueType.
type keyedValue interface{ valueType() reflect.Type }

func (keyed[T]) valueType() reflect.Type { return reflect.TypeFor[T]() }

func (k *keyed[T]) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &k.V); err != nil {
		return err
	}
	return json.Unmarshal(b, &k.raw)
}

// scDur is a protobuf JSON duration: decimal seconds with an "s" suffix ("0.1s", "1.5s").
// One that is not is kept as bad, so that the error names its field (scConv.values): an
// error returned here would end the decoding without saying where the value was.
type scDur struct {
	d   time.Duration
	bad *scBad
}

// jsonString returns the JSON string b holds, and false when b is no string.
func jsonString(b []byte) (string, bool) {
	var s string
	err := json.Unmarshal(b, &s)
	return s, err == nil
}

// scBad is a value its field cannot take: as written in the JSON, and the rule it breaks.
type scBad struct{ value, rule string }

func (d *scDur) UnmarshalJSON(b []byte) error {
	s, ok := jsonString(b)
	if !ok {
		d.bad = &scBad{string(b), `is not a duration: want a string of decimal seconds with an s suffix, such as "1.5s"`}
		return nil
	}
	v, ok := parseSeconds(s)
	if !ok {
		d.bad = &scBad{string(b), `is not a duration: want decimal seconds with an s suffix, such as "1.5s"`}
		return nil
	}
	*d = scDur{d: v}
	return nil
}

// maxProtoSeconds is the largest number of seconds a google.protobuf.Duration holds.
const maxProtoSeconds = 315576000000

// parseSeconds reads s, whole seconds and at most nine decimals with an "s" suffix (either
// part may be empty, not both: ".01s", "1.s"), exactly, as grpc-go does: no exponent or
// hexadecimal, and a value past what a time.Duration holds taken as the longest one (the most
// negative one below it). A sign is read as grpc-go reads it: "-" before either part ("-1s",
// "-.5s"), "+" before whole seconds ("+1s" is 1s; grpc-go refuses "+.5s"). grpc-go also takes a
// second sign ("--1s" as 1s, "-+1s" as -1s) and a sign after the point ("1.+5s" as 1.05s),
// which no protobuf duration is and no one means: those are refused.
func parseSeconds(s string) (time.Duration, bool) {
	num, ok := strings.CutSuffix(s, "s")
	num, neg := strings.CutPrefix(num, "-")
	if !neg {
		var plus bool
		if num, plus = strings.CutPrefix(num, "+"); plus && (num == "" || num[0] < '0' || num[0] > '9') {
			return 0, false
		}
	}
	whole, frac, _ := strings.Cut(num, ".")
	if !ok || !digits(whole) || !digits(frac) || len(frac) > 9 || whole+frac == "" {
		return 0, false
	}
	var sec, ns int64
	if whole != "" {
		var err error
		if sec, err = strconv.ParseInt(whole, 10, 64); err != nil || sec > maxProtoSeconds {
			return 0, false
		}
	}
	if frac != "" {
		ns, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	if sec > (math.MaxInt64-ns)/int64(time.Second) {
		// Past the longest Duration; the most negative one is one nanosecond longer, which
		// a magnitude past the longest reaches at least.
		if neg {
			return math.MinInt64, true
		}
		return math.MaxInt64, true
	}
	d := time.Duration(sec)*time.Second + time.Duration(ns)
	if neg {
		d = -d
	}
	return d, true
}

// digits reports whether s is ASCII digits only (or empty).
func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// scCode is a status code, by its upper-case name ("UNAVAILABLE") or number (14), as grpc-go
// reads one. One grpc-go refuses is kept as bad, as scDur's.
type scCode struct {
	code grpccodes.Code
	bad  *scBad
	text string // as written, for an error
}

func (c *scCode) UnmarshalJSON(b []byte) error {
	*c = scCode{text: string(b)}
	// encoding/json hands a list's null to UnmarshalJSON; grpc-go's Code takes it as OK.
	if string(b) == "null" {
		c.bad = &scBad{"null", `is not a status code: want a name such as "UNAVAILABLE" or a number (grpc-go reads null as OK, which is no failure)`}
		return nil
	}
	var n uint32
	if err := json.Unmarshal(b, &n); err == nil {
		if n > uint32(grpccodes.Unauthenticated) {
			c.bad = &scBad{string(b), "is not a gRPC code (0 to 16)"}
			return nil
		}
		c.code = grpccodes.Code(n)
		return nil
	}
	s, ok := jsonString(b)
	if !ok {
		c.bad = &scBad{string(b), `is not a status code: want a name such as "UNAVAILABLE" or a number`}
		return nil
	}
	// Exactly as grpc-go reads it: the upper-case name, which it refuses in any other case,
	// and matches as written, so that a name with a JSON escape ("\u0055NAVAILABLE") is
	// refused though it decodes to one.
	if err := c.code.UnmarshalJSON(b); err != nil {
		switch near := codename.Near(s); {
		case c.code.UnmarshalJSON([]byte(strconv.Quote(s))) == nil:
			c.bad = &scBad{string(b), fmt.Sprintf("is a code name with JSON escapes: gRPC takes one only as plain text (write %q)", s)}
		case near != "":
			c.bad = &scBad{string(b), fmt.Sprintf("is not a gRPC code name (did you mean %q? gRPC takes a name only as it spells it)", near)}
		default:
			c.bad = &scBad{string(b), `is not a gRPC code name (such as "UNAVAILABLE", as gRPC spells it)`}
		}
		c.code = 0
	}
	return nil
}

// scConv accumulates the converted Config, warnings and every error, in document order.
type scConv struct {
	file  string
	cfg   *Config
	warns []Warning
	errs  []error
	named map[string]Service // every service name the document writes
}

func (c *scConv) warn(path, msg string) {
	c.warns = append(c.warns, Warning{File: c.file, Path: path, Message: msg})
}

// fail records that the field at path holds value, which breaks rule.
func (c *scConv) fail(path string, value any, rule string) {
	c.errs = append(c.errs, &Error{File: c.file, Path: path, Value: fmt.Sprint(value), Rule: rule})
}

// The keys gRPC reads in a retryPolicy, a hedgingPolicy and retryThrottling.
var (
	retryPolicyKeys   = []string{"maxAttempts", "initialBackoff", "maxBackoff", "backoffMultiplier", "retryableStatusCodes", "perAttemptRecvTimeout"}
	hedgingPolicyKeys = []string{"maxAttempts", "hedgingDelay", "nonFatalStatusCodes"}
	throttlingKeys    = []string{"maxTokens", "tokenRatio"}
)

// required fails key, a key of the object at path (raw, whose keys gRPC reads are known),
// whose value breaks rule. When the object does not hold key (as gRPC matches keys, ignoring
// case), value is the zero it was read as, and the rule says that the key is missing and names
// a key of raw that gRPC does not read spelt nearly as key, the likely reason.
func (c *scConv) required(path string, raw map[string]json.RawMessage, key string, value any, rule string, known []string) {
	for k := range raw {
		if strings.EqualFold(k, key) {
			c.fail(path+"."+key, value, rule)
			return
		}
	}
	best, bestD := "", max(len(key)/3, 1)+1 // as didYouMean
	for k := range raw {
		if slices.ContainsFunc(known, func(kn string) bool { return strings.EqualFold(kn, k) }) {
			continue
		}
		if d := fielderr.Distance(strings.ToLower(key), strings.ToLower(k)); d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	rule += " (the key is missing, and gRPC requires it"
	if best != "" {
		rule += "; " + strconv.Quote(best) + ", written instead, is no key gRPC reads"
	}
	c.fail(path+"."+key, value, rule+")")
}

// values fails each duration and status code of mc that is bad (see scDur, scCode), by its
// path under path, mc's.
func (c *scConv) values(path string, mc scMethod) {
	dur := func(path string, d *scDur) {
		if d != nil && d.bad != nil {
			c.fail(path, d.bad.value, d.bad.rule)
		}
	}
	list := func(path string, l []scCode) {
		for j, code := range l {
			if code.bad != nil {
				c.fail(fmt.Sprintf("%s[%d]", path, j), code.bad.value, code.bad.rule)
			}
		}
	}
	dur(path+".timeout", mc.Timeout)
	if kr := mc.RetryPolicy; kr != nil {
		r, rp := &kr.V, path+".retryPolicy"
		dur(rp+".initialBackoff", &r.InitialBackoff)
		dur(rp+".maxBackoff", &r.MaxBackoff)
		list(rp+".retryableStatusCodes", r.RetryableStatusCodes)
		dur(rp+".perAttemptRecvTimeout", r.PerAttemptRecvTimeout)
	}
	if kh := mc.HedgingPolicy; kh != nil {
		h, hp := &kh.V, path+".hedgingPolicy"
		dur(hp+".hedgingDelay", &h.HedgingDelay)
		list(hp+".nonFatalStatusCodes", h.NonFatalStatusCodes)
	}
}

// grpcReads holds the keys of each duration and status code list grpc-go reads of a service
// config (its jsonMC and jsonRetryPolicy; it ignores hedgingPolicy and perAttemptRecvTimeout),
// in the order scConv.values checks them.
var grpcReads = [][]string{
	{"timeout"},
	{"retryPolicy", "initialBackoff"},
	{"retryPolicy", "maxBackoff"},
	{"retryPolicy", "retryableStatusCodes"},
}

// earlierValuesNote follows the rule of an earlier value of a repeated key.
const earlierValuesNote = " (an earlier value of a key written twice: grpc-go reads every value and refuses the config, though it would take the last)"

// earlierValues fails each duration and status code of data, the document, that grpc-go
// refuses and that is in an earlier value of a key written twice (see eachValue), which the
// decoding replaced by a later one: by its JSON path, with the rule values gives a last value,
// unless values failed the same value at that path (it is the one taken). In document order
// of the methodConfig entries, each's fields in values' order.
func (c *scConv) earlierValues(data []byte) {
	eachValue(data, "", []string{"methodConfig"}, reflect.TypeFor[keyed[scDoc]](), false, func(path string, mc []byte, t reflect.Type, earlier bool) bool {
		for _, keys := range grpcReads {
			eachValue(mc, path, keys, t, earlier, func(path string, v []byte, t reflect.Type, earlier bool) bool {
				path = strings.TrimPrefix(path, ".")
				if bad := grpcRefuses(v, t); earlier && bad != nil && !slices.ContainsFunc(c.errs, func(e error) bool {
					var ce *Error
					return errors.As(e, &ce) && ce.Path == path && ce.Value == bad.value
				}) {
					c.fail(path, bad.value, bad.rule+earlierValuesNote)
				}
				return false
			})
		}
		return false
	})
}

// grpcRefuses returns why v, the JSON of a duration or status code of type t (scDur, *scDur,
// scCode), is bad when grpc-go refuses it too; nil when it is not bad, is of another JSON type
// (wrongType's), or is one grpc-go reads: a null code, which it takes as OK, or a duration
// with a second sign or a sign after the point (see grpcReadsSeconds).
func grpcRefuses(v []byte, t reflect.Type) *scBad {
	p := reflect.New(t)
	if json.Unmarshal(v, p.Interface()) != nil {
		return nil
	}
	var bad *scBad
	switch x := p.Interface().(type) {
	case **scDur:
		if *x != nil {
			bad = (*x).bad
		}
	case *scDur:
		bad = x.bad
	case *scCode:
		if string(v) != "null" {
			bad = x.bad
		}
	}
	if s, ok := jsonString(v); ok && bad != nil && t != reflect.TypeFor[scCode]() && grpcReadsSeconds(s) {
		return nil
	}
	return bad
}

// grpcReadsSeconds reports whether grpc-go reads s as a duration (its
// internal/serviceconfig.Duration): parseSeconds's syntax, but each part read by
// strconv.ParseInt, which takes a sign of its own ("--1s", "1.+5s").
func grpcReadsSeconds(s string) bool {
	num, ok := strings.CutSuffix(s, "s")
	if !ok {
		return false
	}
	num = strings.TrimPrefix(num, "-")
	whole, frac, _ := strings.Cut(num, ".")
	if whole != "" {
		if sec, err := strconv.ParseInt(whole, 10, 64); err != nil || sec > maxProtoSeconds {
			return false
		}
	}
	if frac != "" {
		if _, err := strconv.ParseInt(frac, 10, 64); err != nil || len(frac) > 9 {
			return false
		}
	}
	return whole+frac != ""
}

// unknown warns of each key of raw that bulwark does not read (JSON keys match
// case-insensitively, as grpc-go's parser does).
func (c *scConv) unknown(path string, raw map[string]json.RawMessage, known ...string) {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if slices.ContainsFunc(known, func(kn string) bool { return strings.EqualFold(kn, k) }) {
			continue
		}
		p := k
		if path != "" {
			p = path + "." + k
		}
		c.warn(p, "has no bulwark equivalent and is ignored"+scHint(k))
	}
}

func scHint(key string) string {
	switch strings.ToLower(key) {
	case "waitforready":
		return " (pass grpc.WaitForReady(true) per call or as a default call option)"
	case "loadbalancingconfig", "loadbalancingpolicy", "healthcheckconfig":
		return " (it is not a resilience policy: keep it in grpc.WithDefaultServiceConfig)"
	case "maxrequestmessagebytes", "maxresponsemessagebytes":
		return " (use grpc.MaxCallSendMsgSize / MaxCallRecvMsgSize)"
	}
	return ""
}

func (c *scConv) method(i int, km keyed[scMethod], throttle retry.RetryBudgetConfig, seen map[string]string) {
	path := fmt.Sprintf("methodConfig[%d]", i)
	c.unknown(path, km.raw, "name", "timeout", "retryPolicy", "hedgingPolicy")
	mc := km.V
	if len(mc.Name) == 0 {
		if mc.Name != nil && mc.RetryPolicy != nil {
			// gRPC skips a config without a name, but checks the retryPolicy of one whose
			// list of names is empty.
			c.retry(path+".retryPolicy", mc.RetryPolicy, throttle, &Profile{})
		}
		c.warn(path, "has no name and applies to nothing (gRPC skips it)")
		return
	}
	if mc.RetryPolicy != nil && mc.HedgingPolicy != nil {
		c.fail(path, "retryPolicy and hedgingPolicy", "are both set; gRFC A6 allows one of them")
		return
	}
	pname := ServiceConfigProfilePrefix + strconv.Itoa(i)
	var p Profile
	if mc.Timeout != nil && mc.Timeout.d < 0 {
		// grpc-go reads it and applies no deadline: a deadline in the past no one means.
		c.fail(path+".timeout", mc.Timeout.d, "must not be negative (grpc-go sets no deadline for one; leave the key out for none)")
	}
	if mc.Timeout != nil && mc.Timeout.d == 0 {
		// grpc-go applies every timeout >= 0: a deadline of now, which no call meets.
		c.warn(path+".timeout", "0s fails every call at once with DEADLINE_EXCEEDED in gRPC; bulwark sets no deadline")
	}
	if mc.Timeout != nil && mc.Timeout.d > 0 {
		t := mc.Timeout.d
		// gRPC's timeout is a ceiling: the call's deadline is the earlier of the caller's and
		// now+timeout. Default sets it on calls with none, Max caps the others.
		p.Deadline = &deadline.Config{Default: t, Max: t}
	}
	if r := mc.RetryPolicy; r != nil {
		c.retry(path+".retryPolicy", r, throttle, &p)
		c.warn(path+".retryPolicy", "grpc-go sleeps between attempts 0.8 to 1.2 times min(initialBackoff·backoffMultiplier^n, maxBackoff); bulwark's full jitter sleeps 0 to 1 times it, half as long on average")
		// grpc-go's shouldRetry gives up on an attempt whose response headers arrived.
		c.warn(path+".retryPolicy", "grpc-go retries only a failure sent without response headers (trailers-only); bulwark retries a unary call's failure whatever headers came before it")
	}
	if h := mc.HedgingPolicy; h != nil {
		c.hedging(path+".hedgingPolicy", h, throttle, &p)
	}
	c.cfg.Profiles[pname] = p
	for j, kn := range mc.Name {
		npath := fmt.Sprintf("%s.name[%d]", path, j)
		c.unknown(npath, kn.raw, "service", "method")
		n := kn.V
		key := n.Service + "/" + n.Method
		if prev, dup := seen[key]; dup {
			c.fail(npath, key, "is named twice (also at "+prev+"); gRPC rejects the config")
			continue
		}
		seen[key] = npath
		// grpc-go takes a method's full name here, and applies the config to no call.
		if m := fullMethodRE.FindStringSubmatch(n.Service); m != nil {
			c.fail(npath+".service", strconv.Quote(n.Service), fmt.Sprintf(
				`is a method's full name: "service" is the fully qualified service name and "method" the method's short name ({"service": %q, "method": %q})`, m[1], m[2]))
			continue
		}
		if m := fullMethodRE.FindStringSubmatch(n.Method); m != nil {
			c.fail(npath+".method", strconv.Quote(n.Method), `is a method's full name: "method" is the method's short name (`+m[2]+")")
			continue
		}
		// Config.Validate refuses these too, but by the converted YAML's path ("services.S"),
		// which the JSON does not have.
		if n.Service != "" && !fullyQualified(n.Service) {
			c.fail(npath+".service", strconv.Quote(n.Service), "is not a fully qualified service name (package and service, such as kyc.v1.OCRService)")
			continue
		}
		// A service's method written as a service, before or after the service itself.
		if s, m, ok := methodOfKey(n.Service, c.named); ok {
			c.fail(npath+".service", strconv.Quote(n.Service), fmt.Sprintf(
				`is the method %s of the service %s, which the config names too: "service" is the fully qualified service name and "method" the method's short name ({"service": %q, "method": %q})`, m, s, s, m))
			continue
		}
		if n.Method != "" && !identRE.MatchString(n.Method) {
			c.fail(npath+".method", strconv.Quote(n.Method), "is not a method name (an identifier such as Extract)")
			continue
		}
		switch {
		case n.Service == "" && n.Method != "":
			c.fail(npath+".method", n.Method, "is set without a service; gRPC rejects the config")
		case n.Service == "":
			// The default method config: bulwark's "default" profile, which Resolve gives every
			// service and method that has no profile of its own, as gRPC applies it.
			// A copy: the two profiles share nothing, as those of a parsed file do.
			c.cfg.Profiles[DefaultProfile] = p.clone()
		case n.Method == "":
			s := c.cfg.Services[n.Service]
			s.Profile = pname
			c.cfg.Services[n.Service] = s
		default:
			s := c.cfg.Services[n.Service]
			if s.Methods == nil {
				s.Methods = map[string]Method{}
			}
			s.Methods[n.Method] = Method{Profile: pname}
			c.cfg.Services[n.Service] = s
		}
	}
}

func (c *scConv) retry(path string, kr *keyed[scRetry], throttle retry.RetryBudgetConfig, p *Profile) {
	r := &kr.V
	c.unknown(path, kr.raw, retryPolicyKeys...)
	if r.MaxAttempts < 2 {
		c.required(path, kr.raw, "maxAttempts", r.MaxAttempts, "must be 2 or more", retryPolicyKeys)
	}
	if r.InitialBackoff.d <= 0 {
		c.required(path, kr.raw, "initialBackoff", r.InitialBackoff.d, "must be more than 0", retryPolicyKeys)
	}
	if r.MaxBackoff.d <= 0 {
		c.required(path, kr.raw, "maxBackoff", r.MaxBackoff.d, "must be more than 0", retryPolicyKeys)
	}
	if r.BackoffMultiplier <= 0 {
		c.required(path, kr.raw, "backoffMultiplier", r.BackoffMultiplier, "must be more than 0", retryPolicyKeys)
	}
	if len(r.RetryableStatusCodes) == 0 {
		c.required(path, kr.raw, "retryableStatusCodes", "[]", "must name at least one code", retryPolicyKeys)
	}
	attempts := r.MaxAttempts
	if attempts > grpcMaxAttempts {
		c.warn(path+".maxAttempts", fmt.Sprintf("%d is capped at %d, as grpc-go does", attempts, grpcMaxAttempts))
		attempts = grpcMaxAttempts
	}
	// gRFC A6's sleeps are random(0, min(initialBackoff·multiplier^n, maxBackoff)): an initial
	// backoff above the maximum is the maximum, exactly. A multiplier below 1 (sleeps that
	// shrink) bulwark's schedule does not take: it is 1, sleeps up to initialBackoff, longer.
	initial, maxBackoff, mult := r.InitialBackoff.d, r.MaxBackoff.d, r.BackoffMultiplier
	initial = min(initial, maxBackoff)
	if mult > 0 && mult < 1 {
		c.warn(path+".backoffMultiplier", fmt.Sprintf("%v shrinks the sleeps, which bulwark's backoff does not: taken as 1, every sleep up to %v", mult, initial))
		mult = 1
	}
	if mult > maxMultiplier {
		c.warn(path+".backoffMultiplier", fmt.Sprintf("%v is above bulwark's %v: taken as %v, sleeps below maxBackoff may be shorter than gRPC's", mult, maxMultiplier, maxMultiplier))
		mult = maxMultiplier
	}
	rc := &retry.Config{
		MaxAttempts:    attempts,
		InitialBackoff: initial,
		MaxBackoff:     maxBackoff,
		Multiplier:     mult,
		// gRFC A6 as first written sleeps random(0, min(initialBackoff·multiplier^n,
		// maxBackoff)); grpc-go sleeps that times [0.8, 1.2), which no bulwark jitter is.
		Jitter:   retry.JitterFull,
		Throttle: throttle,
		// gRPC retries every method the config names, whatever its descriptor says.
		Idempotent: true,
	}
	switch {
	case r.PerAttemptRecvTimeout != nil && r.PerAttemptRecvTimeout.d < 0:
		// grpc-go ignores the key; bulwark applies it, and gRFC A6 wants more than 0.
		c.fail(path+".perAttemptRecvTimeout", r.PerAttemptRecvTimeout.d, "must be more than 0 (gRFC A6; leave the key out for no per-attempt timeout)")
	case r.PerAttemptRecvTimeout != nil && r.PerAttemptRecvTimeout.d == 0:
		// retry.per_attempt_timeout 0 is none: say so rather than that 0s is applied.
		c.warn(path+".perAttemptRecvTimeout", "0s sets no per-attempt timeout (gRFC A6 wants more than 0; grpc-go ignores the key)")
	case r.PerAttemptRecvTimeout != nil:
		rc.PerAttemptTimeout = r.PerAttemptRecvTimeout.d
		// gRFC A6 retries an attempt cut by the timeout whatever the list says; bulwark's cut
		// attempt ends in DEADLINE_EXCEEDED, retried only when listed (onlyRetryable).
		if slices.ContainsFunc(r.RetryableStatusCodes, func(c scCode) bool { return c.code == grpccodes.DeadlineExceeded }) {
			c.warn(path+".perAttemptRecvTimeout", "grpc-go does not implement it (it ignores the key); bulwark applies it as gRFC A6 defines it: retry.per_attempt_timeout "+rc.PerAttemptTimeout.String())
		} else {
			c.warn(path+".perAttemptRecvTimeout", "grpc-go does not implement it (it ignores the key); bulwark cuts each attempt at "+rc.PerAttemptTimeout.String()+" (retry.per_attempt_timeout), but a cut attempt is not retried: it ends in DEADLINE_EXCEEDED, which retryableStatusCodes does not list, and the call ends with it (gRFC A6 retries it whatever the list says; listing DEADLINE_EXCEEDED retries it, and the server's DEADLINE_EXCEEDED too)")
		}
	}
	p.Retry = rc
	p.Classifier = c.onlyRetryable(path+".retryableStatusCodes", r.RetryableStatusCodes)
}

func (c *scConv) hedging(path string, kh *keyed[scHedging], throttle retry.RetryBudgetConfig, p *Profile) {
	h := &kh.V
	c.unknown(path, kh.raw, hedgingPolicyKeys...)
	if h.MaxAttempts < 2 {
		c.required(path, kh.raw, "maxAttempts", h.MaxAttempts, "must be 2 or more", hedgingPolicyKeys)
	}
	attempts := h.MaxAttempts
	if attempts > grpcMaxAttempts {
		c.warn(path+".maxAttempts", fmt.Sprintf("%d is capped at %d, as grpc-go does", attempts, grpcMaxAttempts))
		attempts = grpcMaxAttempts
	}
	delay := h.HedgingDelay.d
	if delay < 0 {
		// grpc-go ignores hedgingPolicy; bulwark applies it, and a delay is not negative.
		c.fail(path+".hedgingDelay", delay, `must not be negative (gRFC A6: the time before each further attempt; "0s" sends them all at once)`)
	} else if delay == 0 {
		delay = time.Millisecond
		c.warn(path+".hedgingDelay", "0s sends every attempt at once in gRPC; bulwark hedges after a delay, here 1ms")
	}
	// gRFC A6 hedges every method the config names, whatever its descriptor says.
	p.Hedge = &hedge.Config{MaxAttempts: attempts, Delay: delay, Idempotent: true}
	c.warn(path, "grpc-go does not implement hedging (it ignores hedgingPolicy); bulwark hedges as gRFC A6 defines it, which sends extra attempts a grpc-go client never sent")
	if throttle.MaxTokens > 0 {
		// Hedges draw on the retry policy's token bucket: one attempt, no retries, the bucket.
		p.Retry = &retry.Config{MaxAttempts: 1, Throttle: throttle}
	}
	p.Classifier = c.onlyRetryable(path+".nonFatalStatusCodes", h.NonFatalStatusCodes)
}

// onlyRetryable returns classifier overrides under which exactly the listed codes are
// retryable (for hedging: non-fatal): a listed code the default classifier does not retry
// becomes transient (throttled for RESOURCE_EXHAUSTED); an unlisted code it does retry becomes
// server_fault: not retried, still a failure for the breaker.
func (c *scConv) onlyRetryable(path string, list []scCode) codes.Overrides {
	listed := map[grpccodes.Code]bool{}
	for j, code := range list {
		listed[code.code] = true
		if code.code == grpccodes.OK {
			c.fail(fmt.Sprintf("%s[%d]", path, j), code.text, "is not a failure code (OK is the code of every success)")
		}
	}
	ov := codes.Overrides{Codes: map[grpccodes.Code]codes.Class{}}
	def := codes.Default()
	for code := grpccodes.OK + 1; code <= grpccodes.Unauthenticated; code++ {
		cls := def.ClassOf(code)
		switch {
		case listed[code] && !cls.Retryable():
			if code == grpccodes.Canceled {
				c.warn(path, "CANCELLED is not retried: bulwark cannot tell the caller's cancellation from the server's")
				continue
			}
			ov.Codes[code] = codes.Transient
			if code == grpccodes.ResourceExhausted {
				ov.Codes[code] = codes.Throttled
			}
		case !listed[code] && cls.Retryable():
			ov.Codes[code] = codes.ServerFault
		}
	}
	return ov
}
