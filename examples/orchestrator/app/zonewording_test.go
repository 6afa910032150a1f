package app

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// An IPv6 address's zone ("%eth0") is any text without a space: a server's own message in a
// transport I/O error's shape, with the applicant's data as the zone of either address, was
// kept whole in the summary and the log. Only its code is shown; zoneless words are kept.
func TestDependencyErrorLeavesOutAnIPv6Zone(t *testing.T) {
	const pii = "SPECIMEN-ALEX-A12345678"
	const addr = "10.0.0.7:50051"
	for _, tc := range []struct {
		msg  string
		kept bool
	}{
		{msg: "write tcp 10.0.0.1:40000->[fe80::1%" + pii + "]:443: write: broken pipe"},
		{msg: "read tcp [fe80::2%" + pii + "]:40000->[fe80::1]:443: read: connection reset by peer"},
		{msg: "remote error: tls: certificate required (write tcp [::1%" + pii + "]:1->[::1]:2: write: broken pipe)"},
		{msg: "write tcp [fe80::2]:40000->[fe80::1]:443: write: broken pipe", kept: true},
	} {
		core, logs := observer.New(zap.DebugLevel)
		d := newDepErrors(map[string]string{kyc.KeyOCR: addr}, func(string) *codes.Classifier { return codes.Default() }, zap.New(core))
		d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Unavailable, tc.msg), true)
		want := "UNAVAILABLE (" + addr + ")"
		if tc.kept {
			want = "UNAVAILABLE: " + tc.msg + " (" + addr + ")"
		}
		if last := d.snapshot()[kyc.KeyOCR]; last != want {
			t.Errorf("message %q: summary last error %q, want %q", tc.msg, last, want)
		}
		for _, e := range logs.All() {
			if v, ok := e.ContextMap()["error"].(string); ok && strings.Contains(v, pii) {
				t.Errorf("message %q: log line %q carries it: error=%q", tc.msg, e.Message, v)
			}
		}
	}
}
