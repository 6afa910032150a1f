package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/throttle"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// The policy without gRPC: Allow before a request, Record its outcome after.
func Example() {
	clk := clocktest.New(time.Time{})
	th, err := throttle.New("kyc.v1.OCRService", throttle.Config{K: 2, Window: time.Minute},
		throttle.WithClock(clk),
		throttle.WithRand(func() float64 { return 0.5 }), // A fixed draw, for a stable output.
	)
	if err != nil {
		panic(err)
	}
	overloaded := codes.Default().Classify(status.Error(grpccodes.ResourceExhausted, "ocr overloaded"))
	for range 3 {
		if th.Allow("/kyc.v1.OCRService/Extract") == nil {
			th.Record(overloaded)
		}
	}
	// Two requests reached the service and were turned away; the third was rejected locally
	// (p = 2/3 by then), and counts as a request too.
	r, a := th.Counts()
	fmt.Printf("%d requests, %d accepts: p = %.2f\n", r, a, th.Probability())

	err = th.Allow("/kyc.v1.OCRService/Extract")
	fmt.Println("next request:", status.Code(err), errors.Is(err, throttle.ErrThrottled))

	clk.Advance(time.Minute) // The window moves past the failures.
	fmt.Printf("a minute later: p = %.2f, allowed %v\n", th.Probability(), th.Allow("/kyc.v1.OCRService/Extract") == nil)
	// Output:
	// 3 requests, 0 accepts: p = 0.75
	// next request: Unavailable true
	// a minute later: p = 0.00, allowed true
}

// The interceptor on a connection. The throttle has seen the service turn every request away,
// so the call fails at once, without dialling, with a status that says which policy refused.
func ExampleThrottle_Unary() {
	th, err := throttle.New("kyc.v1.OCRService", throttle.Config{},
		throttle.WithRand(func() float64 { return 0 })) // Every draw rejects while p > 0.
	if err != nil {
		panic(err)
	}
	for range 10 {
		th.Record(codes.Verdict{Class: codes.Transient, Code: grpccodes.Unavailable})
	}
	cc, err := grpc.NewClient("passthrough:///ocr.invalid:443",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(th.Unary()),
		grpc.WithStreamInterceptor(th.Stream()),
	)
	if err != nil {
		panic(err)
	}
	defer cc.Close()

	_, err = kycv1.NewOCRServiceClient(cc).Extract(context.Background(), &kycv1.ExtractRequest{})
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			fmt.Println(st.Code(), info.GetReason(), info.GetMetadata()["policy"], info.GetMetadata()["service"])
		}
	}
	fmt.Printf("p = %.2f\n", th.Probability())
	// Output:
	// Unavailable ADAPTIVE_THROTTLE adaptive_throttle kyc.v1.OCRService
	// p = 0.90
}

// Per-call options: Disable takes one call out of a throttle that rejects everything else. A
// construction Option (WithClock, …) passed to a call would not compile.
func ExampleDisable() {
	ic, err := throttle.UnaryClientInterceptor("kyc.v1.OCRService", throttle.Config{MinRequests: 1},
		throttle.WithRand(func() float64 { return 0 })) // Every draw rejects while p > 0.
	if err != nil {
		panic(err)
	}
	// An invoker stands in for the service, which turns every request away.
	calls := 0
	down := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		calls++
		return status.Error(grpccodes.Unavailable, "down")
	}
	const method = "/kyc.v1.OCRService/Extract"
	for range 3 {
		_ = ic(context.Background(), method, nil, nil, nil, down)
	}
	fmt.Println("calls that reached the service:", calls)
	err = ic(context.Background(), method, nil, nil, nil, down, throttle.Disable())
	fmt.Println("with Disable:", status.Code(err), "calls:", calls)
	// Output:
	// calls that reached the service: 1
	// with Disable: Unavailable calls: 2
}
