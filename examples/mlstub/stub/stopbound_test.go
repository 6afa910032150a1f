package stub

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// TestStopBoundedByOneStopTimeout: Stop takes about StopTimeout however much is held open, a
// call on the gRPC side and a connection on the HTTP side alike. It gave each its own
// StopTimeout, one after the other: twice the bound it was configured with.
func TestStopBoundedByOneStopTimeout(t *testing.T) {
	const stopTimeout = time.Second
	fake := clocktest.New(time.Time{}) // never advanced: the call's latency ends only when Stop cuts it
	s, err := Start(context.Background(), Config{
		MetricsListen: "127.0.0.1:0", StopTimeout: stopTimeout, Faults: Faults{Latency: time.Hour},
	}, WithClock(fake))
	if err != nil {
		t.Fatal(err)
	}
	e := connect(t, s)
	called := make(chan struct{})
	go func() {
		defer close(called)
		_, _ = e.ocr.Extract(context.Background(), &kycv1.ExtractRequest{})
	}()
	blockUntil(t, fake, 1) // the call sleeps its latency
	// A connection that has sent nothing yet: HTTP's graceful shutdown waits for it.
	hc, err := net.Dial("tcp", s.MetricsAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()

	begin := time.Now()
	s.Stop()
	if took := time.Since(begin); took >= 2*stopTimeout {
		t.Errorf("Stop took %v with StopTimeout %v, want about one StopTimeout", took, stopTimeout)
	}
	<-called
}
