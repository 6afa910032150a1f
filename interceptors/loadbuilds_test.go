package interceptors_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// nopLimiter is a fleet-wide limiter that always allows: the factory a redis section needs.
type nopLimiter struct{}

func (nopLimiter) Take(context.Context, time.Duration) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allowed: true}, nil
}

// FuzzLoadBuilds checks that a configuration file config.Parse accepts builds a suite: the
// parser's checks are the configuration's, and a file that passes them must not be refused
// later by New (a fleet-wide limiter's factory given). Whether a method exists is the
// program's to know, not the file's (see Config.CheckNames): a fallback's reply_json for a
// method the test binary does not link is New's to refuse, and such a file is not judged.
func FuzzLoadBuilds(f *testing.F) {
	for _, name := range []string{"../config/examples/kyc.yaml", "../config/examples/strict.yaml", "../config/builtin.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"profiles:\n  p:\n    rate_limit: {rate: 5, shared: a}\n    hedge: {window: 10, min_samples: 10}\nservices:\n  a.v1.S:\n    profile: p\n    methods:\n      M: {rate_limit: {burst: 3}}\n",
		"profiles:\n  p:\n    rate_limit:\n      rate: 10\n      redis: {addr: \"r:6379\"}\n    bulkhead: {adaptive: {algorithm: vegas}}\nservices:\n  a.v1.S: {profile: p}\n",
		"services:\n  kyc.v1.OCRService:\n    retry: False\n    breaker: {consecutive_failures: 3}\n---\n",
	} {
		f.Add([]byte(s))
	}
	factory := ratelimit.RemoteFactory(func(string, ratelimit.Config, ratelimit.RemoteEnv) (ratelimit.Limiter, io.Closer, error) {
		return nopLimiter{}, nil, nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := config.Parse("fuzz.yaml", data)
		if err != nil || !replyMethodsLinked(cfg) {
			return
		}
		s, err := interceptors.New(cfg, interceptors.WithRemoteLimiter(factory))
		if err != nil {
			t.Fatalf("Parse accepts the file, New refuses it: %v", err)
		}
		defer func() {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}()
		checkPolicies(t, s, cfg)
		// The file it was built from reloads, and so does it over another configuration.
		if err := s.Reload(cfg); err != nil {
			t.Fatalf("a suite built from the file refuses to reload it: %v", err)
		}
		if err := s.Reload(config.Builtin()); err != nil {
			t.Fatalf("a suite built from the file refuses to reload the builtin configuration: %v", err)
		}
		if err := s.Reload(cfg); err != nil {
			t.Fatalf("a suite reloaded with the builtin configuration refuses the file: %v", err)
		}
		checkPolicies(t, s, cfg)
	})
}

// replyMethodsLinked reports whether every method cfg gives a fallback reply_json for is a
// method of a service in the protobuf registry, whose response type the reply decodes into.
func replyMethodsLinked(cfg *config.Config) bool {
	for _, p := range cfg.Policies() {
		if p.Method == "" || p.Fallback == nil || p.Fallback.ReplyJSON == "" {
			continue
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(p.Service))
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if err != nil || !ok || sd.Methods().ByName(protoreflect.Name(p.Method)) == nil {
			return false
		}
	}
	return true
}

// checkPolicies checks that s enforces what cfg says for each method and each service cfg
// names, and for a method no configuration names.
func checkPolicies(t *testing.T, s *interceptors.Suite, cfg *config.Config) {
	t.Helper()
	methods := []string{"/fuzz.v1.Unnamed/M"}
	for _, svc := range cfg.ServiceNames() {
		methods = append(methods, "/"+svc+"/UnnamedMethod")
		for _, m := range cfg.MethodNames(svc) {
			methods = append(methods, "/"+svc+"/"+m)
		}
	}
	for _, fm := range methods {
		if got, want := s.Policy(fm), cfg.Resolve(fm); !got.Equal(want) {
			t.Fatalf("Policy(%q) = %+v, want %+v as the file says", fm, got, want)
		}
	}
}

// FuzzServiceConfigBuilds checks that a gRPC service config config.ParseServiceConfig accepts
// builds a suite that enforces what the converted configuration says for each method and
// service it names.
func FuzzServiceConfigBuilds(f *testing.F) {
	for _, s := range []string{
		`{"methodConfig":[{"name":[{"service":"kyc.v1.OCRService"}],"timeout":"1s","retryPolicy":{"maxAttempts":4,"initialBackoff":"0.1s","maxBackoff":"1s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`,
		`{"retryThrottling":{"maxTokens":10,"tokenRatio":0.1},"methodConfig":[{"name":[{}],"hedgingPolicy":{"maxAttempts":3,"hedgingDelay":"0.5s","nonFatalStatusCodes":["UNAVAILABLE"]}}]}`,
		`{"methodConfig":[{"name":[{"service":"a.v1.S","method":"M"},{"service":"a.v1.S"}],"timeout":"0s"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := config.ParseServiceConfig("sc.json", data)
		if err != nil {
			return
		}
		s, err := interceptors.New(cfg)
		if err != nil {
			t.Fatalf("ParseServiceConfig accepts the file, New refuses it: %v", err)
		}
		defer func() {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}()
		checkPolicies(t, s, cfg)
	})
}
