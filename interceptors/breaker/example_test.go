package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// The policy without gRPC: Allow, make the call, report its outcome with Done.
func Example() {
	clk := clocktest.New(time.Time{})
	b, err := breaker.New("kyc.v1.OCRService", breaker.Config{ConsecutiveFailures: 2, RecoveryTimeout: 10 * time.Second},
		breaker.WithClock(clk))
	if err != nil {
		panic(err)
	}
	ocrDown := status.Error(grpccodes.Unavailable, "ocr down")
	for i := range 3 {
		p, err := b.Allow()
		if err != nil {
			fmt.Printf("call %d rejected: %v, ErrOpen %v\n", i, status.Code(err), errors.Is(err, breaker.ErrOpen))
			continue
		}
		p.Done(ocrDown)
		fmt.Printf("call %d failed, breaker %v\n", i, b.State())
	}
	clk.Advance(10 * time.Second)
	fmt.Println("after the recovery timeout:", b.State())
	_ = b.Execute(func() error { return nil }) // The probe succeeds.
	fmt.Println("after a good probe:", b.State())
	// Output:
	// call 0 failed, breaker closed
	// call 1 failed, breaker open
	// call 2 rejected: Unavailable, ErrOpen true
	// after the recovery timeout: half_open
	// after a good probe: closed
}

// The registry interceptor on a connection: every connection that names the same service
// shares its breaker. Here an operator forced it open, so the call fails at once, without
// dialling, with a status that says which policy refused.
func ExampleUnaryClientInterceptor() {
	reg := new(breaker.Registry)
	cfg := breaker.Config{FailureRateThreshold: 0.5, WindowSize: 20}
	ic, err := breaker.UnaryClientInterceptor(cfg, breaker.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	cc, err := grpc.NewClient("passthrough:///ocr.invalid:443",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(ic),
	)
	if err != nil {
		panic(err)
	}
	defer cc.Close()

	ocr, _ := reg.Get("kyc.v1.OCRService", cfg) // The breaker the interceptor uses.
	ocr.ForceOpen()

	_, err = kycv1.NewOCRServiceClient(cc).Extract(context.Background(), &kycv1.ExtractRequest{})
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			fmt.Println(st.Code(), info.GetReason(), info.GetMetadata()["policy"], info.GetMetadata()["service"])
		}
	}
	// Output:
	// Unavailable CIRCUIT_OPEN breaker kyc.v1.OCRService
}

// Stats for metrics or an admin page.
func ExampleRegistry_Each() {
	reg := new(breaker.Registry)
	for _, svc := range []string{"kyc.v1.OCRService", "kyc.v1.FaceMatchService"} {
		if _, err := reg.Get(svc, breaker.Config{}); err != nil {
			panic(err)
		}
	}
	reg.Each(func(name string, b *breaker.Breaker) {
		st := b.Stats()
		fmt.Println(name, st.State, st.Calls, st.Rejections)
	})
	// Output:
	// kyc.v1.FaceMatchService closed 0 0
	// kyc.v1.OCRService closed 0 0
}

// Per-call options: WithCallClassifier counts one call's outcome with another classifier.
// Here a business error (InvalidArgument), which the breaker's classifier does not count,
// counts as a failure for the calls that say so. A construction Option (WithClock, …) passed
// to a call would not compile.
func ExampleWithCallClassifier() {
	b, err := breaker.New("kyc.v1.OCRService", breaker.Config{ConsecutiveFailures: 1})
	if err != nil {
		panic(err)
	}
	strict, err := codes.Default().With(codes.Overrides{Codes: map[grpccodes.Code]codes.Class{
		grpccodes.InvalidArgument: codes.ServerFault,
	}})
	if err != nil {
		panic(err)
	}
	unreadable := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.InvalidArgument, "unreadable document")
	}
	ic := b.Unary()
	const method = "/kyc.v1.OCRService/Extract"
	_ = ic(context.Background(), method, nil, nil, nil, unreadable)
	fmt.Println("after a business error:", b.State())
	_ = ic(context.Background(), method, nil, nil, nil, unreadable, breaker.WithCallClassifier(strict))
	fmt.Println("the same, counted strictly:", b.State())
	// Output:
	// after a business error: closed
	// the same, counted strictly: open
}
