package config_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
)

// A protobuf JSON duration is exact decimal seconds; grpc-go reads "1.005s" as 1.005s (and
// ".01s" as 10ms: either part may be left out).
func TestServiceConfigDurationIsExact(t *testing.T) {
	sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"1.005s"}]}`
	cfg, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Resolve("/a.v1.S/M")
	if p.Deadline == nil || p.Deadline.Max != 1005*time.Millisecond {
		t.Errorf("timeout 1.005s: deadline %+v, want max 1.005s", p.Deadline)
	}
}

// grpc-go accepts a maxBackoff of 10000000000s (it saturates at the largest time.Duration);
// the conversion must not report it as a negative duration.
func TestServiceConfigHugeDurationSaturates(t *testing.T) {
	sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"10000000000s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`
	cfg, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
	if err != nil {
		t.Fatalf("a maxBackoff grpc-go takes is refused: %v", err)
	}
	if got := cfg.Resolve("/a.v1.S/M").Retry.MaxBackoff; got != math.MaxInt64 {
		t.Errorf("maxBackoff 10000000000s = %v, want the longest Duration", got)
	}
}

// grpc-go rejects "NaNs" and "0x1p-2s" as durations; they must not be silently accepted. Nor
// must "+.5s" (grpc-go refuses it), nor a second sign or a sign after the point, which
// grpc-go reads ("--1s" as 1s, "1.+5s" as 1.05s) but no one means: the package documents it.
func TestServiceConfigMalformedDurationRefused(t *testing.T) {
	for _, d := range []string{"NaNs", "0x1p-2s", "Infs", "1e3s", ".s", "s", "1..5s", "1.0000000001s", "1", "315576000001s",
		"+.5s", "+s", "-s", "--1s", "-+1s", "+-1s", "++1s", "1.+5s", "1.-5s", "-315576000001s", "- 1s"} {
		sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"` + d + `"}]}`
		cfg, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
		if err == nil {
			t.Errorf("timeout %q accepted (deadline %+v), want it refused", d, cfg.Resolve("/a.v1.S/M").Deadline)
		}
	}
}

// grpc-go accepts any backoffMultiplier > 0 and does not require maxBackoff >= initialBackoff
// (A6: min(initialBackoff*multiplier^n, maxBackoff)). The package documents that only a
// retryPolicy gRPC would reject is an error; and an error must name the JSON field.
func TestServiceConfigTakesWhatGRPCTakes(t *testing.T) {
	for _, tt := range []struct {
		name, policy      string
		initial, maxDelay time.Duration
		mult              float64
		warn              string
	}{
		{"multiplier 0.5", `"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":0.5`, 100 * time.Millisecond, time.Second, 1, "backoffMultiplier: 0.5 shrinks the sleeps"},
		{"initial above max", `"initialBackoff":"2s","maxBackoff":"1s","backoffMultiplier":2`, time.Second, time.Second, 2, ""},
	} {
		sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,` + tt.policy + `,"retryableStatusCodes":["UNAVAILABLE"]}}]}`
		cfg, warns, err := config.ParseServiceConfig("sc.json", []byte(sc))
		if err != nil {
			t.Errorf("%s: a retryPolicy grpc-go accepts is refused: %v", tt.name, err)
			continue
		}
		r := cfg.Resolve("/a.v1.S/M").Retry
		if r.InitialBackoff != tt.initial || r.MaxBackoff != tt.maxDelay || r.Multiplier != tt.mult {
			t.Errorf("%s: retry %v..%v ×%v, want %v..%v ×%v", tt.name, r.InitialBackoff, r.MaxBackoff, r.Multiplier, tt.initial, tt.maxDelay, tt.mult)
		}
		var all []string
		for _, w := range warns {
			all = append(all, w.String())
		}
		if tt.warn != "" && !strings.Contains(strings.Join(all, "\n"), tt.warn) {
			t.Errorf("%s: warnings %q lack %q", tt.name, all, tt.warn)
		}
	}
}

