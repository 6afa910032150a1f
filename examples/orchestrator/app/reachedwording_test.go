package app

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Regression: a server's own Unavailable whose message has the shape of grpc-go's words for a
// connection it could not make (`connection error: desc = "transport: ..."`, which is matched
// by its start) or for a name it could not resolve reached the logs and the summary whole,
// whatever the server wrote after the shape's start. grpc-go gives those words only to an
// attempt that got no stream on a connection, so an attempt that reached a server (it has a
// peer) keeps only the words a connection lost under it gives.
func TestDependencyErrorLeavesOutAServersTextInGrpcsConnectionShape(t *testing.T) {
	const pii = "SPECIMEN ALEX A12345678"
	for _, tt := range []struct {
		msg  string
		kept bool // the words of a connection lost under a stream, which carry nothing of the server's
	}{
		{`connection error: desc = "transport: no record of ` + pii + `"`, false},
		{`last connection error: connection error: desc = "transport: ` + pii + `"`, false},
		{"name resolver error: dns: A record lookup error: lookup SPECIMEN-ALEX-A12345678: no such host", false},
		{`connection error: desc = "transport is closing"`, true},
		{"read tcp 127.0.0.1:40000->127.0.0.1:50051: read: connection reset by peer", true},
	} {
		msg := tt.msg
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			return status.Error(grpccodes.Unavailable, msg)
		}))
		served := make(chan struct{})
		go func() { defer close(served); _ = srv.Serve(lis) }()
		core, logs := observer.New(zap.DebugLevel)
		addrs := map[string]string{kyc.KeyOCR: "ocr.internal:443", kyc.KeyLiveness: "liveness.internal:443"}
		d := newDepErrors(addrs, func(string) *codes.Classifier { return codes.Default() }, zap.New(core))
		cc, err := grpc.NewClient(lis.Addr().String(), append(d.dialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := kycv1.NewOCRServiceClient(cc).Extract(ctx, &kycv1.ExtractRequest{}); status.Convert(err).Message() != msg {
			t.Fatalf("Extract: %v, want the server's Unavailable", err)
		}
		if cs, err := kycv1.NewLivenessServiceClient(cc).Check(ctx); err != nil {
			t.Fatal(err)
		} else if _, err := cs.CloseAndRecv(); status.Convert(err).Message() != msg {
			t.Fatalf("Check: %v, want the server's Unavailable", err)
		}
		cancel()
		_ = cc.Close()
		srv.Stop()
		<-served
		for key, addr := range addrs {
			want := "UNAVAILABLE (" + addr + ")"
			if tt.kept {
				want = "UNAVAILABLE: " + msg + " (" + addr + ")"
			}
			if last := d.snapshot()[key]; last != want {
				t.Errorf("server message %q: %s's summary last error %q, want %q", msg, key, last, want)
			}
		}
		for _, e := range logs.All() {
			if v, ok := e.ContextMap()["error"]; ok != tt.kept || (ok && v != msg) {
				t.Errorf("server message %q: log line %q has error=%q (kept: %v, want %v)", msg, e.Message, v, ok, tt.kept)
			}
		}
	}
}
