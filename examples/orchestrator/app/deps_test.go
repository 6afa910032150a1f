package app

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A server's status message may quote the request: neither the dependency error's log line
// nor the summary's last error carries it, only its code and the address. grpc's own words
// for a connection that could not be made are kept (TestUnreachableDependencyNamed runs that
// case against a closed port).
func TestDependencyErrorLeavesOutTheServersMessage(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	d := newDepErrors(map[string]string{kyc.KeyOCR: "ocr.internal:443"}, func(string) *codes.Classifier { return codes.Default() }, zap.New(core))
	const pii = "SPECIMEN ALEX A12345678"
	d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Internal, "cannot normalise fields of "+pii))
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, pii) {
				t.Errorf("log line %q field %s carries the status message: %q", e.Message, k, s)
			}
		}
	}
	if last := d.snapshot()[kyc.KeyOCR]; last != "INTERNAL (ocr.internal:443)" {
		t.Errorf("summary last error %q, want the code and the address alone", last)
	}

	const refused = `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`
	d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Unavailable, refused))
	if last := d.snapshot()[kyc.KeyOCR]; last != "UNAVAILABLE: "+refused+" (ocr.internal:443)" {
		t.Errorf("summary last error %q, want grpc's words for the refused connection", last)
	}
}
