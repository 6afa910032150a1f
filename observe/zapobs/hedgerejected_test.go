package zapobs_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A hedge that a policy below the hedging one refuses (here a full bulkhead), while attempt 1
// goes on and answers, is told to the call's sink alone as a Rejected event with the hedge's
// attempt. A zapobs sink given as the call's sink (observe.WithCallSink: a request-scoped
// logger) wrote it as "call rejected", without the attempt, for a call that succeeded: it
// names the hedge, "hedge rejected" with its attempt, at the level of rejection lines.
func TestRefusedHedgeIsNotACallRejected(t *testing.T) {
	const delay = 10 * time.Millisecond
	clk := clocktest.New(time.Now())
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	srv := testkit.Start(t, &testkit.Server{CompareF: func(_ context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		arrived <- struct{}{}
		<-release // attempt 1 answers once the hedge was refused
		return &kycv1.CompareResponse{Similarity: 0.9}, nil
	}})
	shared := &testkit.Recorder{} // the suite's sink: the bulkhead's own Rejected
	cfg := &config.Config{
		Budget: 5 * time.Second,
		Profiles: map[string]config.Profile{"p": {Bulkhead: &bulkhead.Config{MaxConcurrent: 1},
			Hedge: &hedge.Config{MaxAttempts: 2, Delay: delay}}},
		Services: map[string]config.Service{"kyc.v1.FaceMatchService": {Profile: "p"}},
	}
	s, err := interceptors.New(cfg, interceptors.WithClock(clk), interceptors.WithObserver(shared))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	face := kycv1.NewFaceMatchServiceClient(srv.Dial(t, s.DialOptions()...))
	core, logs := observer.New(zapcore.DebugLevel)
	ctx := observe.WithCallSink(context.Background(), zapobs.New(zap.New(core)))
	done := make(chan error, 1)
	go func() {
		_, err := face.Compare(ctx, &kycv1.CompareRequest{})
		done <- err
	}()
	select {
	case <-arrived: // attempt 1 is under way, and its hedge's timer armed
	case err := <-done:
		t.Fatalf("Compare ended before reaching the server: %v", err)
	}
	clk.Advance(delay) // the hedge goes, and the bulkhead refuses it at once
	testkit.Eventually(t, "the hedge's refusal", func() bool { return shared.Count(observe.Rejected) == 1 })
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Compare: %v, want attempt 1's answer", err)
	}

	if n := logs.FilterMessage(zapobs.MsgRejected).Len(); n != 0 {
		t.Errorf("%d %q lines for a call that succeeded, want 0: %v", n, zapobs.MsgRejected, logs.FilterMessage(zapobs.MsgRejected).All())
	}
	hedged := logs.FilterMessage(zapobs.MsgHedgeRejected).All()
	if len(hedged) != 1 {
		t.Fatalf("%d %q lines, want 1 (the hedge's)", len(hedged), zapobs.MsgHedgeRejected)
	}
	if hedged[0].Level != zapcore.WarnLevel {
		t.Errorf("hedge rejected at %v, want warn, the level of rejection lines", hedged[0].Level)
	}
	want := []string{"service", "method", "attempt", "policy", "reason", "code", "retry_after"}
	var keys []string
	for _, f := range hedged[0].Context {
		keys = append(keys, f.Key)
	}
	if !slices.Equal(keys, want) {
		t.Errorf("hedge rejected fields %v, want %v", keys, want)
	}
	got := hedged[0].ContextMap()
	if got["attempt"] != int64(2) || got["policy"] != observe.PolicyBulkhead || got["reason"] != bulkhead.ReasonFull {
		t.Errorf("hedge rejected %v, want attempt 2, policy %s, reason %s", got, observe.PolicyBulkhead, bulkhead.ReasonFull)
	}
}

// The line is chosen by the event, not by the hedge's numbering: any Rejected event with an
// Attempt (1 included) is "hedge rejected", as the package doc says; one without is "call
// rejected".
func TestRejectedLineFollowsAttempt(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		want    string
	}{
		{0, zapobs.MsgRejected},
		{1, zapobs.MsgHedgeRejected},
		{3, zapobs.MsgHedgeRejected},
	} {
		core, logs := observer.New(zapcore.DebugLevel)
		zapobs.New(zap.New(core)).Observe(observe.Event{Kind: observe.Rejected, Service: "kyc.v1.FaceMatchService",
			Method: "Compare", Attempt: tc.attempt, Policy: observe.PolicyBulkhead, Reason: bulkhead.ReasonFull})
		if all := logs.All(); len(all) != 1 || all[0].Message != tc.want {
			t.Errorf("Rejected with Attempt %d logged %v, want one %q line", tc.attempt, all, tc.want)
		}
	}
}
