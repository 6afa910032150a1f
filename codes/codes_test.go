package codes_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDefaultTableCoversEveryCode(t *testing.T) {
	tests := []struct {
		code          grpccodes.Code
		wantClass     codes.Class
		wantRetryable bool
		wantFailure   bool
		wantIgnored   bool
	}{
		{grpccodes.OK, codes.Success, false, false, false},
		{grpccodes.Canceled, codes.Canceled, false, false, true},
		{grpccodes.Unknown, codes.ServerFault, false, true, false},
		{grpccodes.InvalidArgument, codes.Business, false, false, false},
		{grpccodes.DeadlineExceeded, codes.Transient, true, true, false},
		{grpccodes.NotFound, codes.Business, false, false, false},
		{grpccodes.AlreadyExists, codes.Business, false, false, false},
		{grpccodes.PermissionDenied, codes.Business, false, false, false},
		{grpccodes.ResourceExhausted, codes.Throttled, true, true, false},
		{grpccodes.FailedPrecondition, codes.Business, false, false, false},
		{grpccodes.Aborted, codes.Transient, true, true, false},
		{grpccodes.OutOfRange, codes.Business, false, false, false},
		{grpccodes.Unimplemented, codes.Business, false, false, false},
		{grpccodes.Internal, codes.ServerFault, false, true, false},
		{grpccodes.Unavailable, codes.Transient, true, true, false},
		{grpccodes.DataLoss, codes.ServerFault, false, true, false},
		{grpccodes.Unauthenticated, codes.Business, false, false, false},
	}
	if len(tests) != 17 {
		t.Fatalf("table has %d codes, want all 17", len(tests))
	}
	c := codes.Default()
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			var err error
			if tt.code != grpccodes.OK {
				err = status.Error(tt.code, "x")
			}
			v := c.Classify(err)
			if v.Class != tt.wantClass || v.Code != tt.code {
				t.Fatalf("Classify(%v) = %v/%v, want %v/%v", tt.code, v.Class, v.Code, tt.wantClass, tt.code)
			}
			if got := v.Retryable(); got != tt.wantRetryable {
				t.Errorf("Retryable = %v, want %v", got, tt.wantRetryable)
			}
			if got := v.Failure(); got != tt.wantFailure {
				t.Errorf("Failure = %v, want %v", got, tt.wantFailure)
			}
			if got := v.Class.Ignored(); got != tt.wantIgnored {
				t.Errorf("Ignored = %v, want %v", got, tt.wantIgnored)
			}
			if got := c.ClassOf(tt.code); got != tt.wantClass {
				t.Errorf("ClassOf = %v, want %v", got, tt.wantClass)
			}
		})
	}
	if got := c.ClassOf(grpccodes.Code(99)); got != codes.ServerFault {
		t.Errorf("ClassOf(99) = %v, want server_fault", got)
	}
}

