package testkit

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/streamend"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// fatalTB is a testing.TB whose Fatal and Fatalf record the failure and end the goroutine, as
// a test's do, without failing the test that checks the failure.
type fatalTB struct {
	testing.TB
	failure string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) {
	f.failure = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.failure = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// closeConn runs p.CloseConn(cc) with tb on a goroutine of its own, as a test would, and
// returns what it returned (nil where it failed tb).
func closeConn(p *Parked, tb *fatalTB, cc *grpc.ClientConn) error {
	var err error
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		err = p.CloseConn(tb, cc)
	}()
	within.Recv(tb.TB, ended, "CloseConn did not return")
	return err
}

func idleConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// TestConnWaitReturnsWhatTheCallReturned: a call that its ClientConn's Close ends passes
// CloseConn, which returns what the call returned; Unpark is not run.
func TestConnWaitReturnsWhatTheCallReturned(t *testing.T) {
	cc := idleConn(t)
	closing := errors.New("closing")
	waiting := make(chan struct{})
	unparked := false
	p := ConnWait{
		What: "the call waiting", Over: "its wait was over",
		Call: func() error {
			connDone := streamend.ConnDone(cc)
			close(waiting)
			<-connDone
			return closing
		},
		Parked: func() { within.Recv(t, waiting, "the call did not start waiting") },
		Unpark: func() { unparked = true },
	}.Start()
	tb := &fatalTB{TB: t}
	if err := closeConn(p, tb, cc); !errors.Is(err, closing) {
		t.Errorf("CloseConn = %v, want what the call returned, %v", err, closing)
	}
	if tb.failure != "" || unparked {
		t.Errorf("failure %q, Unpark run: %v; want no failure and Unpark not run", tb.failure, unparked)
	}
}

// TestConnWaitFailsACallCloseDoesNotEnd: a call that its ClientConn's Close leaves waiting
// fails the test, once Unpark has ended its wait, with the words the closing notes quote and
// what the call returned then.
func TestConnWaitFailsACallCloseDoesNotEnd(t *testing.T) {
	defer func(grace time.Duration) { connCloseGrace = grace }(connCloseGrace)
	connCloseGrace = 10 * time.Millisecond // the call never returns before Unpark
	cc := idleConn(t)
	waiting, unpark := make(chan struct{}), make(chan struct{})
	p := ConnWait{
		What: "the call waiting for a slot", Over: "its 1h wait was over",
		Call: func() error {
			close(waiting)
			<-unpark
			return errors.New("slot taken")
		},
		Parked: func() { within.Recv(t, waiting, "the call did not start waiting") },
		Unpark: func() { close(unpark) },
	}.Start()
	tb := &fatalTB{TB: t}
	if err := closeConn(p, tb, cc); err != nil {
		t.Errorf("CloseConn = %v after failing the test, want nil", err)
	}
	const want = "the call waiting for a slot did not return within 10ms of ClientConn.Close (it returned slot taken once its 1h wait was over)"
	if tb.failure != want {
		t.Errorf("failure %q, want %q", tb.failure, want)
	}
}
