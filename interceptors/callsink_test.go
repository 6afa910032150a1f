package interceptors_test

import (
	"context"
	"testing"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// A call made with observe.WithCallSink sends its own events to that sink as well as to the
// suite's; other calls do not.
func TestCallSinkGetsTheCallsOwnEvents(t *testing.T) {
	srv := &testkit.Server{CompareF: testkit.FailFirst(1, unavailable())}
	e := newEnv(t, threeProfiles(), srv)
	call := &testkit.Recorder{}
	ctx := observe.WithCallSink(context.Background(), call)
	if _, err := e.face.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("Compare: %v", err)
	}
	if _, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("second Compare: %v", err)
	}
	for _, k := range []observe.Kind{observe.AttemptFinished, observe.RetryScheduled, observe.CallFinished} {
		want := map[observe.Kind]int{observe.AttemptFinished: 2, observe.RetryScheduled: 1, observe.CallFinished: 1}[k]
		if got := call.Count(k); got != want {
			t.Errorf("call sink: %d %v events, want %d", got, k, want)
		}
	}
	if got := e.rec.Count(observe.CallFinished); got != 2 {
		t.Errorf("suite sink: %d CallFinished, want 2 (both calls)", got)
	}
	if got := e.rec.Count(observe.AttemptFinished); got != 3 {
		t.Errorf("suite sink: %d AttemptFinished, want 3", got)
	}
}
