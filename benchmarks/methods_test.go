//go:build !race

// The race detector changes what allocates (sync.Pool drops objects at random under -race, so
// the count varies by one between runs), so this count is checked without it, as
// interceptors/alloc_test.go is.

package benchmarks

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Issue 20: the per-call cost must not grow with the number of methods configured. With
// 10 000 methods of one service, a third of them sharing the service's retry policy, the
// policy's method map stopped storing names past 1024, and every call of a later method made
// its entry again: one allocation more per call than with one method.
func TestAllocsIndependentOfMethodsConfigured(t *testing.T) {
	srv := StartServer(1)
	defer srv.Stop()
	req := &kycv1.CompareRequest{Selfie: []byte("selfie"), DocumentFace: []byte("face")}
	allocs := map[int]float64{}
	for _, n := range []int{1, 10000} {
		cfg, extra := methodsConfig(n)
		m, err := promobs.New(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		s, err := interceptors.New(cfg, interceptors.WithBreakerRegistry(new(breaker.Registry)), interceptors.WithObserver(m))
		if err != nil {
			t.Fatal(err)
		}
		o, err := s.ServiceConfigOption("")
		if err != nil {
			t.Fatal(err)
		}
		cc, err := srv.Dial(Chain{Name: "suite", Unary: s.Unary(), Dial: []grpc.DialOption{o}}.DialOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		reply := new(kycv1.CompareResponse)
		for _, method := range extra {
			_ = cc.Invoke(context.Background(), method, req, reply)
		}
		client := kycv1.NewFaceMatchServiceClient(cc)
		ctx, cancel := context.WithTimeout(context.Background(), 60e9)
		call := func() {
			if _, err := client.Compare(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		for range warmCalls {
			call()
		}
		allocs[n] = testing.AllocsPerRun(2000, call)
		cancel()
		_ = cc.Close()
		_ = s.Close()
	}
	// bufconn's server share and grpc's background frames make the count vary by a fraction.
	if allocs[10000] > allocs[1]+0.5 {
		t.Fatalf("%.2f allocs per call with 10 000 methods configured, %.2f with one", allocs[10000], allocs[1])
	}
}