// retryThrottling with maxTokens outside (0, 1000] or tokenRatio <= 0 is rejected by gRPC.
func TestServiceConfigBadThrottlingRefused(t *testing.T) {
	for _, rt := range []string{`{"maxTokens":0,"tokenRatio":0.1}`, `{"maxTokens":10,"tokenRatio":0}`, `{"maxTokens":2000,"tokenRatio":0.1}`} {
		sc := `{"retryThrottling":` + rt + `,"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`
		cfg, _, err := config.ParseServiceConfig("sc.json", []byte(sc))
		if err == nil {
			t.Errorf("retryThrottling %s accepted: retry %+v", rt, cfg.Resolve("/a.v1.S/M").Retry.Throttle)
		} else if !strings.Contains(err.Error(), "retryThrottling.") {
			t.Errorf("retryThrottling %s: %v, want the field named", rt, err)
		}
	}
}

// grpc-go takes a timeout of "0s" as a deadline of now: every call of the method fails at once
// with DEADLINE_EXCEEDED (it applies any timeout >= 0). bulwark has no such deadline and sets
// none; that must not pass in silence.
func TestServiceConfigZeroTimeoutWarns(t *testing.T) {
	sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"0s"}]}`
	cfg, warns, err := config.ParseServiceConfig("sc.json", []byte(sc))
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Resolve("/a.v1.S/M").Deadline; d != nil {
		t.Errorf("deadline %+v, want none", d)
	}
	var msgs []string
	for _, w := range warns {
		if w.Path == "methodConfig[0].timeout" {
			msgs = append(msgs, w.Message)
		}
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0], "DEADLINE_EXCEEDED") {
		t.Errorf("warnings at methodConfig[0].timeout: %q, want one saying gRPC fails every call with DEADLINE_EXCEEDED (all: %v)", msgs, warns)
	}
}

// A key of a name that bulwark (and gRPC) does not read, such as a misspelt "method", must
// not pass in silence: the name then covers the whole service.
func TestServiceConfigUnknownNameKeyWarns(t *testing.T) {
	sc := `{"methodConfig":[{"name":[{"service":"a.v1.S","methd":"M"}],"timeout":"1s"}]}`
	_, warns, err := config.ParseServiceConfig("sc.json", []byte(sc))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warns {
		if w.Path == "methodConfig[0].name[0].methd" {
			return
		}
	}
	t.Errorf("no warning at methodConfig[0].name[0].methd; got %v", warns)
}

// grpc-go reads a status code as its exact upper-case name or a number: it refuses the whole
// config for "unavailable", and so must the conversion (the package documents that a
// retryPolicy gRPC would reject is an error), rather than retry where gRPC never did.
func TestServiceConfigCodeNameIsExact(t *testing.T) {
	for _, code := range []string{`"unavailable"`, `"Unavailable"`, `" UNAVAILABLE"`} {
		sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":[` + code + `]}}]}`
		if _, _, err := config.ParseServiceConfig("sc.json", []byte(sc)); err == nil || !strings.Contains(err.Error(), "not a gRPC code name") {
			t.Errorf("retryableStatusCodes [%s]: error %v, want the code refused", code, err)
		}
	}
	// grpc-go matches the name as written in the JSON, so a name with an escape is refused
	// by it, though it decodes to UNAVAILABLE.
	sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["\u0055NAVAILABLE"]}}]}`
	const want = `retryableStatusCodes[0]: "\u0055NAVAILABLE" is a code name with JSON escapes: gRPC takes one only as plain text (write "UNAVAILABLE")`
	if _, _, err := config.ParseServiceConfig("sc.json", []byte(sc)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("retryableStatusCodes [\"\\u0055NAVAILABLE\"]: error %v, want one saying %s", err, want)
	}
}

// grpc-go takes any backoffMultiplier > 0 and any tokenRatio > 0; bulwark's sections bound
// them (multiplier at most 100, token_ratio at most max_tokens). The conversion must not
// refuse what gRPC takes: a ratio above maxTokens refills the bucket as maxTokens does (A6:
// tokens = min(maxTokens, tokens + tokenRatio)), and a multiplier above 100 is taken as 100,
// with a warning.
func TestServiceConfigBeyondSectionBounds(t *testing.T) {
	sc := `{"retryThrottling":{"maxTokens":2,"tokenRatio":5},"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.001s","maxBackoff":"10s","backoffMultiplier":1000,"retryableStatusCodes":["UNAVAILABLE"]}}]}`
	cfg, warns, err := config.ParseServiceConfig("sc.json", []byte(sc))
	if err != nil {
		t.Fatalf("a service config grpc-go takes is refused: %v", err)
	}
	r := cfg.Resolve("/a.v1.S/M").Retry
	if r.Multiplier != 100 || r.Throttle.MaxTokens != 2 || r.Throttle.TokenRatio != 2 {
		t.Errorf("multiplier %v, throttle %+v; want 100 and a ratio of 2 (the bucket's size)", r.Multiplier, r.Throttle)
	}
	if !warned(warns, "methodConfig[0].retryPolicy.backoffMultiplier") {
		t.Errorf("no warning at methodConfig[0].retryPolicy.backoffMultiplier; got %v", warns)
	}
}

// grpc-go implements neither hedgingPolicy nor retryPolicy.perAttemptRecvTimeout (it ignores
// both); bulwark applies them as gRFC A6 defines them. A client moving over from grpc-go's
// retries starts hedging, or timing attempts out, where it did not before: the conversion must
// say so.
func TestServiceConfigWarnsOfWhatGrpcGoIgnores(t *testing.T) {
	_, warns, err := config.ParseServiceConfig("a6.json", []byte(a6Hedging))
	if err != nil {
		t.Fatal(err)
	}
	if !warned(warns, "methodConfig[0].hedgingPolicy") {
		t.Errorf("no warning at methodConfig[0].hedgingPolicy; got %v", warns)
	}
	sc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"],"perAttemptRecvTimeout":"0.5s"}}]}`
	_, warns, err = config.ParseServiceConfig("sc.json", []byte(sc))
	if err != nil {
		t.Fatal(err)
	}
	if !warned(warns, "methodConfig[0].retryPolicy.perAttemptRecvTimeout") {
		t.Errorf("no warning at methodConfig[0].retryPolicy.perAttemptRecvTimeout; got %v", warns)
	}
}

