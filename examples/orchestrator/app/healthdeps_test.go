package app

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestDependencyHealthFollowsItsBreaker: a dependency's health entry is NOT_SERVING while its
// breaker rejects every call, an operator's ForceOpen as much as an automatic opening, and
// SERVING while it is closed.
func TestDependencyHealthFollowsItsBreaker(t *testing.T) {
	breakers := new(breaker.Registry)
	ocr, err := breakers.Get(kycv1.OCRService_Extract_FullMethodName, breaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := breakers.Get(kycv1.FaceMatchService_Compare_FullMethodName, breaker.Config{}); err != nil {
		t.Fatal(err)
	}
	ocr.ForceOpen()
	hs := health.NewServer()
	stop := watchDependencies(hs, breakers) // sets every entry before it returns
	defer stop()
	for svc, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{
		kycv1.OCRService_ServiceDesc.ServiceName:       healthpb.HealthCheckResponse_NOT_SERVING,
		kycv1.FaceMatchService_ServiceDesc.ServiceName: healthpb.HealthCheckResponse_SERVING,
		kycv1.LivenessService_ServiceDesc.ServiceName:  healthpb.HealthCheckResponse_SERVING,
	} {
		r, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.GetStatus() != want {
			t.Errorf("%s: %v %v, want %v", svc, r.GetStatus(), err, want)
		}
	}
}
