package fallback_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/bulwarkrpc/bulwark/section"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// A suite's fallback step for a method serves the reply given for that method, else the one
// given for every method of its service ("/<service>/*"), else the one given for its service.
func TestSectionBuildPicksTheReply(t *testing.T) {
	const (
		service    = "kyc.v1.FaceMatchService"
		anyMethod  = "/" + service + "/*"
		forMethod  = 0.1
		forAny     = 0.2
		forService = 0.3
	)
	replyOf := func(similarity float32) fallback.Reply {
		return fallback.Func(func(context.Context, string, any, error) proto.Message {
			return &kycv1.CompareResponse{Similarity: similarity}
		})
	}
	for _, tt := range []struct {
		name    string
		replies fallback.Replies
		want    float32
	}{
		{"method, any method and service", fallback.Replies{testkit.MethodCompare: replyOf(forMethod), anyMethod: replyOf(forAny), service: replyOf(forService)}, forMethod},
		{"any method and service", fallback.Replies{anyMethod: replyOf(forAny), service: replyOf(forService)}, forAny},
		{"any method alone", fallback.Replies{anyMethod: replyOf(forAny)}, forAny},
		{"service alone", fallback.Replies{service: replyOf(forService)}, forService},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sec, ok := section.Lookup("fallback")
			if !ok {
				t.Fatal("fallback section not registered")
			}
			env := &section.Env{Service: service, FullMethod: testkit.MethodCompare,
				Values: map[reflect.Type]any{reflect.TypeFor[fallback.Replies](): tt.replies}}
			b, err := sec.Build(env, &fallback.Config{})
			if err != nil {
				t.Fatalf("Build = %v", err)
			}
			got := &kycv1.CompareResponse{}
			if err := b.Object.(*fallback.Fallback).Recover(context.Background(), testkit.MethodCompare, nil, got,
				testkit.Status(grpccodes.Unavailable, "")); err != nil {
				t.Fatalf("Recover = %v, want the fallback served", err)
			}
			if got.GetSimilarity() != tt.want {
				t.Errorf("served similarity %v, want %v", got.GetSimilarity(), tt.want)
			}
		})
	}
}
