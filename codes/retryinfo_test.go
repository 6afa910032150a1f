package codes_test

import (
	"fmt"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// rawDetail returns an Unavailable status error with one detail of type url holding value,
// which need not parse.
func rawDetail(url string, value []byte) error {
	return status.FromProto(&spb.Status{
		Code:    int32(grpccodes.Unavailable),
		Message: "x",
		Details: []*anypb.Any{{TypeUrl: url, Value: value}},
	}).Err()
}

// A RetryInfo detail that does not parse is the server's word about retrying that cannot be
// read: a request to stop, as an unparseable trailer (gRFC A6) and an invalid RetryInfo delay
// are, not a retry at the client's own pace. A detail of another type that does not parse
// says nothing about retrying.
func TestUnparseableRetryInfoStops(t *testing.T) {
	const retryInfo = "type.googleapis.com/google.rpc.RetryInfo"
	tests := []struct {
		name string
		err  error
		want codes.Pushback
	}{
		{name: "truncated wire data", err: rawDetail(retryInfo, []byte{0xff}), want: codes.Pushback{Stop: true}},
		{name: "retry_delay that does not parse", err: rawDetail(retryInfo, []byte{0x0a, 0x02, 0x08}), want: codes.Pushback{Stop: true}},
		{name: "wrapped", err: fmt.Errorf("ocr: %w", rawDetail(retryInfo, []byte{0xff})), want: codes.Pushback{Stop: true}},
		{name: "an ErrorInfo that does not parse", err: rawDetail("type.googleapis.com/google.rpc.ErrorInfo", []byte{0xff})},
		{name: "a detail of an unknown type", err: rawDetail("type.googleapis.com/acme.v1.Unknown", []byte{0x08, 0x01})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := codes.Default().Classify(tt.err)
			if v.Class != codes.Transient || v.Code != grpccodes.Unavailable {
				t.Errorf("Classify = %v %v, want transient Unavailable", v.Class, v.Code)
			}
			if v.Pushback != tt.want {
				t.Errorf("Pushback = %+v, want %+v", v.Pushback, tt.want)
			}
			if want := !tt.want.Stop; v.Retryable() != want {
				t.Errorf("Retryable = %v, want %v", v.Retryable(), want)
			}
		})
	}
}
