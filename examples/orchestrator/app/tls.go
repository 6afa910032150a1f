package app

import (
	"errors"
	"maps"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"google.golang.org/grpc"
)

// tlsSetup is what -tls-cert, -tls-key and -tls-ca make of the orchestrator's connections:
// the dial options of its clients (credentials first, then the suite's, then the tagging of
// TLS configuration failures inside it) and the options of its -serve server. With no flag set, plaintext.
type tlsSetup struct {
	creds  []grpc.DialOption // before the suite's
	inner  []grpc.DialOption // after the suite's: per attempt
	server []grpc.ServerOption
}

// errTLSEmbedded is what TLS flags without an external address for every service get.
var errTLSEmbedded = errors.New("-tls-* need external services (-liveness, -facematch, -ocr): the embedded stubs serve plaintext")

// setupTLS checks the TLS flags against the rest of the command line and, when TLS is on,
// classes a handshake failed by either side's TLS configuration (tlsReasons: a refused
// certificate, no TLS version in common) as server_fault (not retried, a failure for the
// breaker: see tlsflags' documentation) wherever cfg gives it no class: in every profile that
// does not class it, and in the overrides of every service without a profile that do not. A
// class the configuration gives, in a profile, a service or a method, is kept.
func setupTLS(f *flags, cfg *config.Config) (*tlsSetup, error) {
	creds, err := f.tls.ClientCredentials()
	if err != nil {
		return nil, err
	}
	t := &tlsSetup{creds: []grpc.DialOption{grpc.WithTransportCredentials(creds)}}
	if !f.tls.Enabled() {
		return t, nil
	}
	for _, svc := range stub.AllServices() {
		if f.addrs[svc] == "" {
			return nil, errTLSEmbedded
		}
	}
	if f.serve != "" {
		if t.server, err = f.tls.ServerOptions(); err != nil {
			return nil, err
		}
	}
	t.inner = tlsflags.MarkCertificateErrors()
	for name, p := range cfg.Profiles {
		p.Classifier.Reasons = withTLSReasons(p.Classifier.Reasons)
		cfg.Profiles[name] = p
	}
	// A service without a profile (none named, and no "default") has only its overrides:
	// they get the reasons too, but for those they class themselves.
	if _, ok := cfg.Profiles["default"]; !ok {
		for name, svc := range cfg.Services {
			if svc.Profile != "" {
				continue
			}
			keepMethodProfiles(cfg, svc)
			svc.Classifier.Reasons = withTLSReasons(svc.Classifier.Reasons)
			cfg.Services[name] = svc
		}
	}
	return t, nil
}

// tlsReasons are the ErrorInfo reasons tlsflags.MarkCertificateErrors tags a handshake with
// when the TLS configuration of either side failed it, which the next attempt would fail
// again: the server refused the client's certificate or the client the server's
// (tlsflags.ReasonCertificate), or they share no TLS version (tlsflags.ReasonVersion).
var tlsReasons = []string{tlsflags.ReasonCertificate, tlsflags.ReasonVersion}

// withTLSReasons returns a copy of reasons that classes each of tlsReasons it does not class
// as a server fault: never retried.
func withTLSReasons(reasons map[string]codes.Class) map[string]codes.Class {
	out := maps.Clone(reasons)
	if out == nil {
		out = map[string]codes.Class{}
	}
	for _, r := range tlsReasons {
		if _, set := out[r]; !set {
			out[r] = codes.ServerFault
		}
	}
	return out
}

// keepMethodProfiles keeps the class that a method's own profile gives a TLS reason, under a
// service without a profile whose overrides are about to get that reason: a method's policy
// is its profile, then its service's overrides, then its own, so the service's server_fault
// would override its profile's class. Each such method's overrides get its profile's class
// (which the profiles have by now), unless they or the service's class the reason themselves.
func keepMethodProfiles(cfg *config.Config, svc config.Service) {
	for name, m := range svc.Methods {
		p, ok := cfg.Profiles[m.Profile]
		if m.Profile == "" || !ok {
			continue
		}
		for _, r := range tlsReasons {
			_, bySvc := svc.Classifier.Reasons[r]
			_, byMethod := m.Classifier.Reasons[r]
			if bySvc || byMethod {
				continue
			}
			if m.Classifier.Reasons = maps.Clone(m.Classifier.Reasons); m.Classifier.Reasons == nil {
				m.Classifier.Reasons = map[string]codes.Class{}
			}
			m.Classifier.Reasons[r] = p.Classifier.Reasons[r]
		}
		svc.Methods[name] = m
	}
}
