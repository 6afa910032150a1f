package app

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags/tlstest"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Under TLS a refused certificate, and a TLS version the two sides do not share, are
// server_fault (not retried), as the README says, for every service: one that a -config gives
// no profile (only its overrides apply) too. Only the profiles were given the reason, so such
// a service retried a certificate that the next attempt would present again.
func TestTLSCertificateRefusalClassedForAServiceWithoutProfile(t *testing.T) {
	files := tlstest.Write(t)
	f := &flags{addrs: map[string]string{}, tls: tlsflags.Flags{Cert: files.ClientCert, Key: files.ClientKey, CA: files.CA}}
	for _, svc := range stub.AllServices() {
		f.addrs[svc] = "127.0.0.1:1"
	}
	cfg := config.Builtin()
	cfg.Services[kycv1.OCRService_ServiceDesc.ServiceName] = config.Service{
		Overrides: config.Overrides{Retry: config.Set(retry.Config{MaxAttempts: 3}, "max_attempts")},
	}
	if _, err := setupTLS(f, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := interceptors.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	refused, _ := status.New(grpccodes.Unavailable, "remote error: tls: certificate required (write tcp a->b: write: broken pipe)").
		WithDetails(&errdetails.ErrorInfo{Reason: tlsflags.ReasonCertificate, Domain: tlsflags.Domain})
	version, _ := status.New(grpccodes.Unavailable, `connection error: desc = "transport: authentication handshake failed: remote error: tls: protocol version not supported"`).
		WithDetails(&errdetails.ErrorInfo{Reason: tlsflags.ReasonVersion, Domain: tlsflags.Domain})
	for _, m := range []string{kycv1.OCRService_Extract_FullMethodName, kycv1.LivenessService_Check_FullMethodName} {
		cl, err := s.Policy(m).NewClassifier()
		if err != nil {
			t.Fatal(err)
		}
		if v := cl.Classify(refused.Err()); v.Class != codes.ServerFault {
			t.Errorf("%s: a refused certificate is %v, want server_fault", m, v.Class)
		}
		if v := cl.Classify(version.Err()); v.Class != codes.ServerFault {
			t.Errorf("%s: no TLS version in common is %v, want server_fault", m, v.Class)
		}
	}
}

// A service without a profile that classes one of the TLS reasons itself keeps its class; the
// other reason is still added.
func TestTLSReasonsKeepAServicesOwnClass(t *testing.T) {
	files := tlstest.Write(t)
	f := &flags{addrs: map[string]string{}, tls: tlsflags.Flags{CA: files.CA}}
	for _, svc := range stub.AllServices() {
		f.addrs[svc] = "127.0.0.1:1"
	}
	cfg := config.Builtin()
	name := kycv1.OCRService_ServiceDesc.ServiceName
	cfg.Services[name] = config.Service{Overrides: config.Overrides{
		Classifier: codes.Overrides{Reasons: map[string]codes.Class{tlsflags.ReasonCertificate: codes.Transient}}}}
	if _, err := setupTLS(f, cfg); err != nil {
		t.Fatal(err)
	}
	got := cfg.Services[name].Classifier.Reasons
	if got[tlsflags.ReasonCertificate] != codes.Transient || got[tlsflags.ReasonVersion] != codes.ServerFault {
		t.Errorf("reasons %v, want %s kept transient and %s server_fault", got, tlsflags.ReasonCertificate, tlsflags.ReasonVersion)
	}
}
