package interceptors

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// ServiceConfig returns a gRPC service config (JSON) that gives unary methods the suite's
// per-attempt timeout as their method config's "timeout": base, a service config of the
// caller's own ("" for none: its load balancing policy, say), with a method config added for
// every unary method whose policy has a per-attempt timeout, among the methods of the services
// linked into the program (protoregistry.GlobalFiles) that the configuration lists, or all of
// them when it has a default profile. What base says wins: a method whose method config in
// base (its own, else its service's, else the one for all methods) has a timeout keeps that;
// one without a timeout gets the suite's added, its other settings kept (an entry of base that
// names other methods too is left as it is). Streaming methods get none: a stream's
// per-attempt timeout is lifted when the stream commits, and grpc's would not be. Nor do the
// methods whose timeout cuts overtaken attempts only (retry.CutOvertaken), for grpc's would
// cut them all. Pass it to grpc.WithDefaultServiceConfig, or use ServiceConfigOption.
//
// grpc applies a method config's timeout to every stream it opens, and a suite's retry step
// opens one per attempt, so grpc's own context, which it makes for every call, keeps the
// per-attempt deadline: the retry step then makes no context of its own for an attempt whose
// way to grpc cannot wait (breaker, adaptive throttle, a local rate limiter and a bulkhead
// without a wait; see section.Instant), which saves its context, timer and allocations on
// every call. The server sees the same deadline. The retry step reads grpc's timeout for the
// method from the connection (ClientConn.GetMethodConfig) at most once a second per chain,
// connection and method while it is set, and every call while it is not, and makes its own
// context whenever it differs: before the first service config applies, or with one from the
// name resolver, which replaces the default (followed within that second: until then the
// attempts may go by the timeout read before). A chain with a hedging policy, and a suite
// with a clock of its own (WithClock), make their contexts as before.
//
// A unary call made with retry.Disable makes one attempt, which grpc then ends at the timeout
// too. Interceptors placed after the suite run before grpc starts its timer: a wait of theirs
// is not part of the attempt's timeout, as it is when the suite makes the context. The config
// is the suite's at the time of the call: after a Reload that changes a per-attempt timeout,
// dial with a new one. Until then grpc still ends the attempts of the methods concerned at the
// old timeout, and the suite makes its contexts as before for them.
func (s *Suite) ServiceConfig(base string) (string, error) {
	return serviceConfig(s.state.Load().cfg, base)
}

// ServiceConfigOption returns grpc.WithDefaultServiceConfig of ServiceConfig(base), to dial
// with beside DialOptions. A later grpc.WithDefaultServiceConfig among the dial options
// replaces it (the suite then keeps making its own per-attempt contexts); one placed before
// it is replaced by it, so pass that config as base instead.
func (s *Suite) ServiceConfigOption(base string) (grpc.DialOption, error) {
	sc, err := s.ServiceConfig(base)
	if err != nil {
		return nil, err
	}
	return grpc.WithDefaultServiceConfig(sc), nil
}

// methodName is a method config's name: a service, or a service and a method; both empty
// names every method of every service.
type methodName struct {
	Service string `json:"service,omitempty"`
	Method  string `json:"method,omitempty"`
}

func serviceConfig(cfg *config.Config, base string) (string, error) {
	doc := map[string]any{}
	if strings.TrimSpace(base) != "" {
		if err := decodeNumbers(base, &doc); err != nil {
			return "", fmt.Errorf("interceptors: service config base: %q is not a JSON object: %w", clip(base), err)
		}
		if doc == nil {
			return "", fmt.Errorf("interceptors: service config base: %q is not a JSON object", clip(base))
		}
	}
	if err := canonicalKeys(doc, "the config", "methodConfig"); err != nil {
		return "", err
	}
	var entries []any
	if mc, ok := doc["methodConfig"]; ok && mc != nil { // null: none, to grpc's encoding/json
		if entries, ok = mc.([]any); !ok {
			return "", fmt.Errorf("interceptors: service config base: methodConfig is %s, want a list", jsonKind(mc))
		}
	}
	named, err := namesIn(entries)
	if err != nil {
		return "", err
	}
	for _, m := range unaryMethods(cfg) {
		p := cfg.Resolve("/" + m.Service + "/" + m.Method)
		if p.Profile.Retry == nil {
			continue
		}
		d := retry.AttemptTimeout(*p.Profile.Retry, p.Budget)
		if d <= 0 || p.Profile.Retry.PerAttemptCut == retry.CutOvertaken {
			continue // none, or one that grpc's would not keep: it cuts every attempt
		}
		// The base's own method config for m, else the one grpc would take for m (its
		// service's, else the one for all): a timeout of its own wins; its other settings
		// are kept in m's.
		own, exact := named[m]
		if !exact {
			if own = named[methodName{Service: m.Service}]; own == nil {
				own = named[methodName{}]
			}
		}
		if t, has := own["timeout"]; has && t != nil { // null: none, to grpc
			continue
		}
		if exact {
			// An entry of base for m alone gets the timeout; one that names other methods
			// too is left as it is, and the suite makes its own contexts for m.
			if names, _ := own["name"].([]any); len(names) == 1 {
				own["timeout"] = protoDuration(d)
			}
			continue
		}
		e := map[string]any{}
		maps.Copy(e, own)
		e["name"], e["timeout"] = []methodName{m}, protoDuration(d)
		entries = append(entries, e)
	}
	if len(entries) > 0 {
		doc["methodConfig"] = entries
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("interceptors: service config: %w", err)
	}
	return string(out), nil
}