func withDetails(t *testing.T, code grpccodes.Code, details ...*errdetails.ErrorInfo) error {
	t.Helper()
	st := status.New(code, "x")
	for _, d := range details {
		var err error
		if st, err = st.WithDetails(d); err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

func TestReasonOverridesCode(t *testing.T) {
	kyc, err := codes.Default().With(codes.Overrides{
		Reasons: map[string]codes.Class{"DOCUMENT_UNREADABLE": codes.Business, "MODEL_WARMING_UP": codes.Transient},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		c          *codes.Classifier
		err        error
		wantClass  codes.Class
		wantReason string
	}{
		{"unreadable as Internal is business", kyc, withDetails(t, grpccodes.Internal, &errdetails.ErrorInfo{Reason: "DOCUMENT_UNREADABLE", Domain: "ocr"}), codes.Business, "DOCUMENT_UNREADABLE"},
		{"unreadable as Unavailable is business", kyc, withDetails(t, grpccodes.Unavailable, &errdetails.ErrorInfo{Reason: "DOCUMENT_UNREADABLE"}), codes.Business, "DOCUMENT_UNREADABLE"},
		{"warming up as FailedPrecondition is transient", kyc, withDetails(t, grpccodes.FailedPrecondition, &errdetails.ErrorInfo{Reason: "MODEL_WARMING_UP"}), codes.Transient, "MODEL_WARMING_UP"},
		{"unknown reason keeps the code's class", kyc, withDetails(t, grpccodes.Unavailable, &errdetails.ErrorInfo{Reason: "OTHER"}), codes.Transient, "OTHER"},
		{"default classifier has no reason overrides", codes.Default(), withDetails(t, grpccodes.Internal, &errdetails.ErrorInfo{Reason: "DOCUMENT_UNREADABLE"}), codes.ServerFault, "DOCUMENT_UNREADABLE"},
		{"bulwark domain is rejected", codes.Default(), withDetails(t, grpccodes.Unavailable, &errdetails.ErrorInfo{Reason: "CIRCUIT_OPEN", Domain: codes.Domain}), codes.Rejected, "CIRCUIT_OPEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.c.Classify(tt.err)
			if v.Class != tt.wantClass || v.Reason != tt.wantReason {
				t.Fatalf("got %v %q, want %v %q", v.Class, v.Reason, tt.wantClass, tt.wantReason)
			}
		})
	}
}

func TestCodeOverrides(t *testing.T) {
	c, err := codes.Default().With(codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Internal: codes.Transient}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Classify(status.Error(grpccodes.Internal, "x")).Class; got != codes.Transient {
		t.Fatalf("overridden Internal = %v, want transient", got)
	}
	if got := codes.Default().Classify(status.Error(grpccodes.Internal, "x")).Class; got != codes.ServerFault {
		t.Fatalf("With changed the default classifier: %v", got)
	}
	// Overrides stack: a derived classifier keeps its parent's reasons.
	r1, _ := codes.Default().With(codes.Overrides{Reasons: map[string]codes.Class{"A": codes.Business}})
	r2, _ := r1.With(codes.Overrides{Reasons: map[string]codes.Class{"B": codes.Business}})
	for _, reason := range []string{"A", "B"} {
		if got := r2.Classify(withDetails(t, grpccodes.Unavailable, &errdetails.ErrorInfo{Reason: reason})).Class; got != codes.Business {
			t.Errorf("reason %s = %v, want business", reason, got)
		}
	}
}

func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		name    string
		o       codes.Overrides
		wantErr string
	}{
		{"unknown code", codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Code(40): codes.Business}}, "codes: override for unknown code Code(40)"},
		// The first code past the canonical 17: one past the table's end, an error, not a panic.
		{"first code past Unauthenticated", codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Unauthenticated + 1: codes.Business}}, "codes: override for unknown code Code(17)"},
		{"invalid class for code", codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.Internal: codes.Class(42)}}, "codes: override for Internal has invalid class class(42)"},
		{"empty reason", codes.Overrides{Reasons: map[string]codes.Class{"": codes.Business}}, "codes: reason override with an empty reason"},
		// OK is every successful call's code (Classify(nil) is always success): a class for it
		// would hold for an OK status and not for a nil error.
		{"OK", codes.Overrides{Codes: map[grpccodes.Code]codes.Class{grpccodes.OK: codes.Transient}}, "codes: OK cannot be overridden: it is the code of every success"},
		{"invalid class for reason", codes.Overrides{Reasons: map[string]codes.Class{"X": codes.Class(9)}}, "codes: override for reason X has invalid class class(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := codes.Default().With(tt.o)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestPushback(t *testing.T) {
	retryInfo := func(d time.Duration) error {
		st, _ := status.New(grpccodes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
		return st.Err()
	}
	tests := []struct {
		name          string
		err           error
		trailer       metadata.MD
		wantPushback  codes.Pushback
		wantRetryable bool
	}{
		{"none", status.Error(grpccodes.Unavailable, "x"), nil, codes.Pushback{}, true},
		{"retry info", retryInfo(1500 * time.Millisecond), nil, codes.Pushback{Delay: 1500 * time.Millisecond, Set: true}, true},
		{"trailer", status.Error(grpccodes.Unavailable, "x"), metadata.Pairs(codes.PushbackKey, "250"), codes.Pushback{Delay: 250 * time.Millisecond, Set: true}, true},
		{"trailer zero", status.Error(grpccodes.Unavailable, "x"), metadata.Pairs(codes.PushbackKey, "0"), codes.Pushback{Delay: 0, Set: true}, true},
		{"trailer negative stops", status.Error(grpccodes.Unavailable, "x"), metadata.Pairs(codes.PushbackKey, "-1"), codes.Pushback{Stop: true}, false},
		{"trailer malformed stops", status.Error(grpccodes.Unavailable, "x"), metadata.Pairs(codes.PushbackKey, "soon"), codes.Pushback{Stop: true}, false},
		{"trailer float stops", status.Error(grpccodes.Unavailable, "x"), metadata.Pairs(codes.PushbackKey, "1.5"), codes.Pushback{Stop: true}, false},
		{"trailer twice stops", status.Error(grpccodes.Unavailable, "x"), metadata.MD{codes.PushbackKey: {"1", "2"}}, codes.Pushback{Stop: true}, false},
		{"trailer huge stops", status.Error(grpccodes.Unavailable, "x"), metadata.Pairs(codes.PushbackKey, "99999999999999999"), codes.Pushback{Stop: true}, false},
		{"trailer max int32 is capped", status.Error(grpccodes.Unavailable, "x"), metadata.Pairs(codes.PushbackKey, "2147483647"), codes.Pushback{Delay: 24 * time.Hour, Set: true}, true},
		{"longer of both wins", retryInfo(time.Second), metadata.Pairs(codes.PushbackKey, "3000"), codes.Pushback{Delay: 3 * time.Second, Set: true}, true},
		{"longer of both wins (retry info)", retryInfo(5 * time.Second), metadata.Pairs(codes.PushbackKey, "3000"), codes.Pushback{Delay: 5 * time.Second, Set: true}, true},
		{"stop wins over retry info", retryInfo(time.Second), metadata.Pairs(codes.PushbackKey, "x"), codes.Pushback{Stop: true}, false},
		{"negative retry info stops", retryInfo(-time.Second), nil, codes.Pushback{Stop: true}, false},
		// A zero RetryInfo delay asks for a retry at once, as a "0" trailer does: not a stop.
		{"zero retry info", retryInfo(0), nil, codes.Pushback{Delay: 0, Set: true}, true},
		// A stop wins whichever of the two says it: RetryInfo's here, beside a valid trailer.
		{"retry info stop wins over trailer", retryInfo(-time.Second), metadata.Pairs(codes.PushbackKey, "250"), codes.Pushback{Stop: true}, false},
		{"other trailers ignored", status.Error(grpccodes.Unavailable, "x"), metadata.Pairs("x-other", "1"), codes.Pushback{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := codes.Default().ClassifyTrailer(tt.err, tt.trailer)
			if v.Pushback != tt.wantPushback {
				t.Fatalf("Pushback = %+v, want %+v", v.Pushback, tt.wantPushback)
			}
			if v.Retryable() != tt.wantRetryable {
				t.Fatalf("Retryable = %v, want %v", v.Retryable(), tt.wantRetryable)
			}
			wantDelay := time.Duration(0)
			if tt.wantPushback.Set {
				wantDelay = tt.wantPushback.Delay
			}
			if v.Delay() != wantDelay {
				t.Fatalf("Delay = %v, want %v", v.Delay(), wantDelay)
			}
		})
	}
}

// TestPushbackStrictA6Format is the regression test of issue 17 item 5: "+5", "007" and values
// above int32 were accepted, and 2147483648 became a 24 h wait. A6's format is a non-negative
// decimal int32; anything else means do not retry.
func TestPushbackStrictA6Format(t *testing.T) {
	tests := []struct {
		in   string
		want codes.Pushback
	}{
		{"0", codes.Pushback{Set: true}},
		{"5", codes.Pushback{Delay: 5 * time.Millisecond, Set: true}},
		{"1000", codes.Pushback{Delay: time.Second, Set: true}},
		{"86400000", codes.Pushback{Delay: 24 * time.Hour, Set: true}},
		{"2147483647", codes.Pushback{Delay: 24 * time.Hour, Set: true}},
		{"2147483648", codes.Pushback{Stop: true}},
		{"4294967296", codes.Pushback{Stop: true}},
		{"9223372036854775808", codes.Pushback{Stop: true}},
		{"+5", codes.Pushback{Stop: true}},
		{"007", codes.Pushback{Stop: true}},
		{"00", codes.Pushback{Stop: true}},
		{"-0", codes.Pushback{Stop: true}},
		{" 5", codes.Pushback{Stop: true}},
		{"5 ", codes.Pushback{Stop: true}},
		{"", codes.Pushback{Stop: true}},
		{"1_000", codes.Pushback{Stop: true}},
		{"0x10", codes.Pushback{Stop: true}},
		{"١٢", codes.Pushback{Stop: true}},
	}
	for _, tt := range tests {
		if got := codes.ParsePushbackValue(tt.in); got != tt.want {
			t.Errorf("ParsePushbackValue(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

type netErr struct{}

func (netErr) Error() string   { return "net" }
func (netErr) Timeout() bool   { return true }
func (netErr) Temporary() bool { return true }

func TestNonStatusErrors(t *testing.T) {
	rej := &codes.Rejection{Err: errors.New("full"), Code: grpccodes.ResourceExhausted, Reason: "BULKHEAD_FULL", Policy: "bulkhead", Service: "s"}
	tests := []struct {
		name      string
		err       error
		wantClass codes.Class
		wantCode  grpccodes.Code
	}{
		{"nil", nil, codes.Success, grpccodes.OK},
		{"canceled", context.Canceled, codes.Canceled, grpccodes.Canceled},
		{"wrapped canceled", fmt.Errorf("call: %w", context.Canceled), codes.Canceled, grpccodes.Canceled},
		{"deadline", context.DeadlineExceeded, codes.Transient, grpccodes.DeadlineExceeded},
		{"eof", io.EOF, codes.Transient, grpccodes.Unavailable},
		{"unexpected eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), codes.Transient, grpccodes.Unavailable},
		{"conn refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, codes.Transient, grpccodes.Unavailable},
		{"conn reset", syscall.ECONNRESET, codes.Transient, grpccodes.Unavailable},
		{"net.Error", netErr{}, codes.Transient, grpccodes.Unavailable},
		{"closed", net.ErrClosed, codes.Transient, grpccodes.Unavailable},
		{"wrapped status", fmt.Errorf("layer: %w", status.Error(grpccodes.InvalidArgument, "bad")), codes.Business, grpccodes.InvalidArgument},
		{"rejection", rej, codes.Rejected, grpccodes.ResourceExhausted},
		{"wrapped rejection", fmt.Errorf("x: %w", rej), codes.Rejected, grpccodes.ResourceExhausted},
		{"rejection status across a process", rej.GRPCStatus().Err(), codes.Rejected, grpccodes.ResourceExhausted},
		{"plain error", errors.New("boom"), codes.ServerFault, grpccodes.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := codes.Default().Classify(tt.err)
			if v.Class != tt.wantClass || v.Code != tt.wantCode {
				t.Fatalf("Classify = %v/%v, want %v/%v", v.Class, v.Code, tt.wantClass, tt.wantCode)
			}
		})
	}
}

func TestRejectionStatus(t *testing.T) {
	sentinel := errors.New("circuit open")
	r := &codes.Rejection{Err: sentinel, Code: grpccodes.Unavailable, Reason: "CIRCUIT_OPEN", Policy: "breaker", Service: "kyc.v1.OCRService", RetryAfter: 3 * time.Second}
	var err error = r
	if !errors.Is(err, sentinel) {
		t.Fatal("errors.Is(rejection, sentinel) = false")
	}
	if got := status.Code(err); got != grpccodes.Unavailable {
		t.Fatalf("status.Code = %v", got)
	}
	if got, want := err.Error(), "bulwark: breaker rejected call to kyc.v1.OCRService: circuit open (retry after 3s)"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	st, _ := status.FromError(err)
	var info *errdetails.ErrorInfo
	var ri *errdetails.RetryInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			ri = d
		}
	}
	if info == nil || info.Reason != "CIRCUIT_OPEN" || info.Domain != codes.Domain ||
		info.Metadata["policy"] != "breaker" || info.Metadata["service"] != "kyc.v1.OCRService" || info.Metadata["retry_after_ms"] != "3000" {
		t.Fatalf("ErrorInfo = %v", info)
	}
	if ri == nil || ri.RetryDelay.AsDuration() != 3*time.Second {
		t.Fatalf("RetryInfo = %v", ri)
	}
	v := codes.Default().Classify(err)
	if v.Class != codes.Rejected || v.Retryable() || v.Failure() || v.Delay() != 3*time.Second {
		t.Fatalf("verdict = %+v", v)
	}
	// No RetryAfter: no RetryInfo; zero code defaults to Unavailable.
	st2 := (&codes.Rejection{Reason: "X", Policy: "p", Service: "s"}).GRPCStatus()
	if st2.Code() != grpccodes.Unavailable || len(st2.Details()) != 1 {
		t.Fatalf("status = %v details %d", st2.Code(), len(st2.Details()))
	}
}

func TestClassNames(t *testing.T) {
	for _, c := range codes.Classes() {
		b, err := c.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back codes.Class
		if err := back.UnmarshalText(b); err != nil || back != c {
			t.Fatalf("round trip of %v: %v %v", c, back, err)
		}
	}
	if len(codes.Classes()) != 7 {
		t.Fatalf("%d classes", len(codes.Classes()))
	}
	var c codes.Class
	err := c.UnmarshalText([]byte("flaky"))
	if err == nil || err.Error() != `codes: "flaky" is not a class (want one of success, transient, throttled, business, canceled, server_fault, rejected)` {
		t.Fatalf("err = %v", err)
	}
	if _, err := codes.Class(77).MarshalText(); err == nil {
		t.Fatal("marshal of invalid class succeeded")
	}
	if got := codes.Class(77).String(); got != "class(77)" {
		t.Fatalf("String = %q", got)
	}
}

// A nil *Rejection held in an error (a policy's bug) is an unnamed rejection, directly or
// wrapped: classifying it, printing it or asking its status does not panic.
func TestNilRejection(t *testing.T) {
	var r *codes.Rejection
	for _, err := range []error{r, fmt.Errorf("wrapped: %w", r)} {
		v := codes.Default().Classify(err)
		if v.Class != codes.Rejected || v.Code != grpccodes.Unavailable {
			t.Errorf("Classify(%v) = %+v, want Rejected, Unavailable", err, v)
		}
	}
	if st := r.GRPCStatus(); st.Code() != grpccodes.Unavailable || r.Error() != "bulwark: call rejected" || r.Unwrap() != nil {
		t.Errorf("nil rejection: status %v, error %q, unwrap %v", st, r.Error(), r.Unwrap())
	}
}

// A status that carries bulwark's own ErrorInfo (a refusal relayed by a server that runs
// bulwark too) stays a rejection with bulwark's reason, whatever ErrorInfo follows it: a later
// one of another domain neither replaces the reason (which observers log and label as
// bulwark's own) nor, through a reason override, the class.
func TestBulwarkErrorInfoKeepsItsReason(t *testing.T) {
	kyc, err := codes.Default().With(codes.Overrides{Reasons: map[string]codes.Class{"MODEL_WARMING_UP": codes.Transient}})
	if err != nil {
		t.Fatal(err)
	}
	err = withDetails(t, grpccodes.Unavailable,
		&errdetails.ErrorInfo{Reason: "CIRCUIT_OPEN", Domain: codes.Domain},
		&errdetails.ErrorInfo{Reason: "MODEL_WARMING_UP", Domain: "ml"})
	v := kyc.Classify(err)
	if v.Class != codes.Rejected || v.Reason != "CIRCUIT_OPEN" {
		t.Fatalf("Classify = class %v reason %q, want rejected CIRCUIT_OPEN", v.Class, v.Reason)
	}
}

// A syscall.Errno has the methods of a net.Error (Timeout and Temporary), but most are not a
// connection's: a file that cannot be opened or written is not a transient network failure,
// and retrying it or counting it against the service's health is wrong. Only the errnos of a
// connection are Transient; any other is a plain error.
func TestSyscallErrnoIsNotANetworkError(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantClass codes.Class
		wantCode  grpccodes.Code
	}{
		{"file not found", &os.PathError{Op: "open", Path: "/etc/kyc/model.bin", Err: syscall.ENOENT}, codes.ServerFault, grpccodes.Unknown},
		{"permission denied", &os.PathError{Op: "open", Path: "/etc/kyc/key.pem", Err: syscall.EACCES}, codes.ServerFault, grpccodes.Unknown},
		{"disk full", fmt.Errorf("save: %w", &os.PathError{Op: "write", Path: "/tmp/x", Err: syscall.ENOSPC}), codes.ServerFault, grpccodes.Unknown},
		{"bare EINVAL", syscall.EINVAL, codes.ServerFault, grpccodes.Unknown},
		{"connection aborted", fmt.Errorf("read: %w", syscall.ECONNABORTED), codes.Transient, grpccodes.Unavailable},
		{"network unreachable", syscall.ENETUNREACH, codes.Transient, grpccodes.Unavailable},
		{"host unreachable", syscall.EHOSTUNREACH, codes.Transient, grpccodes.Unavailable},
		{"timed out", syscall.ETIMEDOUT, codes.Transient, grpccodes.Unavailable},
		{"errno in an OpError", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.EINVAL)}, codes.Transient, grpccodes.Unavailable},
		{"errno beside an OpError", errors.Join(&os.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("x")}), codes.Transient, grpccodes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := codes.Default().Classify(tt.err)
			if v.Class != tt.wantClass || v.Code != tt.wantCode {
				t.Fatalf("Classify(%v) = %v/%v, want %v/%v", tt.err, v.Class, v.Code, tt.wantClass, tt.wantCode)
			}
		})
	}
}

