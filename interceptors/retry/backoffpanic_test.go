package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// panicsLater is an attempt stream whose RecvMsg fails with Unavailable, which the policy
// retries, and whose method named by panicIn (SendMsg, Header or Trailer) panics with "boom"
// once boom is closed, after saying that it was called (calling); its Trailer, after the one
// read of the retry loop (for the server's pushback).
type panicsLater struct {
	ctx      context.Context
	panicIn  string
	calling  chan struct{}
	boom     chan struct{}
	trailers int
}

func (a *panicsLater) maybePanic(method string) {
	if method == "Trailer" {
		if a.trailers++; a.trailers == 1 {
			return
		}
	}
	if a.panicIn == method {
		close(a.calling)
		<-a.boom
		panic("boom")
	}
}

func (a *panicsLater) Header() (metadata.MD, error) { a.maybePanic("Header"); return nil, nil }
func (a *panicsLater) Trailer() metadata.MD         { a.maybePanic("Trailer"); return nil }
func (a *panicsLater) CloseSend() error             { return nil }
func (a *panicsLater) Context() context.Context     { return a.ctx }
func (a *panicsLater) SendMsg(any) error            { a.maybePanic("SendMsg"); return nil }

func (a *panicsLater) RecvMsg(any) error {
	return status.Error(grpccodes.Unavailable, "down")
}

// TestStreamPanicDuringTheBackoff: an attempt's Header or Trailer (or SendMsg, on the sender's
// goroutine) that panics while RecvMsg, on another goroutine, sleeps before retrying that
// attempt's failure ends the stream for good, as such a panic does: the panic goes on to its
// caller, and RecvMsg returns Internal once its sleep is over, without opening another attempt.
// The end of the stream stopped the retry loop's timer, on which RecvMsg slept, from the
// panicking goroutine: a data race, and RecvMsg slept on until the caller's context ended,
// to return the attempt's Unavailable instead.
func TestStreamPanicDuringTheBackoff(t *testing.T) {
	for _, method := range []string{"Header", "Trailer", "SendMsg"} {
		t.Run(method, func(t *testing.T) { testPanicDuringTheBackoff(t, method) })
	}
}

func testPanicDuringTheBackoff(t *testing.T, method string) {
	clk := clocktest.New(time.Now())
	p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true}, retry.WithClock(clk), retry.WithRand(seq(0.5)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &panicsLater{ctx: ctx, panicIn: method, calling: make(chan struct{}), boom: make(chan struct{})}
	opened := 0
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		opened++
		return a, nil
	}
	desc := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	cs, err := p.Stream()(ctx, desc, nil, testkit.MethodCheck, streamer)
	if err != nil {
		t.Fatal(err)
	}
	recovered := make(chan any, 1)
	call := func() {
		defer func() { recovered <- recover() }()
		switch method {
		case "SendMsg":
			_ = cs.SendMsg(&kycv1.CheckRequest{Index: 1})
		case "Header":
			_, _ = cs.Header()
		case "Trailer":
			_ = cs.Trailer()
		}
	}
	received := make(chan error, 1)
	if method == "SendMsg" {
		// The send is under way when the receive fails.
		go call()
		<-a.calling
		go func() { received <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
		clk.BlockUntil(1) // RecvMsg sleeps before the retry
	} else {
		go func() { received <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
		clk.BlockUntil(1) // RecvMsg sleeps before the retry
		go call()
		<-a.calling
	}
	close(a.boom)
	if v := <-recovered; v != "boom" {
		t.Fatalf("%s's panic = %v, want boom", method, v)
	}
	clk.Advance(time.Hour)
	select {
	case err := <-received:
		if status.Code(err) != grpccodes.Internal {
			t.Fatalf("RecvMsg = %v, want Internal: the stream ended with the panic", err)
		}
	case <-time.After(10 * time.Second):
		cancel()
		err := <-received
		t.Fatalf("RecvMsg still sleeping after its backoff (it returned %v once the caller canceled)", err)
	}
	if opened != 1 {
		t.Fatalf("%d attempts opened, want 1", opened)
	}
}

// TestStreamPanicDuringTheBackoffUnderABudget: with a time budget (Config.Budget), which the
// stream's context carries, an attempt's Header that panics during the backoff sleep ends the
// stream as it does without one: the call is reported as ended, not as retries exhausted for
// the budget, which was far from spent. The end of the stream released the budget's context,
// which cut the sleep short, and the cut was taken for the budget's end.
func TestStreamPanicDuringTheBackoffUnderABudget(t *testing.T) {
	clk := clocktest.New(time.Now())
	rec := &testkit.Recorder{}
	p, err := retry.New(retry.Config{MaxAttempts: 3, Idempotent: true, Budget: time.Hour},
		retry.WithClock(clk), retry.WithRand(seq(0.5)), retry.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &panicsLater{ctx: ctx, panicIn: "Header", calling: make(chan struct{}), boom: make(chan struct{})}
	streamer := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
		return a, nil
	}
	var info retry.Info
	desc := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	cs, err := p.Stream()(ctx, desc, nil, testkit.MethodCheck, streamer, retry.Report(&info))
	if err != nil {
		t.Fatal(err)
	}
	received := make(chan error, 1)
	go func() { received <- cs.RecvMsg(new(kycv1.CheckResponse)) }()
	clk.BlockUntil(2) // the budget's timer, and the backoff sleep's
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_, _ = cs.Header()
	}()
	<-a.calling
	close(a.boom)
	if v := <-recovered; v != "boom" {
		t.Fatalf("Header's panic = %v, want boom", v)
	}
	if err := <-received; status.Code(err) != grpccodes.Internal {
		t.Fatalf("RecvMsg = %v, want Internal: the stream ended with the panic", err)
	}
	if ex := rec.Events(observe.RetriesExhausted); len(ex) != 0 {
		t.Fatalf("RetriesExhausted = %+v, want none: the stream ended with the panic", ex)
	}
	if info.Reason != "" || info.Attempts != 1 {
		t.Fatalf("Report = %+v, want 1 attempt and no reason", info)
	}
}
