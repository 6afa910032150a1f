package grpcmethod_test

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	_ "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSplit(t *testing.T) {
	tests := []struct{ in, wantSvc, wantMethod string }{
		{"/kyc.v1.OCRService/Extract", "kyc.v1.OCRService", "Extract"},
		{"kyc.v1.OCRService/Extract", "kyc.v1.OCRService", "Extract"},
		{"/Extract", "", "Extract"},
		{"", "", ""},
	}
	for _, tt := range tests {
		svc, m := grpcmethod.Split(tt.in)
		if svc != tt.wantSvc || m != tt.wantMethod {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", tt.in, svc, m, tt.wantSvc, tt.wantMethod)
		}
	}
}

func TestIdempotencyOf(t *testing.T) {
	tests := []struct {
		method string
		want   grpcmethod.Idempotency
		safe   bool
	}{
		{"/kyc.v1.OCRService/Extract", grpcmethod.NoSideEffect, true},
		{"/kyc.v1.FaceMatchService/Compare", grpcmethod.NoSideEffect, true},
		{"/kyc.v1.LivenessService/Check", grpcmethod.NoSideEffect, true},
		{"/kyc.v1.KYCService/Verify", grpcmethod.Unknown, false},
		{"/kyc.v1.OCRService/Nope", grpcmethod.Unknown, false},
		{"/no.such.Service/X", grpcmethod.Unknown, false},
		{"garbage", grpcmethod.Unknown, false},
	}
	for _, tt := range tests {
		for range 2 { // second lookup is served from the cache
			if got := grpcmethod.IdempotencyOf(tt.method); got != tt.want {
				t.Errorf("IdempotencyOf(%q) = %v, want %v", tt.method, got, tt.want)
			}
			if got := grpcmethod.SafeToRetry(tt.method); got != tt.safe {
				t.Errorf("SafeToRetry(%q) = %v, want %v", tt.method, got, tt.safe)
			}
		}
	}
}

// Names that are not registered are not kept: a caller with unbounded method names (a proxy)
// grows no memory here.
func TestUnknownNamesAreNotKept(t *testing.T) {
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range 100000 {
		grpcmethod.IdempotencyOf("/no.such.Service/M" + strconv.Itoa(i))
	}
	if grown := int64(heap()) - int64(before); grown > 1<<20 {
		t.Fatalf("100000 unknown names kept %d bytes, want none", grown)
	}
}

func TestOwner(t *testing.T) {
	for _, tt := range []struct{ name, service, wantService, wantMethod string }{
		{"kyc.v1.OCRService", "", "kyc.v1.OCRService", ""},
		{"/kyc.v1.OCRService/Extract", "", "kyc.v1.OCRService", "/kyc.v1.OCRService/Extract"},
		{"/kyc.v1.OCRService/Extract", "other.Svc", "other.Svc", "/kyc.v1.OCRService/Extract"},
		{"shared-ml", "", "shared-ml", ""},
		{"shared-ml", "kyc.v1.OCRService", "kyc.v1.OCRService", ""},
		{"/malformed", "", "/malformed", ""},
		{"*", "", "*", ""},
	} {
		if s, m := grpcmethod.Owner(tt.name, tt.service); s != tt.wantService || m != tt.wantMethod {
			t.Errorf("Owner(%q, %q) = %q %q, want %q %q", tt.name, tt.service, s, m, tt.wantService, tt.wantMethod)
		}
	}
}
