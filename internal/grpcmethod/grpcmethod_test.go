package grpcmethod_test

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	_ "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSplit(t *testing.T) {
	tests := []struct{ in, wantSvc, wantMethod string }{
		{"/kyc.v1.OCRService/Extract", "kyc.v1.OCRService", "Extract"},
		{"kyc.v1.OCRService/Extract", "kyc.v1.OCRService", "Extract"},
		{"/Extract", "", "Extract"},
		{"", "", ""},
		{"/a.B/sub/M", "a.B/sub", "M"}, // the last '/' splits
		{"//Extract", "", "/Extract"},  // nothing before the last '/': the name less one '/'
		{"/kyc.v1.OCRService/", "kyc.v1.OCRService", ""},
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

// Keepable keeps names of MaxKeptName bytes, and none longer.
func TestKeepable(t *testing.T) {
	if n := strings.Repeat("a", grpcmethod.MaxKeptName); !grpcmethod.Keepable(n) {
		t.Errorf("Keepable of %d bytes = false, want true", len(n))
	}
	if n := strings.Repeat("a", grpcmethod.MaxKeptName+1); grpcmethod.Keepable(n) {
		t.Errorf("Keepable of %d bytes = true, want false", len(n))
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
		{"kyc.v1.OCRService/Extract", "", "kyc.v1.OCRService/Extract", ""}, // not a full method: a name
		{"*", "", "*", ""},
	} {
		if s, m := grpcmethod.Owner(tt.name, tt.service); s != tt.wantService || m != tt.wantMethod {
			t.Errorf("Owner(%q, %q) = %q %q, want %q %q", tt.name, tt.service, s, m, tt.wantService, tt.wantMethod)
		}
	}
}

// A name's lookup costs time in proportion to its length, however many dots it has: a proxy
// forwarding method names from its callers (a :path of a megabyte passes grpc's header limit)
// must not spend seconds on one. protoregistry's FindDescriptorByName tries every parent of a
// name it does not know, which is quadratic in the number of dots.
func TestLongNamesAreLookedUpInLinearTime(t *testing.T) {
	svc := strings.Repeat("a.", 1<<19) + "Service" // 1 MiB, half a million dots
	for _, name := range []string{"/" + svc + "/Method", "/" + svc + ".Deeper/Method"} {
		start := time.Now()
		if got := grpcmethod.IdempotencyOf(name); got != grpcmethod.Unknown {
			t.Fatalf("IdempotencyOf(a long unknown name) = %v, want Unknown", got)
		}
		// Linear: a few milliseconds, even under the race detector on a busy machine.
		if took := time.Since(start); took > time.Second {
			t.Fatalf("IdempotencyOf of a %d-byte name took %v, want a few milliseconds", len(name), took)
		}
	}
}

// ServiceDescriptor finds a registered service by its full name, in a package or in none, and
// nothing else: not a method, a message, a package, or a name under a service.
func TestServiceDescriptor(t *testing.T) {
	const path = "grpcmethod_test/nopackage.proto"
	if _, err := protoregistry.GlobalFiles.FindFileByPath(path); err != nil { // once per process (-count)
		fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
			Name:    proto.String(path),
			Syntax:  proto.String("proto3"),
			Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("GrpcmethodTestNoPackage")}},
		}, protoregistry.GlobalFiles)
		if err != nil {
			t.Fatal(err)
		}
		if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"kyc.v1.OCRService", "kyc.v1.FaceMatchService", "GrpcmethodTestNoPackage"} {
		if sd := grpcmethod.ServiceDescriptor(name); sd == nil || string(sd.FullName()) != name {
			t.Errorf("ServiceDescriptor(%q) = %v, want the service", name, sd)
		}
	}
	for _, name := range []string{"", "kyc", "kyc.v1", "kyc.v1.OCRService.Extract", "kyc.v1.OCRService.", ".kyc.v1.OCRService",
		"kyc.v1.CompareRequest", "kyc.v1.NoSuchService", "other.v1.OCRService", "OCRService"} {
		if sd := grpcmethod.ServiceDescriptor(name); sd != nil {
			t.Errorf("ServiceDescriptor(%q) = %v, want nil", name, sd.FullName())
		}
	}
}
