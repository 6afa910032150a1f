package interceptors_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// TestWithFallbackRefusesAMessageOfAnotherType: a Message that is not of the response type of
// the registered method it is given for can never be served. The suite refused it only for
// the methods whose chains New builds (a configured service's); a method of a service outside
// the configuration, under a default profile with a fallback, had its chain built on its first
// call, which failed with FailedPrecondition, as did every later call, answered or not.
func TestWithFallbackRefusesAMessageOfAnotherType(t *testing.T) {
	cfg := threeProfiles()
	cfg.Profiles[config.DefaultProfile] = config.Profile{Fallback: &fallback.Config{}}
	delete(cfg.Services, svcFaceMatch) // its methods' chains are built on their first call
	wrong := fallback.Message(&kycv1.CheckResponse{})
	for _, tt := range []struct {
		option string
		opt    interceptors.Option
	}{
		{"WithFallback", interceptors.WithFallback(testkit.MethodCompare, wrong)},
		{"WithValue(fallback.Replies)", interceptors.WithValue(fallback.Replies{testkit.MethodCompare: wrong})},
	} {
		t.Run(tt.option, func(t *testing.T) {
			s, err := interceptors.New(cfg, tt.opt)
			want := tt.option + `: "` + testkit.MethodCompare + `"`
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "kyc.v1.CheckResponse") {
				if s != nil {
					cc := testkit.Start(t, &testkit.Server{}).Dial(t, s.DialOptions()...)
					_, callErr := kycv1.NewFaceMatchServiceClient(cc).Compare(context.Background(), &kycv1.CompareRequest{})
					_ = s.Close()
					t.Fatalf("New = %v, then a call of a healthy service: %v; want New to fail with an error containing %q and naming the reply's type", err, callErr, want)
				}
				t.Fatalf("New = %v; want an error containing %q and naming the reply's type", err, want)
			}
		})
	}
	// A Message of the method's type is taken as before.
	s, err := interceptors.New(cfg, interceptors.WithFallback(testkit.MethodCompare, fallback.Message(&kycv1.CompareResponse{Similarity: 0.5})))
	if err != nil {
		t.Fatalf("a Message of the method's type: New = %v", err)
	}
	_ = s.Close()
}