// A *url.Error (what an HTTP client returns: a token or model fetch inside a handler) has
// net.Error's methods whatever it wraps, so it read as a transient network failure even when
// it wraps a refused URL scheme or a file's error: retried, and counted against the service's
// health. It is classified by what it wraps: a network error inside it is still Transient,
// the caller's cancel Canceled, anything else a plain error.
func TestURLErrorIsClassifiedByWhatItWraps(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Post", URL: "http://models.local/v1", Err: err} }
	tests := []struct {
		name      string
		err       error
		wantClass codes.Class
		wantCode  grpccodes.Code
	}{
		{"plain error", wrap(errors.New(`unsupported protocol scheme "ftp"`)), codes.ServerFault, grpccodes.Unknown},
		{"file error", wrap(&os.PathError{Op: "open", Path: "/etc/kyc/ca.pem", Err: syscall.ENOENT}), codes.ServerFault, grpccodes.Unknown},
		{"wrapped, plain error", fmt.Errorf("fetch: %w", wrap(errors.New("stopped after 10 redirects"))), codes.ServerFault, grpccodes.Unknown},
		{"caller's cancel", wrap(context.Canceled), codes.Canceled, grpccodes.Canceled},
		{"connection refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), codes.Transient, grpccodes.Unavailable},
		{"eof", wrap(io.EOF), codes.Transient, grpccodes.Unavailable},
		{"timeout", wrap(netErr{}), codes.Transient, grpccodes.Unavailable},
		{"url.Error in url.Error", wrap(wrap(&net.OpError{Op: "read", Net: "tcp", Err: errors.New("x")})), codes.Transient, grpccodes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := codes.Default().Classify(tt.err)
			if v.Class != tt.wantClass || v.Code != tt.wantCode {
				t.Fatalf("Classify(%v) = %v/%v, want %v/%v", tt.err, v.Class, v.Code, tt.wantClass, tt.wantCode)
			}
		})
	}
}