// unaryMethods returns the unary methods of the services linked into the program that cfg
// gives a policy: the services it lists, and every service when it has a default profile;
// sorted.
func unaryMethods(cfg *config.Config) []methodName {
	_, hasDefault := cfg.Profiles[config.DefaultProfile]
	var out []methodName
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		svcs := fd.Services()
		for i := range svcs.Len() {
			sd := svcs.Get(i)
			svc := string(sd.FullName())
			if _, listed := cfg.Services[svc]; !listed && !hasDefault {
				continue
			}
			ms := sd.Methods()
			for j := range ms.Len() {
				if md := ms.Get(j); !md.IsStreamingClient() && !md.IsStreamingServer() {
					out = append(out, methodName{Service: svc, Method: string(md.Name())})
				}
			}
		}
		return true
	})
	slices.SortFunc(out, func(a, b methodName) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.Method, b.Method))
	})
	return out
}

// namesIn returns the method configs of entries (a service config's methodConfig) by the
// names they list.
func namesIn(entries []any) (map[methodName]map[string]any, error) {
	named := map[methodName]map[string]any{}
	for i, e := range entries {
		if e == nil { // to grpc, a method config that names no method
			continue
		}
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("interceptors: service config base: methodConfig[%d] is %s, want an object", i, jsonKind(e))
		}
		if err := canonicalKeys(obj, fmt.Sprintf("methodConfig[%d]", i), "name", "timeout"); err != nil {
			return nil, err
		}
		names, _ := obj["name"].([]any)
		for j, n := range names {
			if n == nil { // to grpc, {}: every method
				named[methodName{}] = obj
				continue
			}
			no, ok := n.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("interceptors: service config base: methodConfig[%d].name[%d] is %s, want an object", i, j, jsonKind(n))
			}
			if err := canonicalKeys(no, fmt.Sprintf("methodConfig[%d].name[%d]", i, j), "service", "method"); err != nil {
				return nil, err
			}
			svc, err := nameField(no, i, j, "service")
			if err != nil {
				return nil, err
			}
			m, err := nameField(no, i, j, "method")
			if err != nil {
				return nil, err
			}
			named[methodName{Service: svc, Method: m}] = obj
		}
	}
	return named, nil
}

// nameField returns the string at key of no, the name entry j of methodConfig[i] ("" when the
// key is missing or null, as grpc reads it); another kind of value is an error, as grpc
// refuses the config at dial.
func nameField(no map[string]any, i, j int, key string) (string, error) {
	switch v := no[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("interceptors: service config base: methodConfig[%d].name[%d].%s is %s, want a string", i, j, key, jsonKind(v))
	}
}

// canonicalKeys renames in obj a key that matches one of keys but for case to that key's
// spelling: grpc-go reads a service config with encoding/json, which matches keys without
// regard to case, so "Timeout" is its timeout. Two spellings of one key (grpc takes the later
// in the text, which a map does not keep) are an error.
func canonicalKeys(obj map[string]any, where string, keys ...string) error {
	for _, k := range keys {
		var found []string
		for key := range obj {
			if strings.EqualFold(key, k) {
				found = append(found, key)
			}
		}
		slices.Sort(found)
		switch {
		case len(found) > 1:
			return fmt.Errorf("interceptors: service config base: %s has %q and %q, one key to grpc: write it once", where, found[0], found[1])
		case len(found) == 1 && found[0] != k:
			obj[k] = obj[found[0]]
			delete(obj, found[0])
		}
	}
	return nil
}

// protoDuration formats d as a google.protobuf.Duration in JSON ("5s", "0.250s").
func protoDuration(d time.Duration) string {
	sec, ns := int64(d/time.Second), int64(d%time.Second)
	if ns == 0 {
		return strconv.FormatInt(sec, 10) + "s"
	}
	frac := strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
	return strconv.FormatInt(sec, 10) + "." + frac + "s"
}

// decodeNumbers is json.Unmarshal of text into v, but for numbers, which it keeps as written
// (json.Number): read as float64, an integer above 2^53 would be written back as another.
func decodeNumbers(text string, v any) error {
	if !json.Valid([]byte(text)) {
		return json.Unmarshal([]byte(text), v) // its error
	}
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	return d.Decode(v)
}

// jsonKind names the kind of JSON value v is, as decodeNumbers read it, for an error.
func jsonKind(v any) string {
	switch v.(type) {
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// clip shortens a text quoted in an error.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
