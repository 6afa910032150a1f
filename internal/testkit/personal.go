package testkit

import (
	"context"
	"strings"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Personal stands for the personal data of a verification (a name, a date of birth, a document
// number): PersonalServer quotes it wherever a service could, and an observer's test looks
// for it in what the observer wrote.
const Personal = "PII-MARKER-DOE-1970"

// PersonalStatus is a status error of code that quotes Personal in its message and in each
// detail a service could fill: an ErrorInfo's metadata (its reason is the service's constant,
// as google.rpc.ErrorInfo wants), a BadRequest and a LocalizedMessage.
func PersonalStatus(code grpccodes.Code) error {
	st := status.New(code, "document number "+Personal+" unreadable")
	st, _ = st.WithDetails(
		&errdetails.ErrorInfo{Reason: "DOCUMENT_UNREADABLE", Domain: "kyc.example", Metadata: map[string]string{"document_number": Personal}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "document_number", Description: Personal}}},
		&errdetails.LocalizedMessage{Locale: "en-US", Message: "cannot read " + Personal},
	)
	return st.Err()
}

// PersonalServer returns a stub whose Compare and Extract answer PersonalStatus(Unavailable)
// and whose Check reads the frames and answers PersonalStatus(InvalidArgument); each sends
// Personal in a header and a trailer too.
func PersonalServer() *Server {
	quote := func(ctx context.Context) {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-applicant", Personal))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-document-number", Personal))
	}
	return &Server{
		CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
			quote(ctx)
			return nil, PersonalStatus(grpccodes.Unavailable)
		},
		ExtractF: func(ctx context.Context, _ int, _ *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
			quote(ctx)
			return nil, PersonalStatus(grpccodes.Unavailable)
		},
		CheckF: func(_ int, stream kycv1.LivenessService_CheckServer) error {
			quote(stream.Context())
			for {
				if _, err := stream.Recv(); err != nil {
					break
				}
			}
			return PersonalStatus(grpccodes.InvalidArgument)
		},
	}
}

// CallPersonal makes, through cc, the calls suitecfg.Personal's policies report on, each with
// Personal in its request and its metadata: three Compare calls (the third refused by the open
// breaker), one Extract (answered by the fallback) and one Check stream.
func CallPersonal(ctx context.Context, cc grpc.ClientConnInterface) {
	ctx = metadata.AppendToOutgoingContext(ctx, "x-applicant", Personal)
	img := []byte(strings.Repeat(Personal, 4))
	face := kycv1.NewFaceMatchServiceClient(cc)
	for range 3 {
		_, _ = face.Compare(ctx, &kycv1.CompareRequest{Selfie: img, DocumentFace: img})
	}
	_, _ = kycv1.NewOCRServiceClient(cc).Extract(ctx, &kycv1.ExtractRequest{DocumentImage: img})
	if s, err := kycv1.NewLivenessServiceClient(cc).Check(ctx); err == nil {
		_ = s.Send(&kycv1.CheckRequest{Image: img})
		_, _ = s.CloseAndRecv()
	}
}