// A rejection's RetryAfter is capped at 24 h as a server's pushback is: the verdict of a
// rejection is the same in process, wrapped, and after its status crossed a process boundary
// (where its RetryInfo is read as pushback), and an absurd wait from a policy cannot become a
// days-long sleep or an overflow downstream.
func TestRejectionRetryAfterIsCappedAsPushbackIs(t *testing.T) {
	for _, after := range []time.Duration{25 * time.Hour, 1000 * time.Hour, time.Duration(math.MaxInt64)} {
		r := &codes.Rejection{Err: errors.New("limited"), Code: grpccodes.ResourceExhausted, Reason: "RATE_LIMITED", Policy: "rate_limit", Service: "s", RetryAfter: after}
		for what, err := range map[string]error{"in process": r, "wrapped": fmt.Errorf("x: %w", r), "across a process": r.GRPCStatus().Err()} {
			v := codes.Default().Classify(err)
			if v.Class != codes.Rejected || !v.Pushback.Set || v.Delay() != 24*time.Hour {
				t.Errorf("RetryAfter %v, %s: verdict %+v, want rejected with a 24h delay", after, what, v)
			}
		}
	}
	// Under the cap the delay is the rejection's own.
	r := &codes.Rejection{Reason: "CIRCUIT_OPEN", Policy: "breaker", Service: "s", RetryAfter: 90 * time.Minute}
	if v := codes.Default().Classify(r); v.Delay() != 90*time.Minute {
		t.Errorf("RetryAfter 90m: delay %v", v.Delay())
	}
}

