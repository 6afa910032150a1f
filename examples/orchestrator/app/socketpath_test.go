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

// A transport's I/O error on a unix socket names the socket's path, which, unlike a TCP
// connection's IP and port, is any text: a server's own message in that shape, with the
// applicant's data where the path stands, is the server's, and only its code is shown. The
// dependency's own socket (its address, which the line shows anyway) is grpc's words, kept.
func TestDependencyErrorLeavesOutAServersSocketPath(t *testing.T) {
	const pii = "SPECIMEN-ALEX-A12345678"
	for _, addr := range []string{"unix:/run/ocr.sock", "unix:///run/ocr.sock", "unix-abstract:ocr"} {
		for _, tc := range []struct {
			msg     string
			reached bool
			kept    bool
		}{
			{msg: "write unix ->/run/" + pii + ": write: broken pipe", reached: true},
			{msg: "read unix ->/home/" + pii + "/selfie.jpg: read: connection reset by peer"},
			{msg: "write unix " + pii + "->/run/ocr.sock: write: broken pipe", reached: true},
			{msg: "remote error: tls: bad certificate (write unix ->/run/" + pii + ": write: broken pipe)"},
			{msg: `connection error: desc = "error reading server preface: read unix ->/run/` + pii + `: read: connection reset by peer"`},
			{msg: "write unix ->/run/ocr.sock: write: broken pipe", reached: true, kept: true},
			// Linux names the client's unnamed socket "@".
			{msg: "write unix @->/run/ocr.sock: write: broken pipe", reached: true, kept: true},
			{msg: "write unix @->/run/" + pii + ": write: broken pipe", reached: true},
			{msg: "remote error: tls: certificate required (write unix ->/run/ocr.sock: write: broken pipe)", kept: true},
			{msg: `connection error: desc = "error reading server preface: read unix ->/run/ocr.sock: read: connection reset by peer"`, kept: true},
		} {
			if addr == "unix-abstract:ocr" {
				tc.msg = strings.ReplaceAll(tc.msg, "/run/ocr.sock", "@ocr")
			}
			core, logs := observer.New(zap.DebugLevel)
			d := newDepErrors(map[string]string{kyc.KeyOCR: addr}, func(string) *codes.Classifier { return codes.Default() }, zap.New(core))
			d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Unavailable, tc.msg), tc.reached)
			last := d.snapshot()[kyc.KeyOCR]
			want := "UNAVAILABLE (" + addr + ")"
			if tc.kept {
				want = "UNAVAILABLE: " + tc.msg + " (" + addr + ")"
			}
			if last != want {
				t.Errorf("%s, message %q (reached: %v): summary last error %q, want %q", addr, tc.msg, tc.reached, last, want)
			}
			for _, e := range logs.All() {
				if v, ok := e.ContextMap()["error"].(string); ok && strings.Contains(v, pii) {
					t.Errorf("%s, message %q: log line %q carries it: error=%q", addr, tc.msg, e.Message, v)
				}
			}
		}
	}
}
