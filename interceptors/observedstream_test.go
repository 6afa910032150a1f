package interceptors_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
)

// TestStreamCallFinished checks the suite's CallFinished for streams: one event for a stream
// read to its end, however often its end is read again, and none for a stream the caller
// abandons.
func TestStreamCallFinished(t *testing.T) {
	block := make(chan struct{})
	srv := &testkit.Server{CheckF: func(n int, st kycv1.LivenessService_CheckServer) error {
		if n == 2 { // The second stream is abandoned: hold it until the caller cancels.
			<-st.Context().Done()
			close(block)
			return st.Context().Err()
		}
		return testkit.DrainCheck(st, 0.9)
	}}
	e := newEnv(t, threeProfiles(), srv)
	finished := func() int {
		n := 0
		for _, ev := range e.rec.Events(observe.CallFinished) {
			if ev.Method == testkit.MethodCheck {
				n++
			}
		}
		return n
	}

	st, err := e.live.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&kycv1.CheckRequest{}); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	_ = st.RecvMsg(new(kycv1.CheckResponse)) // The end again: no second event.
	evs := e.rec.Events(observe.CallFinished)
	if n := finished(); n != 1 || evs[len(evs)-1].Code != grpccodes.OK {
		t.Fatalf("%d CallFinished events (%+v), want one OK", n, evs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	if _, err := e.live.Check(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-block:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never saw the abandoned stream end")
	}
	time.Sleep(20 * time.Millisecond) // Room for a wrong event from the context's goroutine.
	if n := finished(); n != 1 {
		t.Fatalf("%d CallFinished events after an abandoned stream, want still 1", n)
	}
}
