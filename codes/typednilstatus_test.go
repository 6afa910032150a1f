package codes_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// valueStatusErr has GRPCStatus on its value: called through a nil pointer, Go panics.
type valueStatusErr struct{ code grpccodes.Code }

func (e valueStatusErr) Error() string              { return "value status" }
func (e valueStatusErr) GRPCStatus() *status.Status { return status.New(e.code, "value status") }

// pointerStatusErr's GRPCStatus dereferences its receiver.
type pointerStatusErr struct{ st *status.Status }

func (e *pointerStatusErr) Error() string              { return "pointer status" }
func (e *pointerStatusErr) GRPCStatus() *status.Status { return e.st }

// A nil pointer held in an error whose type has a GRPCStatus method is a typed nil like any
// other (TestTypedNilIsAnErrorOfUnknownKind): its GRPCStatus is not called, as it would
// dereference it; it holds no status, and is an error of unknown kind, server_fault Unknown.
// A status beside it in a join is classified as it is alone.
func TestTypedNilStatusErrorIsAnErrorOfUnknownKind(t *testing.T) {
	var (
		nilValue   *valueStatusErr
		nilPointer *pointerStatusErr
	)
	runTypedNilCases(t, []typedNilCase{
		{"nil pointer to a type with a value GRPCStatus", nilValue, codes.ServerFault, grpccodes.Unknown},
		{"nil pointer with a pointer GRPCStatus", nilPointer, codes.ServerFault, grpccodes.Unknown},
		{"wrapped", fmt.Errorf("ocr: %w", nilPointer), codes.ServerFault, grpccodes.Unknown},
		{"beside a status", errors.Join(nilValue, status.Error(grpccodes.InvalidArgument, "unreadable")), codes.Business, grpccodes.InvalidArgument},
		{"a non-nil one still decides", &pointerStatusErr{st: status.New(grpccodes.Unavailable, "down")}, codes.Transient, grpccodes.Unavailable},
	})
}
