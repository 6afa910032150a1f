package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/interceptors"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Regression: under -tls-* every profile had TLS_CERTIFICATE and TLS_VERSION set to
// server_fault, over the class a -config's profile gave them, so a user who classes a version
// mismatch transient (a fleet part-way through a TLS upgrade) had it never retried. A class
// the configuration gives is kept at every level: a service's profile, a method's own profile
// (under a service without one, whose overrides get the reasons), a service's overrides;
// server_fault goes only where none is given. (A -config file is laid over the built-ins, whose
// services have profiles: a service without one is a service the file adds.)
func TestTLSReasonsKeepAConfigFilesClass(t *testing.T) {
	const yaml = `
profiles:
  gpu:
    retry: {max_attempts: 3}
    classifier:
      reasons: {TLS_VERSION: transient}
  plain:
    retry: {max_attempts: 2}
  ml:
    retry: {max_attempts: 2}
    classifier:
      reasons: {TLS_CERTIFICATE: transient}
services:
  kyc.v1.OCRService:
    profile: gpu
  example.v1.Store:
    methods:
      Get: {profile: gpu}
  kyc.v1.FaceMatchService:
    classifier:
      reasons: {TLS_CERTIFICATE: throttled}
    methods:
      Compare: {profile: plain}
`
	path := filepath.Join(t.TempDir(), "bulwark.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	files := tlstest.Write(t)
	f := &flags{addrs: map[string]string{}, tls: tlsflags.Flags{CA: files.CA}}
	for _, svc := range stub.AllServices() {
		f.addrs[svc] = "127.0.0.1:1"
	}
	if _, err := setupTLS(f, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := interceptors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tagged := func(reason string) error {
		st, _ := status.New(grpccodes.Unavailable, "handshake").WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: tlsflags.Domain})
		return st.Err()
	}
	for _, tc := range []struct {
		method            string
		wantCert, wantVer codes.Class
	}{
		{kycv1.OCRService_Extract_FullMethodName, codes.ServerFault, codes.Transient},       // the service's profile
		{kycv1.LivenessService_Check_FullMethodName, codes.Transient, codes.ServerFault},    // the built-in service's profile, replaced
		{"/example.v1.Store/Get", codes.ServerFault, codes.Transient},                       // the method's own profile, under a service without one
		{"/example.v1.Store/Put", codes.ServerFault, codes.ServerFault},                     // no class given
		{kycv1.FaceMatchService_Compare_FullMethodName, codes.Throttled, codes.ServerFault}, // the service's overrides
	} {
		cl, err := s.Policy(tc.method).NewClassifier()
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.Classify(tagged(tlsflags.ReasonCertificate)).Class; got != tc.wantCert {
			t.Errorf("%s: %s is %v, want %v", tc.method, tlsflags.ReasonCertificate, got, tc.wantCert)
		}
		if got := cl.Classify(tagged(tlsflags.ReasonVersion)).Class; got != tc.wantVer {
			t.Errorf("%s: %s is %v, want %v", tc.method, tlsflags.ReasonVersion, got, tc.wantVer)
		}
	}
}
