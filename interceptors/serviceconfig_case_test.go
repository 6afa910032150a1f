package interceptors_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// grpc-go reads a service config's JSON with encoding/json into structs without tags, so its
// field names match case-insensitively ("Service", "Timeout" and "MethodConfig" are what
// "service", "timeout" and "methodConfig" are), and a null is the zero value: a methodConfig
// of null is none (what json.Marshal writes for a nil slice of a program's own struct), a
// method config of null names no method, a name of null is {}, every method, and a timeout of
// null is none. ServiceConfig must read a base as grpc does: a base grpc accepts must give a
// config grpc accepts, and a timeout of the base must win.
func TestServiceConfigBaseAsGRPCReadsIt(t *testing.T) {
	cfg := &config.Config{
		Budget:   8 * time.Second,
		Profiles: map[string]config.Profile{"ml": {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "ml"}},
	}
	s := suiteOf(t, cfg)
	const m = "/" + svcFaceMatch + "/Compare"
	r := manual.NewBuilderWithScheme("review")
	cc, err := grpc.NewClient(r.Scheme()+":///x", grpc.WithResolvers(r), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	// apply gives cc the service config sc, as grpc parses it; it fails t when grpc refuses it.
	apply := func(what, sc string) {
		t.Helper()
		pr := r.CC().ParseServiceConfig(sc)
		if pr.Err != nil {
			t.Fatalf("grpc refuses %s %s: %v", what, sc, pr.Err)
		}
		r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: "x.invalid:1"}}, ServiceConfig: pr})
	}
	timeout := func() time.Duration {
		if mc := cc.GetMethodConfig(m); mc.Timeout != nil {
			return *mc.Timeout
		}
		return 0
	}

	for _, tt := range []struct {
		name, base string
		want       time.Duration // grpc's timeout for Compare under ServiceConfig(base)
	}{
		{"method named with capitalised keys", `{"methodConfig":[{"name":[{"Service":"kyc.v1.FaceMatchService","Method":"Compare"}],"waitForReady":true}]}`, 5 * time.Second},
		{"service's timeout with a capitalised key", `{"methodConfig":[{"name":[{"service":"kyc.v1.FaceMatchService"}],"Timeout":"3s"}]}`, 3 * time.Second},
		{"capitalised methodConfig", `{"MethodConfig":[{"name":[{"service":"kyc.v1.FaceMatchService"}],"timeout":"3s"}]}`, 3 * time.Second},
		{"methodConfig null", `{"loadBalancingConfig":[{"round_robin":{}}],"methodConfig":null}`, 5 * time.Second},
		{"a method config null", `{"methodConfig":[null,{"name":[{"service":"kyc.v1.OCRService"}],"waitForReady":true}]}`, 5 * time.Second},
		{"a name null: every method's timeout", `{"methodConfig":[{"name":[null],"timeout":"3s"}]}`, 3 * time.Second},
		{"a timeout null: none", `{"methodConfig":[{"name":[{"service":"kyc.v1.FaceMatchService"}],"timeout":null,"waitForReady":true}]}`, 5 * time.Second},
		{"the method's own timeout null: none", `{"methodConfig":[{"name":[{"service":"kyc.v1.FaceMatchService","method":"Compare"}],"timeout":null}]}`, 5 * time.Second},
	} {
		apply("the base", tt.base)
		got, err := s.ServiceConfig(tt.base)
		if err != nil {
			t.Errorf("%s: grpc accepts the base, ServiceConfig refuses it: %v", tt.name, err)
			continue
		}
		pr := r.CC().ParseServiceConfig(got)
		if pr.Err != nil {
			t.Errorf("%s: grpc accepts the base but refuses ServiceConfig(base) = %s: %v", tt.name, got, pr.Err)
			continue
		}
		apply("ServiceConfig(base)", got)
		if d := timeout(); d != tt.want {
			t.Errorf("%s: grpc's timeout for Compare under ServiceConfig(base) = %s is %v, want %v", tt.name, got, d, tt.want)
		}
	}
}

// A key written twice but for case is one key to grpc, which takes the later in the text: a
// map does not keep the order, so the suite refuses such a base rather than guess.
func TestServiceConfigBaseKeyTwiceRefused(t *testing.T) {
	s := suiteOf(t, &config.Config{Profiles: map[string]config.Profile{"ml": {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "ml"}}})
	_, err := s.ServiceConfig(`{"methodConfig":[{"name":[{"service":"kyc.v1.FaceMatchService"}],"timeout":"1s","Timeout":"2s"}]}`)
	if err == nil || !strings.Contains(err.Error(), `methodConfig[0] has "Timeout" and "timeout"`) {
		t.Fatalf("ServiceConfig = %v, want the two spellings named", err)
	}
}