// grpc-go reads a service config with json.Unmarshal, which refuses anything after the
// object; the conversion must not read the first object and drop the rest.
func TestServiceConfigTrailingDataRefused(t *testing.T) {
	for _, doc := range []string{
		`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"1s"}]} {"methodConfig":[]}`,
		`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"1s"}]} x`,
	} {
		if _, _, err := config.ParseServiceConfig("sc.json", []byte(doc)); err == nil || !strings.Contains(err.Error(), "not a gRPC service config") {
			t.Errorf("%s: error %v, want it refused as gRPC does", doc, err)
		}
	}
}

// grpc-go skips a methodConfig without a name, but checks the retryPolicy of one whose name
// list is empty, and refuses the config when it is invalid.
func TestServiceConfigEmptyNameListChecked(t *testing.T) {
	bad := `"retryPolicy":{"maxAttempts":1,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}`
	if _, _, err := config.ParseServiceConfig("sc.json", []byte(`{"methodConfig":[{"name":[],`+bad+`}]}`)); err == nil || !strings.Contains(err.Error(), "maxAttempts") {
		t.Errorf("empty name list: error %v, want the retryPolicy refused", err)
	}
	if _, warns, err := config.ParseServiceConfig("sc.json", []byte(`{"methodConfig":[{`+bad+`}]}`)); err != nil || !warned(warns, "methodConfig[0]") {
		t.Errorf("no name: error %v, warnings %v; want it skipped with a warning, as gRPC skips it", err, warns)
	}
}
