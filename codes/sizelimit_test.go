package codes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestMessageSizeLimitIsBusiness: a message over a size limit fails with ResourceExhausted,
// which the table reads as throttling: retried, and counted against the service's health.
// The same message fails again on every attempt, and the service is not overloaded (a reply
// over the client's receive limit would open the breaker of a healthy OCR service). The
// errors are grpc-go's own, made by real calls, so that a change of its wording shows here.
func TestMessageSizeLimitIsBusiness(t *testing.T) {
	const limit = 64
	big := strings.Repeat("x", 4*limit)
	srv := testkit.Start(t, &testkit.Server{
		ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
			return &kycv1.ExtractResponse{Fields: &kycv1.DocumentFields{DocumentNumber: big}}, nil
		},
	}, grpc.MaxRecvMsgSize(limit))
	cc := srv.Dial(t)
	ocr := kycv1.NewOCRServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	errs := map[string]error{}
	_, errs["request over the server's receive limit"] = ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: []byte(big)})
	_, errs["reply over the client's receive limit"] = ocr.Extract(ctx, &kycv1.ExtractRequest{}, grpc.MaxCallRecvMsgSize(limit))
	_, errs["request over the client's send limit"] = ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: []byte(big)}, grpc.MaxCallSendMsgSize(limit))

	overridden, err := codes.Default().With(codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.ResourceExhausted: codes.Transient}})
	if err != nil {
		t.Fatal(err)
	}
	for what, err := range errs {
		if status.Code(err) != grpccodes.ResourceExhausted {
			t.Fatalf("%s: %v, want ResourceExhausted", what, err)
		}
		for name, c := range map[string]*codes.Classifier{"default": codes.Default(), "ResourceExhausted overridden": overridden} {
			if v := c.Classify(err); v.Class != codes.Business || v.Code != grpccodes.ResourceExhausted || v.Retryable() || v.Failure() {
				t.Errorf("%s (%v), %s classifier: %+v, want business: not retried, not a failure", what, err, name, v)
			}
		}
	}

	// Quota exhaustion is what throttled is for, and an ErrorInfo reason's override still wins.
	if v := codes.Default().Classify(status.Error(grpccodes.ResourceExhausted, "quota exceeded")); v.Class != codes.Throttled {
		t.Errorf("quota exceeded: %v, want throttled", v.Class)
	}
	if v := overridden.Classify(status.Error(grpccodes.ResourceExhausted, "quota exceeded")); v.Class != codes.Transient {
		t.Errorf("quota exceeded, overridden: %v, want transient", v.Class)
	}
	for _, msg := range []string{
		"Received message larger than max (5000000 vs. 4194304)", // gRPC C core (Python, C++ services)
		"gRPC message exceeds maximum size 4194304: 5000000",     // grpc-java
	} {
		if v := codes.Default().Classify(status.Error(grpccodes.ResourceExhausted, msg)); v.Class != codes.Business {
			t.Errorf("%q: %v, want business", msg, v.Class)
		}
	}
}

// TestEveryGRPCGoSizeLimitWordingIsBusiness: each ResourceExhausted message grpc-go (v1.85's
// rpc_util.go and stream.go) writes for a message over a size limit is business. A message
// over 4 GiB fails on the sender before any limit is asked, with its own wording ("message too
// large"), which cannot be made in a test without 4 GiB of memory: it is written here as
// grpc-go formats it.
func TestEveryGRPCGoSizeLimitWordingIsBusiness(t *testing.T) {
	for _, msg := range []string{
		"grpc: message too large (4294967296 bytes)",                                                  // encode: sent over 4 GiB
		"trying to send message larger than max (5000000 vs. 4194304)",                                // stream: the send limit
		"grpc: received message larger than max (5000000 vs. 4194304)",                                // recvMsg
		"grpc: received message larger than max length allowed on current machine (5 vs. 4)",          // recvMsg, over maxInt
		"grpc: message after decompression larger than max (5000000 vs. 4194304)",                     // decompress, gzip
		"grpc: received message after decompression larger than max 4194304",                          // decompress, other codecs
		"call: rpc error: code = ResourceExhausted desc = grpc: message too large (4294967296 bytes)", // relayed in a server's message
	} {
		if v := codes.Default().Classify(status.Error(grpccodes.ResourceExhausted, msg)); v.Class != codes.Business || v.Retryable() || v.Failure() {
			t.Errorf("%q: %+v, want business", msg, v)
		}
	}
	// The same words under another code are not a size limit.
	if v := codes.Default().Classify(status.Error(grpccodes.Internal, "grpc: message too large (4294967296 bytes)")); v.Class != codes.ServerFault {
		t.Errorf("Internal, message too large: %v, want server_fault", v.Class)
	}
}
