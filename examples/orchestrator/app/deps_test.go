package app

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
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

// A server's status message may quote the request: neither the dependency error's log line
// nor the summary's last error carries it, only its code and the address. grpc's own words
// for a connection that could not be made are kept (TestUnreachableDependencyNamed runs that
// case against a closed port).
func TestDependencyErrorLeavesOutTheServersMessage(t *testing.T) {
	d, logs := newOCRDepErrors()
	const pii = "SPECIMEN ALEX A12345678"
	d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Internal, "cannot normalise fields of "+pii), false)
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, pii) {
				t.Errorf("log line %q field %s carries the status message: %q", e.Message, k, s)
			}
		}
	}
	if last := d.snapshot()[kyc.KeyOCR]; last != "INTERNAL (ocr.internal:443)" {
		t.Errorf("summary last error %q, want the code and the address alone", last)
	}

	const refused = `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`
	d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Unavailable, refused), false)
	if last := d.snapshot()[kyc.KeyOCR]; last != "UNAVAILABLE: "+refused+" (ocr.internal:443)" {
		t.Errorf("summary last error %q, want grpc's words for the refused connection", last)
	}
}

// A server refusing the client's certificate under TLS 1.3 closes the connection after the
// client's side of the handshake is over: as often as not grpc-go's status is then its
// transport's own I/O error, without the "connection error:" prefix. The summary and the log
// line named only UNAVAILABLE, leaving an operator with a mutual TLS misconfiguration nothing
// to go on; those words are grpc's, not the server's, and are kept.
func TestDependencyErrorKeepsGrpcsTransportWords(t *testing.T) {
	for _, msg := range []string{
		"write tcp 127.0.0.1:34706->127.0.0.1:46241: write: broken pipe",
		"write tcp 127.0.0.1:34694->127.0.0.1:46241: write: connection reset by peer",
		"read tcp6 [::1]:40000->[::1]:50051: read: connection reset by peer",
		"transport is closing",
		"remote error: tls: certificate required (write tcp 127.0.0.1:34694->127.0.0.1:46241: write: broken pipe)",
	} {
		d, logs := newOCRDepErrors()
		d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Unavailable, msg), false)
		if last, want := d.snapshot()[kyc.KeyOCR], "UNAVAILABLE: "+msg+" (ocr.internal:443)"; last != want {
			t.Errorf("summary last error %q, want %q", last, want)
		}
		if e := logs.All(); len(e) != 1 || e[0].ContextMap()["error"] != msg {
			t.Errorf("log lines %+v, want one with error %q", e, msg)
		}
	}
}

// TestReachableSkipsGRPCTargets: only a plain host:port is dialled at startup. A gRPC target
// with a resolver scheme, such as unix:/path/to/socket, split as host "unix" and port
// "/path/to/socket", was dialled over TCP and reported as unreachable while the service
// listened on that socket.
func TestReachableSkipsGRPCTargets(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ocr.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	defer lis.Close()
	var stderr bytes.Buffer
	checkReachable(context.Background(), map[string]string{
		kyc.KeyOCR: "unix:" + sock, kyc.KeyLiveness: "unix-abstract:bulwark-test-none", kyc.KeyFaceMatch: "dns:localhost:1",
	}, &stderr)
	if stderr.Len() != 0 {
		t.Errorf("gRPC targets dialled as host:port:\n%s", stderr.String())
	}
}

// A service's own Unavailable may begin with crypto/tls's words, about its backend's
// certificate ("remote error: tls: bad certificate", as package tlsflags notes), and go on
// with whatever the service adds: it is the server's text, not grpc's, and only its code is
// shown. grpc's own form of the client's refused certificate, the alert then the failed
// write in parentheses, is kept (TestDependencyErrorKeepsGrpcsTransportWords).
func TestDependencyErrorLeavesOutAServersTLSMessage(t *testing.T) {
	const pii = "SPECIMEN ALEX A12345678"
	for _, msg := range []string{
		"remote error: tls: bad certificate",
		"remote error: tls: bad certificate from the registry asked for " + pii,
	} {
		d, logs := newOCRDepErrors()
		d.record(kycv1.OCRService_Extract_FullMethodName, status.Error(grpccodes.Unavailable, msg), false)
		if last := d.snapshot()[kyc.KeyOCR]; last != "UNAVAILABLE (ocr.internal:443)" {
			t.Errorf("server message %q: summary last error %q, want the code and the address alone", msg, last)
		}
		for _, e := range logs.All() {
			if v, ok := e.ContextMap()["error"]; ok {
				t.Errorf("server message %q: log line %q carries it: error=%q", msg, e.Message, v)
			}
		}
	}
}

// The innermost interceptor sees only attempts that left the client: a bulwark rejection
// there is the dependency's own (a service refusing through its own bulwark suite, its
// breaker open), an error it answered with, not a local rejection. It was not recorded: no
// "dependency error" line and no last error for a dependency refusing every call.
func TestDependencyErrorRecordsARemoteRejection(t *testing.T) {
	d, logs := newOCRDepErrors()
	local := &codes.Rejection{Code: grpccodes.Unavailable, Reason: "CIRCUIT_OPEN", Policy: "breaker", Service: "ocr.backend.v1.Store"}
	remote := status.FromProto(status.Convert(local).Proto()).Err() // as it crosses the wire
	d.record(kycv1.OCRService_Extract_FullMethodName, remote, false)
	if last := d.snapshot()[kyc.KeyOCR]; last != "UNAVAILABLE (ocr.internal:443)" {
		t.Errorf("summary last error %q, want the code and the address", last)
	}
	if n := logs.FilterMessage("dependency error").Len(); n != 1 {
		t.Errorf("%d \"dependency error\" lines, want 1", n)
	}
}

// A dependency remembers at most maxLoggedErrors errors as logged: the one after them starts
// the memory afresh, so the first error, seen again, is logged again; within the bound an
// error seen before is not.
func TestDependencyErrorsRememberedUpToTheBound(t *testing.T) {
	d, logs := newOCRDepErrors()
	errN := func(i int) error {
		return status.Error(grpccodes.Unavailable, fmt.Sprintf("read tcp 127.0.0.1:%d->127.0.0.1:50051: read: connection reset by peer", 40000+i))
	}
	for i := range maxLoggedErrors {
		d.record(kycv1.OCRService_Extract_FullMethodName, errN(i), false)
	}
	d.record(kycv1.OCRService_Extract_FullMethodName, errN(0), false)
	if n := logs.Len(); n != maxLoggedErrors {
		t.Fatalf("%d lines after %d distinct errors and the first again, want %d", n, maxLoggedErrors, maxLoggedErrors)
	}
	d.record(kycv1.OCRService_Extract_FullMethodName, errN(maxLoggedErrors), false) // one past the bound
	d.record(kycv1.OCRService_Extract_FullMethodName, errN(1), false)
	if n := logs.Len(); n != maxLoggedErrors+2 {
		t.Errorf("%d lines, want %d: past the bound the memory starts afresh and an error seen before is logged again", n, maxLoggedErrors+2)
	}
}

// newOCRDepErrors returns the dependency errors of an OCR service at ocr.internal:443,
// classified by the default classifier, and the lines they log at debug and above.
func newOCRDepErrors() (*depErrors, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	return newDepErrors(map[string]string{kyc.KeyOCR: "ocr.internal:443"}, func(string) *codes.Classifier { return codes.Default() }, zap.New(core)), logs
}
