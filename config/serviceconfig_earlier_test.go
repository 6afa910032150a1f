package config_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// grpcTakes reports whether grpc-go takes doc as a default service config: grpc.NewClient
// parses it, and fails on one it refuses (no connection is made).
func grpcTakes(t *testing.T, doc string) bool {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(doc))
	if err != nil {
		return false
	}
	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	return true
}

const earlierPolicy = `"maxAttempts":3,"backoffMultiplier":2`

// TestServiceConfigEarlierValueRefusedAsGRPCDoes: grpc-go decodes every value of a key
// written twice (encoding/json calls a duration's or a code's UnmarshalJSON for each) and
// refuses the config for an earlier duration or code it cannot read, though it would take the
// last; ParseServiceConfig took the last value and accepted the config. Each such value is
// an *Error at its JSON path, with the rule of a last value and a word that it is an earlier
// one; grpc.NewClient refuses each document too.
func TestServiceConfigEarlierValueRefusedAsGRPCDoes(t *testing.T) {
	const note = " (an earlier value of a key written twice: grpc-go reads every value and refuses the config, though it would take the last)"
	const notDuration = `is not a duration: want decimal seconds with an s suffix, such as "1.5s"`
	for _, tt := range []struct {
		doc  string
		want []config.Error
	}{
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"1m","timeout":"1s"}]}`,
			[]config.Error{{File: "sc.json", Path: "methodConfig[0].timeout", Value: `"1m"`, Rule: notDuration + note}}},
		// In two spellings, and a null last, which leaves no timeout.
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"Timeout":"1m","timeout":null}]}`,
			[]config.Error{{File: "sc.json", Path: "methodConfig[0].timeout", Value: `"1m"`, Rule: notDuration + note}}},
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}]},{"name":[{"service":"b.v1.S"}],"retryPolicy":{` + earlierPolicy + `,"initialBackoff":0.1,"initialBackoff":"0.1s","maxBackoff":"1x","maxBackoff":"1s","retryableStatusCodes":["UNAVAILABLE","unavailable",17],"retryableStatusCodes":["UNAVAILABLE"]}}]}`,
			[]config.Error{
				{File: "sc.json", Path: "methodConfig[1].retryPolicy.initialBackoff", Value: `0.1`, Rule: `is not a duration: want a string of decimal seconds with an s suffix, such as "1.5s"` + note},
				{File: "sc.json", Path: "methodConfig[1].retryPolicy.maxBackoff", Value: `"1x"`, Rule: notDuration + note},
				{File: "sc.json", Path: "methodConfig[1].retryPolicy.retryableStatusCodes[1]", Value: `"unavailable"`, Rule: `is not a gRPC code name (did you mean "UNAVAILABLE"? gRPC takes a name only as it spells it)` + note},
				{File: "sc.json", Path: "methodConfig[1].retryPolicy.retryableStatusCodes[2]", Value: `17`, Rule: `is not a gRPC code (0 to 16)` + note},
			}},
		// A value inside an earlier value of a key on its path: a whole retryPolicy, a whole
		// methodConfig list.
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"initialBackoff":null},"retryPolicy":{` + earlierPolicy + `,"initialBackoff":"1s","maxBackoff":"1s","retryableStatusCodes":[14]}}]}`,
			[]config.Error{{File: "sc.json", Path: "methodConfig[0].retryPolicy.initialBackoff", Value: `null`, Rule: `is not a duration: want decimal seconds with an s suffix, such as "1.5s"` + note}}},
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"2"}],"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"2s"}]}`,
			[]config.Error{{File: "sc.json", Path: "methodConfig[0].timeout", Value: `"2"`, Rule: notDuration + note}}},
	} {
		if grpcTakes(t, tt.doc) {
			t.Errorf("%s: grpc-go takes it; the test wants a document it refuses", tt.doc)
		}
		_, _, err := config.ParseServiceConfig("sc.json", []byte(tt.doc))
		got := fielderr.Flatten(err)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d errors, want %d:\n%v", tt.doc, len(got), len(tt.want), err)
			continue
		}
		for i, e := range got {
			var ce *config.Error
			if !errors.As(e, &ce) || *ce != tt.want[i] {
				t.Errorf("%s: error %d:\n got %v\nwant %v", tt.doc, i, e, &tt.want[i])
			}
		}
	}
}

// TestServiceConfigEarlierValueGRPCTakesAccepted: a repeated key whose earlier value grpc-go
// reads, or a field grpc-go does not read (hedgingPolicy, perAttemptRecvTimeout), is taken
// as grpc-go takes it: the last value; and a bad value reported as the last one is reported
// once.
func TestServiceConfigEarlierValueGRPCTakesAccepted(t *testing.T) {
	for _, tt := range []struct {
		doc     string
		timeout time.Duration
	}{
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"2s","timeout":"1s"}]}`, time.Second},
		// grpc-go reads a second sign and a null code; bulwark refuses them only where taken.
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"--2s","TIMEOUT":"1.+5s","timeout":"3s"}]}`, 3 * time.Second},
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"1s","retryPolicy":{` + earlierPolicy + `,"initialBackoff":"1s","maxBackoff":"1s","retryableStatusCodes":[null,"UNAVAILABLE"],"retryableStatusCodes":["UNAVAILABLE"]}}]}`, time.Second},
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"1s","retryPolicy":{` + earlierPolicy + `,"initialBackoff":"1s","maxBackoff":"1s","retryableStatusCodes":["UNAVAILABLE"],"perAttemptRecvTimeout":"1m","perAttemptRecvTimeout":"1s"}}]}`, time.Second},
		{`{"methodConfig":[{"name":[{"service":"a.v1.S"}],"timeout":"1s","hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"1m","hedgingDelay":"0.1s","nonFatalStatusCodes":["BROKEN"],"nonFatalStatusCodes":["UNAVAILABLE"]}}]}`, time.Second},
	} {
		if !grpcTakes(t, tt.doc) {
			t.Errorf("%s: grpc-go refuses it; the test wants a document it takes", tt.doc)
		}
		cfg, _, err := config.ParseServiceConfig("sc.json", []byte(tt.doc))
		if err != nil {
			t.Errorf("%s: %v, want it taken", tt.doc, err)
			continue
		}
		if d := cfg.Resolve("/a.v1.S/M").Deadline; d == nil || d.Max != tt.timeout {
			t.Errorf("%s: deadline %+v, want the last timeout, %v", tt.doc, d, tt.timeout)
		}
	}
	// The earlier retryPolicy's initialBackoff, which the later one leaves in place, is the
	// one taken: reported once, as a last value.
	doc := `{"methodConfig":[{"name":[{"service":"a.v1.S"}],"retryPolicy":{"initialBackoff":"1m"},"retryPolicy":{` + earlierPolicy + `,"maxBackoff":"1s","retryableStatusCodes":[14]}}]}`
	_, _, err := config.ParseServiceConfig("sc.json", []byte(doc))
	if want := `sc.json: methodConfig[0].retryPolicy.initialBackoff: "1m" is not a duration: want decimal seconds with an s suffix, such as "1.5s"`; err == nil || err.Error() != want {
		t.Errorf("%s:\n got %v\nwant %s", doc, err, want)
	}
	if grpcTakes(t, doc) {
		t.Errorf("%s: grpc-go takes it", doc)
	}
}
