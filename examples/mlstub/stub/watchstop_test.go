package stub

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	grpccodes "google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Regression: a health Watch stream (gRPC's client-side health checking keeps one open) lasts
// as long as its client wants; the graceful part of Stop waited for it until StopTimeout, then
// logged a timeout and cut the calls. Stop now ends the watches, with Unavailable.
func TestStopEndsHealthWatches(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := Start(context.Background(), Config{StopTimeout: time.Minute}, WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	e := connect(t, s)
	w, err := healthpb.NewHealthClient(e.conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // real time, far below the 1m StopTimeout
		t.Fatalf("Stop still waiting after 30s with a health watch open; logs: %v", logs.All())
	}
	for {
		resp, err := w.Recv()
		if err != nil {
			if status.Code(err) != grpccodes.Unavailable {
				t.Errorf("the watch ended with %v, want Unavailable", err)
			}
			break
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("the watch saw %v while stopping", resp.GetStatus())
		}
	}
	if n := logs.FilterMessage("graceful stop timed out; cutting calls").Len(); n != 0 {
		t.Errorf("Stop timed out: %v", logs.All())
	}
}
