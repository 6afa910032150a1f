package otelobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A stream whose retry a policy refuses (its first attempt failed and opened the breaker, which
// then refuses the retry's new stream) ends rejected, as RecvMsg says: its span must carry the
// bulwark.rejected event and attributes, as a stream refused at open does.
func TestStreamRefusedOnRetryMarksTheCall(t *testing.T) {
	srv := &testkit.Server{CheckF: func(int, kycv1.LivenessService_CheckServer) error {
		return status.Error(grpccodes.Unavailable, "down")
	}}
	e := newEnv(t, config.Profile{Retry: quickRetry(2), Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour}}, srv)
	st, err := e.live.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.CloseAndRecv()
	var rej *codes.Rejection
	if !errors.As(err, &rej) || rej.Policy != "breaker" {
		t.Fatalf("CloseAndRecv: %v, want the breaker's rejection of the retry", err)
	}
	call := find(t, e.exp.GetSpans(), checkSpanName)
	wantAttr(t, "stream refused on retry", call.Attributes, otelobs.KeyClass, "rejected")
	wantAttr(t, "stream refused on retry", call.Attributes, otelobs.KeyRejectedBy, "breaker")
	wantAttr(t, "stream refused on retry", call.Attributes, otelobs.KeyReason, breaker.ReasonCircuitOpen)
	if n := len(events(call, otelobs.EventRejected)); n != 1 {
		t.Errorf("%d rejected events on the span, want 1", n)
	}
}
