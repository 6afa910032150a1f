package config_test

import (
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
)

// TestServiceConfigBadValueNamesItsField: a duration or a status code a service config
// cannot hold is an *Error naming the file, the field's JSON path, the value as written and
// the rule, as every other invalid field of ParseServiceConfig is, and every such value of
// the document is reported. Before, the first one ended the decoding with one error naming
// neither the field nor the methodConfig ("not a gRPC service config: duration "1m": ...").
func TestServiceConfigBadValueNamesItsField(t *testing.T) {
	const doc = `{"methodConfig":[
  {"name":[{"service":"a.v1.S"}],"timeout":"1s"},
  {"name":[{"service":"b.v1.S"}],"timeout":"1m",
   "retryPolicy":{"maxAttempts":3,"initialBackoff":0.1,"maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE","unavailable",17],"perAttemptRecvTimeout":"--1s"}},
  {"name":[{"service":"c.v1.S"}],"hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"1.5","nonFatalStatusCodes":["BROKEN"]}}]}`
	_, _, err := config.ParseServiceConfig("sc.json", []byte(doc))
	want := []config.Error{
		{File: "sc.json", Path: "methodConfig[1].timeout", Value: `"1m"`, Rule: `is not a duration: want decimal seconds with an s suffix, such as "1.5s"`},
		{File: "sc.json", Path: "methodConfig[1].retryPolicy.initialBackoff", Value: `0.1`, Rule: `is not a duration: want a string of decimal seconds with an s suffix, such as "1.5s"`},
		{File: "sc.json", Path: "methodConfig[1].retryPolicy.retryableStatusCodes[1]", Value: `"unavailable"`, Rule: `is not a gRPC code name (did you mean "UNAVAILABLE"? gRPC takes a name only as it spells it)`},
		{File: "sc.json", Path: "methodConfig[1].retryPolicy.retryableStatusCodes[2]", Value: `17`, Rule: `is not a gRPC code (0 to 16)`},
		{File: "sc.json", Path: "methodConfig[1].retryPolicy.perAttemptRecvTimeout", Value: `"--1s"`, Rule: `is not a duration: want decimal seconds with an s suffix, such as "1.5s"`},
		{File: "sc.json", Path: "methodConfig[2].hedgingPolicy.hedgingDelay", Value: `"1.5"`, Rule: `is not a duration: want decimal seconds with an s suffix, such as "1.5s"`},
		{File: "sc.json", Path: "methodConfig[2].hedgingPolicy.nonFatalStatusCodes[0]", Value: `"BROKEN"`, Rule: `is not a gRPC code name (such as "UNAVAILABLE", as gRPC spells it)`},
	}
	got := fielderr.Flatten(err)
	if len(got) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i, e := range got {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Errorf("error %d: %v is not a *config.Error", i, e)
			continue
		}
		if *ce != want[i] {
			t.Errorf("error %d: %q\nwant        %q", i, ce.Error(), want[i].Error())
		}
	}
}
