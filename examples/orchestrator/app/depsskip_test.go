package app

import (
	"context"
	"io"
	"testing"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestDependencyErrorSkipsWhatIsNoDependencyError: a caller's cancel, a business answer and a
// method of a service that is no dependency leave no last error and no log line; a stream
// that ends with io.EOF has ended well.
func TestDependencyErrorSkipsWhatIsNoDependencyError(t *testing.T) {
	d, logs := newOCRDepErrors()
	d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Canceled, "context canceled"), false)
	d.record(kycv1.OCRService_Extract_FullMethodName, context.Canceled, false)
	d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.InvalidArgument, "unreadable document"), false)
	d.record("/other.v1.Service/Call", status.Error(grpccodes.Unavailable, "down"), false)
	_ = (&recordingStream{ClientStream: eofStream{}, d: d, method: kycv1.OCRService_Extract_FullMethodName}).RecvMsg(nil)
	if snap := d.snapshot(); len(snap) != 0 {
		t.Errorf("last errors %v, want none", snap)
	}
	if n := logs.Len(); n != 0 {
		t.Errorf("%d log lines, want none: %v", n, logs.All()[0].ContextMap())
	}
}

// eofStream is a client stream whose every receive is its clean end.
type eofStream struct{ grpc.ClientStream }

func (eofStream) RecvMsg(any) error { return io.EOF }
