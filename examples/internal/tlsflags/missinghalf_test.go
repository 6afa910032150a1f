package tlsflags_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
)

// TestValidateNamesTheMissingHalf: a certificate without its key, or a key without its
// certificate, is refused with the flag that is missing and the value of the one given. Both
// read "-tls-cert and -tls-key go together", which of the two was missing left unsaid.
func TestValidateNamesTheMissingHalf(t *testing.T) {
	for _, tt := range []struct {
		flags tlsflags.Flags
		want  string
	}{
		{tlsflags.Flags{Cert: "cert.pem"}, "-tls-key is missing: -tls-cert cert.pem needs the key of its certificate (-tls-cert and -tls-key go together)"},
		{tlsflags.Flags{Key: "key.pem"}, "-tls-cert is missing: -tls-key key.pem needs the certificate of its key (-tls-cert and -tls-key go together)"},
	} {
		if err := tt.flags.Validate(); err == nil || err.Error() != tt.want {
			t.Errorf("%+v: %v, want %q", tt.flags, err, tt.want)
		}
	}
}