// statusCause is an error that is a status and also wraps its cause, as a layer that keeps
// both might make it.
type statusCause struct {
	st    *status.Status
	cause error
}

func (e statusCause) Error() string              { return e.st.Message() + ": " + e.cause.Error() }
func (e statusCause) GRPCStatus() *status.Status { return e.st }
func (e statusCause) Unwrap() error              { return e.cause }

// A status joined or wrapped with the caller's cancel (or a context deadline) is classified
// by the status, as a Rejection beside a cancel is and as status.Code(err) reads it. Before,
// the context's sentinel won: a rejection relayed across a process read as Canceled beside a
// cancel where the same rejection in process read as Rejected, and an error that is a status
// and wraps a cancel changed class when it was wrapped once more.
func TestStatusWinsOverTheContextBesideIt(t *testing.T) {
	rej := &codes.Rejection{Err: errors.New("open"), Code: grpccodes.Unavailable, Reason: "CIRCUIT_OPEN", Policy: "breaker", Service: "s"}
	unavailable := status.Error(grpccodes.Unavailable, "down")
	invalid := status.Error(grpccodes.InvalidArgument, "unreadable document")
	both := statusCause{st: status.New(grpccodes.InvalidArgument, "unreadable document"), cause: context.Canceled}
	tests := []struct {
		name      string
		err       error
		wantClass codes.Class
		wantCode  grpccodes.Code
	}{
		{"rejection, cancel", errors.Join(rej, context.Canceled), codes.Rejected, grpccodes.Unavailable},
		{"relayed rejection, cancel", errors.Join(rej.GRPCStatus().Err(), context.Canceled), codes.Rejected, grpccodes.Unavailable},
		{"cancel, relayed rejection", errors.Join(context.Canceled, rej.GRPCStatus().Err()), codes.Rejected, grpccodes.Unavailable},
		{"status, cancel", errors.Join(unavailable, context.Canceled), codes.Transient, grpccodes.Unavailable},
		{"cancel, status", fmt.Errorf("%w: %w", context.Canceled, invalid), codes.Business, grpccodes.InvalidArgument},
		{"status, deadline", errors.Join(invalid, context.DeadlineExceeded), codes.Business, grpccodes.InvalidArgument},
		{"status that wraps a cancel", both, codes.Business, grpccodes.InvalidArgument},
		{"status that wraps a cancel, wrapped", fmt.Errorf("call: %w", both), codes.Business, grpccodes.InvalidArgument},
		{"status, eof", errors.Join(io.EOF, invalid), codes.Business, grpccodes.InvalidArgument},
		{"cancel alone", fmt.Errorf("call: %w", context.Canceled), codes.Canceled, grpccodes.Canceled},
		{"cancel beside a plain error", errors.Join(errors.New("x"), context.Canceled), codes.Canceled, grpccodes.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := codes.Default().Classify(tt.err)
			if v.Class != tt.wantClass || v.Code != tt.wantCode {
				t.Fatalf("Classify(%v) = %v/%v, want %v/%v", tt.err, v.Class, v.Code, tt.wantClass, tt.wantCode)
			}
			if tt.wantClass != codes.Canceled && status.Code(tt.err) != v.Code {
				t.Fatalf("Classify(%v) code %v, status.Code %v", tt.err, v.Code, status.Code(tt.err))
			}
		})
	}
}

