package app

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A dependency error is logged at warn the first time the dependency answers with it, not each
// time it differs from the one before: a service failing Unavailable and ResourceExhausted in
// turn (-fail unavailable=0.2,resource_exhausted=0.1) logged a line at nearly every failure.
// The summary's last error is still the last one.
func TestDependencyErrorLoggedOncePerError(t *testing.T) {
	d, logs := newOCRDepErrors()
	for range 5 {
		d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Unavailable, "down"), false)
		d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.ResourceExhausted, "busy"), false)
	}
	if n := logs.FilterMessage("dependency error").Len(); n != 2 {
		t.Errorf("%d \"dependency error\" lines for two errors in turn, want 2", n)
	}
	if last := d.snapshot()[kyc.KeyOCR]; last != "RESOURCE_EXHAUSTED (ocr.internal:443)" {
		t.Errorf("summary last error %q, want the last one", last)
	}
}

// The errors already logged are remembered up to a bound per dependency: grpc's own words may
// name a connection's ports, a new pair per connection.
func TestDependencyErrorMemoryBounded(t *testing.T) {
	d, _ := newOCRDepErrors()
	for i := range 10 * maxLoggedErrors {
		d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Code(1+i%16), "x"), false)
	}
	if n := len(d.logged[kyc.KeyOCR]); n > maxLoggedErrors {
		t.Errorf("%d errors remembered, want at most %d", n, maxLoggedErrors)
	}
}
