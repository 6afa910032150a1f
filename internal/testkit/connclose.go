package testkit

import (
	"context"
	"testing"
	"time"

	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// connCloseGrace is how long of real time a parked call has to return once its ClientConn is
// closed: room for a busy machine, where the wait it is parked in lasts an hour of fake time.
var connCloseGrace = 5 * time.Second

// ConnWait is a call that a test parks in a wait (a retry's backoff, a bulkhead's queue, a rate
// limiter's wait, a fleet-wide limiter's wait) to check that ClientConn.Close ends it: Start
// runs the call on a goroutine of its own and returns once it is parked, Parked.CloseConn closes
// its ClientConn and returns what the call returned. When the call does not return within 5 s,
// CloseConn ends the wait another way (Unpark), so that the call returns and leaks no
// goroutine, and fails the test:
//
//	WHAT did not return within 5s of ClientConn.Close (it returned ERR once OVER)
type ConnWait struct {
	// What names the parked call in the failure: "the call waiting for a slot".
	What string
	// Over says what ended the wait when Close did not, in the failure: "its 1h wait was over".
	Over string
	// Call makes the call and returns what it returned.
	Call func() error
	// Parked returns once the call is parked in its wait: a fake clock's BlockUntil, say.
	Parked func()
	// Unpark ends the wait when Close did not: it moves the fake clock past it, frees the slot,
	// cancels the call's context.
	Unpark func()
}

// Parked is a call that ConnWait.Start parked.
type Parked struct {
	w    ConnWait
	done chan error
}

// Start runs w.Call on a goroutine of its own and returns once w.Parked has.
func (w ConnWait) Start() *Parked {
	p := &Parked{w: w, done: make(chan error, 1)}
	go func() { p.done <- w.Call() }()
	w.Parked()
	return p
}

// Done yields what the call returned, for a test that ends the wait some other way than
// CloseConn. It yields once.
func (p *Parked) Done() <-chan error { return p.done }

// CloseConn closes cc, the call's ClientConn, and returns what the call returned, once it
// has, within 5 s. When it has not, CloseConn runs Unpark and fails t with what the call
// returned then.
func (p *Parked) CloseConn(t testing.TB, cc *grpc.ClientConn) error {
	t.Helper()
	if err := cc.Close(); err != nil {
		t.Fatal(err)
	}
	grace := time.NewTimer(connCloseGrace)
	defer grace.Stop()
	select {
	case err := <-p.done:
		return err
	case <-grace.C:
		p.w.Unpark()
		t.Fatalf("%s did not return within %v of ClientConn.Close (it returned %v once %s)", p.w.What, connCloseGrace, <-p.done, p.w.Over)
		return nil
	}
}

// CompareOrCheck is a ConnWait's Call for a test run for both kinds of call: a unary Compare
// on cc with ctx or, with stream, the open of a Check stream, which cc's Close ends.
func CompareOrCheck(ctx context.Context, cc *grpc.ClientConn, stream bool) func() error {
	return func() error {
		if stream {
			_, err := kycv1.NewLivenessServiceClient(cc).Check(ctx)
			return err
		}
		_, err := kycv1.NewFaceMatchServiceClient(cc).Compare(ctx, &kycv1.CompareRequest{})
		return err
	}
}