// A network error joined with a *url.Error that wraps none (errors.Join of a fetch refused for
// its scheme and a dial that failed) is Transient, as the network error is alone: every error
// in a join is looked at, as a status beside a sentinel is. Before, the first net.Error found
// (the *url.Error, which is one by its methods) decided alone, and the join read as Unknown
// unless the network error was a *net.OpError.
func TestNetworkErrorInAJoinWins(t *testing.T) {
	scheme := &url.Error{Op: "Get", URL: "ftp://models.local/v1", Err: errors.New(`unsupported protocol scheme "ftp"`)}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	dns := &net.DNSError{Err: "server misbehaving", Name: "ocr.local", IsTemporary: true}
	tests := []struct {
		name      string
		err       error
		wantClass codes.Class
		wantCode  grpccodes.Code
	}{
		{"url error, refused dial", errors.Join(scheme, refused), codes.Transient, grpccodes.Unavailable},
		{"url error, dns error", errors.Join(scheme, dns), codes.Transient, grpccodes.Unavailable},
		{"dns error, url error", errors.Join(dns, scheme), codes.Transient, grpccodes.Unavailable},
		{"url error, timeout", errors.Join(scheme, netErr{}), codes.Transient, grpccodes.Unavailable},
		{"url error, wrapped timeout", fmt.Errorf("%w; %w", scheme, fmt.Errorf("read: %w", netErr{})), codes.Transient, grpccodes.Unavailable},
		{"url error, file error", errors.Join(scheme, &os.PathError{Op: "open", Path: "x", Err: syscall.ENOENT}), codes.ServerFault, grpccodes.Unknown},
		{"dns error alone", dns, codes.Transient, grpccodes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := codes.Default().Classify(tt.err)
			if v.Class != tt.wantClass || v.Code != tt.wantCode {
				t.Fatalf("Classify(%v) = %v/%v, want %v/%v", tt.err, v.Class, v.Code, tt.wantClass, tt.wantCode)
			}
		})
	}
}
