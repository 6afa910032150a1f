package otelobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/otelobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A hedge that a policy below the hedging one refuses (a full bulkhead, an empty rate limit,
// a breaker that opened since the call began), while attempt 1 goes on and answers, shows on
// the call's span as a bulwark.rejected event naming the hedge, the policy, its reason, when
// to come back and, for a breaker, its state; the span's own attributes still say the call
// succeeded. The span used to show the hedge sent and an attempt of class rejected, and not
// who refused it or why.
func TestRefusedHedgeMarksTheSpan(t *testing.T) {
	const delay = 10 * time.Millisecond
	for _, tc := range []struct {
		name        string
		profile     config.Profile
		open        func(t *testing.T, e *env) // makes the policy refuse, attempt 1 under way
		wantPolicy  string
		wantReason  string
		wantAfterMs float64 // 0: no bulwark.retry_after_ms
		wantBreaker string  // "": no bulwark.breaker.state
	}{
		{name: "bulkhead full", profile: config.Profile{Bulkhead: &bulkhead.Config{MaxConcurrent: 1}},
			wantPolicy: observe.PolicyBulkhead, wantReason: bulkhead.ReasonFull},
		// One token a second: attempt 1 takes it, and the hedge, a delay later, is told to come
		// back when the next one is in.
		{name: "rate limited", profile: config.Profile{RateLimit: &ratelimit.Config{Rate: 1, Burst: 1}},
			wantPolicy: observe.PolicyRateLimit, wantReason: ratelimit.ReasonLimited, wantAfterMs: 990},
		// Another call fails while attempt 1 runs, and the breaker opens for an hour.
		{name: "breaker opened", profile: config.Profile{Breaker: &breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: time.Hour}},
			open: func(t *testing.T, e *env) {
				if _, err := e.face.Compare(context.Background(), &kycv1.CompareRequest{}); status.Code(err) != grpccodes.Unavailable {
					t.Fatalf("the call that opens the breaker: %v, want Unavailable", err)
				}
			},
			wantPolicy: observe.PolicyBreaker, wantReason: breaker.ReasonCircuitOpen, wantAfterMs: float64((time.Hour - delay) / time.Millisecond),
			wantBreaker: "open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(time.Now())
			arrived, release := make(chan struct{}, 1), make(chan struct{})
			srv := &testkit.Server{CompareF: func(_ context.Context, call int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
				if call > 1 {
					return nil, status.Error(grpccodes.Unavailable, "down") // the breaker's other call
				}
				arrived <- struct{}{}
				<-release // attempt 1 answers once the hedge was refused
				return &kycv1.CompareResponse{Similarity: 0.9}, nil
			}}
			shared := &testkit.Recorder{} // the suite's sink: the refusing policy's own Rejected
			mp := tc.profile
			mp.Hedge = &hedge.Config{MaxAttempts: 2, Delay: delay}
			e := newEnvWith(t, mp, srv, []interceptors.Option{interceptors.WithClock(clk), interceptors.WithObserver(shared)})
			ctx, parent := e.tp.Tracer("test").Start(context.Background(), "verification")
			done := make(chan error, 1)
			go func() {
				_, err := e.face.Compare(ctx, &kycv1.CompareRequest{Selfie: []byte(secret)})
				done <- err
			}()
			<-arrived // attempt 1 is under way, and its hedge's timer armed
			if tc.open != nil {
				tc.open(t, e)
			}
			clk.Advance(delay) // the hedge goes, and the policy below refuses it at once
			testkit.Eventually(t, "the hedge's refusal", func() bool { return shared.Count(observe.Rejected) == 1 })
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("Compare: %v, want attempt 1's answer", err)
			}
			parent.End()
			spans := e.exp.GetSpans()
			var call tracetest.SpanStub // the call's span, a child of the verification's (not the breaker's other call's)
			for _, sp := range spans {
				if sp.Name == callSpanName && sp.Parent.SpanID() == parent.SpanContext().SpanID() {
					call = sp
				}
			}
			if call.Name == "" {
				t.Fatalf("no call span under the verification among %v", names(spans))
			}
			wantAttr(t, "call", call.Attributes, otelobs.KeyClass, "success")
			if _, ok := attr(call.Attributes, otelobs.KeyRejectedBy); ok {
				t.Errorf("the call span says the call was rejected: %v", call.Attributes)
			}
			if call.Status.Code == otelcodes.Error {
				t.Errorf("call span status %v, want unset for a success", call.Status)
			}
			rej := events(call, otelobs.EventRejected)
			if len(rej) != 1 {
				t.Fatalf("%d %s events on the call span, want 1 (the hedge's)", len(rej), otelobs.EventRejected)
			}
			what := "the hedge's rejection"
			wantAttr(t, what, rej[0].Attributes, otelobs.KeyAttempt, int64(2))
			wantAttr(t, what, rej[0].Attributes, otelobs.KeyRejectedBy, tc.wantPolicy)
			wantAttr(t, what, rej[0].Attributes, otelobs.KeyReason, tc.wantReason)
			if tc.wantAfterMs > 0 {
				wantAttr(t, what, rej[0].Attributes, otelobs.KeyRetryAfter, tc.wantAfterMs)
			} else if v, ok := attr(rej[0].Attributes, otelobs.KeyRetryAfter); ok {
				t.Errorf("%s: %s = %v, want none (the policy cannot tell)", what, otelobs.KeyRetryAfter, v.AsInterface())
			}
			if tc.wantBreaker != "" {
				wantAttr(t, what, rej[0].Attributes, otelobs.KeyBreaker, tc.wantBreaker)
			}
			if !rej[0].Time.Equal(clk.Now()) {
				t.Errorf("%s at %v, want the refusal's time %v", what, rej[0].Time, clk.Now())
			}
			var hedged int
			for _, ev := range events(call, otelobs.EventAttempt) {
				if v, _ := attr(ev.Attributes, otelobs.KeyHedge); v.AsBool() {
					hedged++
					wantAttr(t, "the refused hedge", ev.Attributes, otelobs.KeyAttempt, int64(2))
					wantAttr(t, "the refused hedge", ev.Attributes, otelobs.KeyClass, "rejected")
				}
			}
			if hedged != 1 {
				t.Errorf("%d hedged attempt events, want 1", hedged)
			}
			checkNoPayload(t, spans)
		})
	}
}
