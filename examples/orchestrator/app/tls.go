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
// certificate, no TLS version in common) as server_fault in every profile of cfg, and in the
// overrides of every service without a profile, unless they class it themselves: not retried,
// a failure for the breaker (see tlsflags' documentation).
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
		p.Classifier.Reasons = withTLSReasons(p.Classifier.Reasons, true)
		cfg.Profiles[name] = p
	}
	// A service without a profile (none named, and no "default") has only its overrides:
	// they get the reasons too, but for those they class themselves.
	if _, ok := cfg.Profiles["default"]; !ok {
		for name, svc := range cfg.Services {
			if svc.Profile != "" {
				continue
			}
			svc.Classifier.Reasons = withTLSReasons(svc.Classifier.Reasons, false)
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

// withTLSReasons returns a copy of reasons that classes each of tlsReasons as a server fault:
// never retried. A reason reasons already classes keeps its class unless overwrite.
func withTLSReasons(reasons map[string]codes.Class, overwrite bool) map[string]codes.Class {
	out := maps.Clone(reasons)
	if out == nil {
		out = map[string]codes.Class{}
	}
	for _, r := range tlsReasons {
		if _, set := out[r]; overwrite || !set {
			out[r] = codes.ServerFault
		}
	}
	return out
}
