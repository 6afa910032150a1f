package codes_test

import (
	"fmt"

	"github.com/bulwarkrpc/bulwark/codes"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func ExampleClassifier_Classify() {
	// The OCR service answers an unreadable document with an ErrorInfo reason; whatever code
	// comes with it, it is a business answer: never retried, never a breaker failure.
	ocr, _ := codes.Default().With(codes.Overrides{
		Reasons: map[string]codes.Class{"DOCUMENT_UNREADABLE": codes.Business},
	})
	st, _ := status.New(grpccodes.InvalidArgument, "unreadable").
		WithDetails(&errdetails.ErrorInfo{Reason: "DOCUMENT_UNREADABLE", Domain: "ocr.kyc.example"})

	for _, err := range []error{
		status.Error(grpccodes.Unavailable, "connection refused"),
		st.Err(),
	} {
		v := ocr.Classify(err)
		fmt.Printf("%v: class=%v retry=%v breaker_failure=%v\n", v.Code, v.Class, v.Retryable(), v.Failure())
	}
	// Output:
	// Unavailable: class=transient retry=true breaker_failure=true
	// InvalidArgument: class=business retry=false breaker_failure=false
}
