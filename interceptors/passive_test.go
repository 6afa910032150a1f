package interceptors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Observing a suite must not change what it does: with a sink and no retry section, a call is
// one attempt with no retry step in the chain (no retry error type, no RetriesExhausted), and
// its events are still one AttemptFinished and one CallFinished.
func TestObserverForcesNoRetryStep(t *testing.T) {
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"b": {Breaker: &breaker.Config{ConsecutiveFailures: 5, RecoveryTimeout: time.Hour}}},
		Services: map[string]config.Service{svcOCR: {Profile: "b"}},
	}
	for _, observed := range []bool{false, true} {
		rec := &testkit.Recorder{}
		var opts []interceptors.Option
		if observed {
			opts = append(opts, interceptors.WithObserver(rec))
		}
		s, err := interceptors.New(cfg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		inv := &testkit.CountingInvoker{Err: unavailable()}
		err = s.Unary()(context.Background(), testkit.MethodExtract, nil, nil, nil, inv.Invoke)
		_ = s.Close()
		var exhausted *retry.ExhaustedError
		if status.Code(err) != grpccodes.Unavailable || errors.As(err, &exhausted) || inv.Count(testkit.MethodExtract) != 1 {
			t.Fatalf("observed %v: err %v (%T), %d attempts; want the server's Unavailable, one attempt", observed, err, err, inv.Count(testkit.MethodExtract))
		}
		if !observed {
			continue
		}
		if n := rec.Count(observe.RetriesExhausted); n != 0 {
			t.Errorf("%d RetriesExhausted events without a retry section", n)
		}
		att, calls := rec.Events(observe.AttemptFinished), rec.Events(observe.CallFinished)
		if len(att) != 1 || att[0].Attempt != 1 || att[0].Code != grpccodes.Unavailable || att[0].Method != testkit.MethodExtract || att[0].Service != svcOCR {
			t.Errorf("AttemptFinished events %+v, want one for attempt 1, Unavailable", att)
		}
		if len(calls) != 1 || calls[0].Attempt != 1 || calls[0].Code != grpccodes.Unavailable {
			t.Errorf("CallFinished events %+v, want one of 1 attempt, Unavailable", calls)
		}
	}
}

// A stream's CallFinished counts its attempts without the caller, or the suite, asking the
// retry step for a report.
func TestStreamCallFinishedCountsAttemptsWithoutReport(t *testing.T) {
	srv := &testkit.Server{CheckF: func(n int, st kycv1.LivenessService_CheckServer) error {
		if n == 1 {
			return unavailable()
		}
		return testkit.DrainCheck(st, 0.9)
	}}
	e := newEnv(t, threeProfiles(), srv)
	if _, err := e.check(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	calls := e.rec.Events(observe.CallFinished)
	if len(calls) != 1 || calls[0].Attempt != 2 || calls[0].Code != grpccodes.OK {
		t.Fatalf("CallFinished events %+v, want one OK after 2 attempts", calls)
	}
	if n := e.srv.Calls(testkit.MethodCheck); n != 2 {
		t.Fatalf("server saw %d streams, want 2", n)
	}
}
