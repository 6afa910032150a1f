package codes_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The caller's cancel and a deadline's expiry joined: the first row of the table that matches
// decides, and Canceled comes before DeadlineExceeded.
func TestCanceledWinsOverDeadlineExceededInAJoin(t *testing.T) {
	for _, err := range []error{
		errors.Join(context.Canceled, context.DeadlineExceeded),
		errors.Join(context.DeadlineExceeded, context.Canceled),
	} {
		v := codes.Default().Classify(err)
		if v.Class != codes.Canceled || v.Code != grpccodes.Canceled {
			t.Errorf("Classify(%q) = %v %v, want canceled Canceled", err, v.Class, v.Code)
		}
	}
}

// A Rejection whose Code is unset reaches the caller as Unavailable (its GRPCStatus): its
// verdict says the same code, and carries no pushback when RetryAfter is unset.
func TestRejectionWithoutCodeOrRetryAfter(t *testing.T) {
	r := &codes.Rejection{Reason: "CIRCUIT_OPEN"}
	v := codes.Default().Classify(r)
	if v.Class != codes.Rejected || v.Code != grpccodes.Unavailable || v.Code != status.Code(r) {
		t.Errorf("Classify = %v %v, want rejected %v (status.Code reads %v)", v.Class, v.Code, grpccodes.Unavailable, status.Code(r))
	}
	if v.Pushback != (codes.Pushback{}) {
		t.Errorf("Pushback = %+v, want none: the rejection set no RetryAfter", v.Pushback)
	}
}

// A RetryInfo delay that is no valid google.protobuf.Duration (seconds and nanos of opposite
// signs, nanos out of range) is read as a request to stop, as a malformed trailer is.
func TestInvalidRetryInfoDelayStops(t *testing.T) {
	for _, d := range []*durationpb.Duration{
		{Seconds: 1, Nanos: -5},
		{Seconds: 0, Nanos: 1_000_000_000},
	} {
		st, err := status.New(grpccodes.Unavailable, "x").WithDetails(&errdetails.RetryInfo{RetryDelay: d})
		if err != nil {
			t.Fatal(err)
		}
		v := codes.Default().Classify(st.Err())
		if v.Pushback != (codes.Pushback{Stop: true}) || v.Retryable() {
			t.Errorf("RetryInfo %v: Pushback = %+v, Retryable = %v; want a stop, not retryable", d, v.Pushback, v.Retryable())
		}
	}
}
