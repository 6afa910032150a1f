package fallback_test

import (
	"context"
	"fmt"

	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func Example() {
	// From configuration: a reply in protobuf JSON, checked against the method's response type.
	f, err := fallback.New("/kyc.v1.OCRService/Extract", fallback.Config{
		ReplyJSON: `{"confidence": 0, "fields": {"documentNumber": "MANUAL_REVIEW"}}`,
	}, nil)
	if err != nil {
		panic(err)
	}
	reply := &kycv1.ExtractResponse{}
	err = f.Recover(context.Background(), "/kyc.v1.OCRService/Extract", nil, reply, status.Error(grpccodes.Unavailable, "down"))
	fmt.Println(err, reply.GetFields().GetDocumentNumber(), f.Served())

	// Business errors are the service's answer and are never replaced by default.
	err = f.Recover(context.Background(), "/kyc.v1.OCRService/Extract", nil, reply, status.Error(grpccodes.InvalidArgument, "unreadable"))
	fmt.Println(status.Code(err))
	// Output:
	// <nil> MANUAL_REVIEW 1
	// InvalidArgument
}

func ExampleFunc() {
	f, err := fallback.New("kyc.v1.FaceMatchService", fallback.Config{OnCodes: []string{"UNAVAILABLE"}},
		fallback.Func(func(ctx context.Context, method string, req any, err error) proto.Message {
			if method != "/kyc.v1.FaceMatchService/Compare" {
				return nil // no fallback: the error stands
			}
			return &kycv1.CompareResponse{Verdict: kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_UNSPECIFIED}
		}))
	if err != nil {
		panic(err)
	}
	reply := &kycv1.CompareResponse{}
	err = f.Recover(context.Background(), "/kyc.v1.FaceMatchService/Compare", nil, reply, status.Error(grpccodes.Unavailable, "down"))
	fmt.Println(err, reply.GetVerdict())
	// Output: <nil> FACE_MATCH_VERDICT_UNSPECIFIED
}

func ExampleUnaryClientInterceptor() {
	// The package-level form: name first, the rest as New; it returns New's error.
	ic, err := fallback.UnaryClientInterceptor("/kyc.v1.OCRService/Extract", fallback.Config{},
		fallback.Message(&kycv1.ExtractResponse{Confidence: 0}))
	if err != nil {
		panic(err)
	}
	// Plug it in with grpc.WithUnaryInterceptor(ic); here an invoker stands in for the service.
	down := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		return status.Error(grpccodes.Unavailable, "down")
	}
	reply := &kycv1.ExtractResponse{Confidence: 0.9}
	err = ic(context.Background(), "/kyc.v1.OCRService/Extract", &kycv1.ExtractRequest{}, reply, nil, down)
	fmt.Println(err, reply.GetConfidence())

	_, err = fallback.UnaryClientInterceptor("kyc.v1.OCRService/Extract", fallback.Config{}, nil)
	fmt.Println(err != nil)
	// Output:
	// <nil> 0
	// true
}
