package stub_test

import (
	"context"
	"fmt"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A test scripts the first two attempts of one request to fail, then reads the stub's count.
func Example() {
	s, err := stub.Start(context.Background(), stub.Config{Services: []string{stub.ServiceOCR}})
	if err != nil {
		panic(err)
	}
	defer s.Stop()
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	ocr := kycv1.NewOCRServiceClient(conn)

	ctx := metadata.AppendToOutgoingContext(context.Background(),
		stub.MDRequestID, "verification-1", stub.MDFailFirst, "2", stub.MDFailCode, "unavailable")
	for attempt := 1; attempt <= 3; attempt++ {
		_, err := ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: stub.DocumentImage(42, false)})
		fmt.Printf("attempt %d: %v\n", attempt, status.Code(err))
	}
	_, err = ocr.Extract(context.Background(), &kycv1.ExtractRequest{DocumentImage: stub.DocumentImage(42, true)})
	fmt.Println("unreadable:", status.Code(err))
	fmt.Println("counted Unavailable:", s.Requests(stub.MethodExtract, grpccodes.Unavailable))
	// Output:
	// attempt 1: Unavailable
	// attempt 2: Unavailable
	// attempt 3: OK
	// unreadable: InvalidArgument
	// counted Unavailable: 2
}
