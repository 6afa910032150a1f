package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func Example() {
	b, err := bulkhead.New("kyc.v1.OCRService", bulkhead.Config{MaxConcurrent: 2})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = b.Acquire(ctx)
	_ = b.Acquire(ctx)
	err = b.Acquire(ctx) // fails fast: MaxWait is 0
	st, _ := status.FromError(err)
	fmt.Println(errors.Is(err, bulkhead.ErrFull), st.Code())
	b.Release()
	fmt.Println(b.InFlight(), b.Available())
	b.Release()
	// Output:
	// true ResourceExhausted
	// 1 1
}

func ExampleBulkhead_Unary() {
	b, err := bulkhead.New("kyc.v1.OCRService", bulkhead.Config{MaxConcurrent: 8})
	if err != nil {
		panic(err)
	}
	cc, err := grpc.NewClient("passthrough:///ocr:443",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(b.Unary()),
		grpc.WithChainStreamInterceptor(b.Stream()),
	)
	if err != nil {
		panic(err)
	}
	defer cc.Close()
	fmt.Println(b.Capacity())
	// Output: 8
}

// Per-call options: WithMaxWait lets one call wait for a slot where the others fail fast
// (Config.MaxWait 0). A construction Option (WithClock, …) passed to a call would not compile.
func ExampleWithMaxWait() {
	clk := clocktest.New(time.Time{})
	ic, err := bulkhead.UnaryClientInterceptor("kyc.v1.OCRService", bulkhead.Config{MaxConcurrent: 1},
		bulkhead.WithClock(clk))
	if err != nil {
		panic(err)
	}
	const method = "/kyc.v1.OCRService/Extract"
	ok := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	release := make(chan struct{})
	held := make(chan struct{})
	go func() { // One call holds the only slot until released.
		_ = ic(context.Background(), method, nil, nil, nil,
			func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
				close(held)
				<-release
				return nil
			})
	}()
	<-held
	err = ic(context.Background(), method, nil, nil, nil, ok)
	fmt.Println("fail fast:", status.Code(err))

	done := make(chan error)
	go func() { done <- ic(context.Background(), method, nil, nil, nil, ok, bulkhead.WithMaxWait(time.Second)) }()
	clk.BlockUntil(1) // The call waits on its timer,
	close(release)    // and takes the slot when it frees.
	fmt.Println("with WithMaxWait:", status.Code(<-done))
	// Output:
	// fail fast: ResourceExhausted
	// with WithMaxWait: OK
}
