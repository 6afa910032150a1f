package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	grpccodes "google.golang.org/grpc/codes"
)

// TestReachedAtClientCountsWhatLeftOnAConnection: for an external service, reached counts the
// attempts the client sent on a connection to it, not every attempt it did not refuse itself.
// Nothing listens at liveness's address: every attempt met "connection refused", and the
// summary said that 2 per call reached it. Face match is a healthy stub: its reached is the
// stub's own count of requests.
func TestReachedAtClientCountsWhatLeftOnAConnection(t *testing.T) {
	s, err := stub.Start(context.Background(), stub.Config{Listen: "127.0.0.1:0", Services: []string{stub.ServiceFaceMatch}, StopTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	// Quick retries for the unreachable service; no hedge nor bulkhead, so that face match
	// gets exactly one request per call.
	cfg := filepath.Join(t.TempDir(), "reached.yaml")
	if err := os.WriteFile(cfg, []byte(`services:
  kyc.v1.LivenessService: {hedge: off, bulkhead: off, retry: {max_attempts: 3, initial_backoff: 1ms, max_backoff: 2ms}}
  kyc.v1.FaceMatchService: {hedge: off, bulkhead: off}
  kyc.v1.OCRService: {hedge: off, bulkhead: off}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, _, stderr := runJSON(t, "-n", "10", "-fail", "", "-config", cfg,
		"-liveness", closedAddr(t), "-facematch", s.Addr())
	s.Stop() // a stub counts a request when its handler returns
	live, face := sum.Services[kyc.KeyLiveness], sum.Services[kyc.KeyFaceMatch]
	if live.ReachedSource != "client" || live.Attempts <= live.Rejections || live.Reached != 0 || live.ReachedPerCall != 0 {
		t.Errorf("liveness, where nothing listens: %d attempts, %d refused locally, reached %d (%v per call, counted at the %s); want 0 reached\n%s",
			live.Attempts, live.Rejections, live.Reached, live.ReachedPerCall, live.ReachedSource, stderr)
	}
	atStub := 0
	for c := grpccodes.OK; c <= grpccodes.Unauthenticated; c++ {
		atStub += s.Requests(stub.MethodCompare, c)
	}
	if face.ReachedSource != "client" || face.Reached != int64(atStub) || atStub != 10 {
		t.Errorf("facematch: reached %d (counted at the %s), its stub received %d; want 10 both", face.Reached, face.ReachedSource, atStub)
	}
}
