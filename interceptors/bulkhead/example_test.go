package bulkhead_test

import (
	"context"
	"errors"
	"fmt"

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
