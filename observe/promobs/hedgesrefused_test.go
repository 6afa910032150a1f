package promobs_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
)

// oneHedgeRefused is the exposition of face match's hedges after one hedge, sent for its
// delay, that reached no service.
const oneHedgeRefused = `
# HELP bulwark_hedges_total Hedged attempts started, by why (delay: the hedging delay passed with no answer); those a bulwark policy below refused (bulwark_hedges_refused_total) included.
# TYPE bulwark_hedges_total counter
bulwark_hedges_total{reason="delay",service="kyc.v1.FaceMatchService"} 1
# HELP bulwark_hedges_refused_total Hedged attempts a bulwark policy below the hedging policy refused (class rejected), which reached no service, by why they were sent.
# TYPE bulwark_hedges_refused_total counter
bulwark_hedges_refused_total{reason="delay",service="kyc.v1.FaceMatchService"} 1
`

// A hedge that a bulkhead below the hedging policy refuses counts in bulwark_hedges_total,
// whose HedgeSent comes as it starts, and in bulwark_hedges_refused_total, from its
// AttemptFinished (class rejected): the service received none of it, and the difference
// says so.
func TestHedgeRefusedBelowIsCounted(t *testing.T) {
	m, reg := newMetrics(t)
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	finished := make(chan observe.Event, 4)
	sink := observe.Multi(m, observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.AttemptFinished {
			finished <- e
		}
	}))
	p, err := hedge.New(hedge.Config{MaxAttempts: 2, Delay: d}, hedge.WithClock(clk), hedge.WithObserver(sink))
	if err != nil {
		t.Fatal(err)
	}
	bh, err := bulkhead.New(face, bulkhead.Config{MaxConcurrent: 1}) // attempt 1 holds its one slot
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int32
	in, release := make(chan struct{}), make(chan struct{})
	service := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		served.Add(1)
		close(in)
		<-release
		return nil
	}
	down := bh.Unary()
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return down(ctx, method, req, reply, cc, service, opts...)
	}
	done := make(chan error, 1)
	go func() {
		done <- p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, invoker)
	}()
	<-in
	clk.BlockUntil(1)
	clk.Advance(d) // the hedge starts, and the bulkhead refuses it at once
	if e := <-finished; e.Attempt != 2 || e.Class != codes.Rejected {
		t.Fatalf("first attempt finished: attempt %d, class %v; want the hedge (2), rejected", e.Attempt, e.Class)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("call: %v", err)
	}
	<-finished // attempt 1's
	if n := served.Load(); n != 1 {
		t.Fatalf("the service received %d attempts, want 1", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(oneHedgeRefused), promobs.NameHedges, promobs.NameHedgesRefused); err != nil {
		t.Error(err)
	}
}

// Only a hedge's refusal counts as a hedge refused: an attempt refused with no Reason (attempt
// 1, a retry) does not, nor does a hedge that reached the service whatever its answer. A
// service's refused series is made at 0 with its first hedge, so that rate() counts its first
// refusal.
func TestHedgesRefusedSeries(t *testing.T) {
	m, reg := newMetrics(t)
	hedgeOf := func(svc, method string, n int, code grpccodes.Code, class codes.Class) observe.Event {
		e := attempt(svc, method, n, code, class, time.Millisecond)
		e.Policy, e.Reason = observe.PolicyHedge, observe.ReasonHedgeDelay
		return e
	}
	for _, e := range []observe.Event{
		{Kind: observe.HedgeSent, Service: ocr, Method: extract, Policy: observe.PolicyHedge, Attempt: 2, Reason: observe.ReasonHedgeDelay},
		hedgeOf(ocr, extract, 2, grpccodes.Unavailable, codes.Transient),
		hedgeOf(ocr, extract, 2, grpccodes.OK, codes.Success),
		attempt(ocr, extract, 1, grpccodes.Unavailable, codes.Rejected, 0),
		attempt(ocr, extract, 2, grpccodes.ResourceExhausted, codes.Rejected, 0),
		{Kind: observe.HedgeSent, Service: face, Method: compare, Policy: observe.PolicyHedge, Attempt: 2, Reason: observe.ReasonHedgeDelay},
		{Kind: observe.HedgeSent, Service: face, Method: compare, Policy: observe.PolicyHedge, Attempt: 3, Reason: observe.ReasonHedgeDelay},
		hedgeOf(face, compare, 2, grpccodes.ResourceExhausted, codes.Rejected),
		hedgeOf(face, compare, 3, grpccodes.Unavailable, codes.Rejected),
	} {
		m.Observe(e)
	}
	got := scrape(t, reg, promobs.NameHedgesRefused)
	want := map[string]float64{
		`bulwark_hedges_refused_total{reason="delay",service="kyc.v1.OCRService"}`:       0,
		`bulwark_hedges_refused_total{reason="delay",service="kyc.v1.FaceMatchService"}`: 2,
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}
