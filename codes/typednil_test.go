package codes_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// plainErr is an error type with no Unwrap: a nil one was always a plain error.
type plainErr struct{}

func (*plainErr) Error() string { return "plain" }

// A nil pointer held in an error (var e *url.Error; return e) is its producer's bug, but
// Classify must not panic on it: the standard library's Unwrap of a nil *url.Error,
// *net.OpError or *os.PathError dereferences it, and errors.As reached it before bulwark's own
// code did. A typed nil is an error of unknown kind, server_fault with code Unknown, as a nil
// of a type without Unwrap always was; what sits beside it in a join is classified as usual,
// and a nil *Rejection stays an unnamed rejection.
func TestTypedNilIsAnErrorOfUnknownKind(t *testing.T) {
	var (
		nilURL   *url.Error
		nilOp    *net.OpError
		nilPath  *os.PathError
		nilPlain *plainErr
		nilRej   *codes.Rejection
	)
	runTypedNilCases(t, []typedNilCase{
		{"nil *url.Error", nilURL, codes.ServerFault, grpccodes.Unknown},
		{"nil *url.Error, wrapped", fmt.Errorf("fetch: %w", nilURL), codes.ServerFault, grpccodes.Unknown},
		{"nil *net.OpError", nilOp, codes.ServerFault, grpccodes.Unknown},
		{"nil *os.PathError, wrapped", fmt.Errorf("open: %w", nilPath), codes.ServerFault, grpccodes.Unknown},
		{"nil of a type without Unwrap", nilPlain, codes.ServerFault, grpccodes.Unknown},
		{"nil *url.Error beside a status", errors.Join(nilURL, status.Error(grpccodes.InvalidArgument, "unreadable")), codes.Business, grpccodes.InvalidArgument},
		{"nil *url.Error beside a cancel", errors.Join(nilURL, context.Canceled), codes.Canceled, grpccodes.Canceled},
		{"nil *url.Error beside a refused dial", errors.Join(nilURL, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}), codes.Transient, grpccodes.Unavailable},
		{"nil *Rejection, wrapped", fmt.Errorf("x: %w", nilRej), codes.Rejected, grpccodes.Unavailable},
	})
}

// typedNilCase is one error handed to Classify and the class and code it must get.
type typedNilCase struct {
	name      string
	err       error
	wantClass codes.Class
	wantCode  grpccodes.Code
}

// runTypedNilCases classifies each case's error in a subtest: Classify must not panic, and
// must give the case's class and code.
func runTypedNilCases(t *testing.T, tests []typedNilCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v codes.Verdict
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("Classify(%T) panicked: %v", tt.err, p)
					}
				}()
				v = codes.Default().Classify(tt.err)
			}()
			if v.Class != tt.wantClass || v.Code != tt.wantCode {
				t.Fatalf("Classify(%T) = %v/%v, want %v/%v", tt.err, v.Class, v.Code, tt.wantClass, tt.wantCode)
			}
		})
	}
}
