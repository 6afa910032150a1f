package promobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// A hedge that the hedging policy leaves unsent because an observer after promobs (in an
// observe.Multi) panicked on its HedgeSent counts in bulwark_hedges_total, which promobs was
// told before the panic, and in bulwark_hedges_refused_total, from its AttemptFinished (class
// rejected): the service received only attempt 1, and the difference of the two says so. It
// was reported canceled, and counted among the hedges that reached the service.
func TestHedgeUnsentForAnObserverPanicIsCountedRefused(t *testing.T) {
	m, reg := newMetrics(t)
	const d = 10 * time.Millisecond
	clk := clocktest.New(time.Time{})
	panicking := observe.SinkFunc(func(e observe.Event) {
		if e.Kind == observe.HedgeSent {
			panic("observer boom")
		}
	})
	p, err := hedge.New(hedge.Config{MaxAttempts: 2, Delay: d}, hedge.WithClock(clk), hedge.WithObserver(observe.Multi(m, panicking)))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{}, 2)
	service := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		served <- struct{}{}
		<-ctx.Done() // canceled as the call stops, on the observer's panic
		return status.FromContextError(ctx.Err()).Err()
	}
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_ = p.Unary()(context.Background(), compare, &kycv1.CompareRequest{}, &kycv1.CompareResponse{}, nil, service)
	}()
	<-served
	clk.BlockUntil(1)
	clk.Advance(d) // the hedge is due; the observer panics on its HedgeSent
	if v := <-recovered; v != "observer boom" {
		t.Fatalf("recovered %v, want the observer's panic", v)
	}
	if n := len(served); n != 0 {
		t.Fatalf("the service received %d attempts besides the first, want none", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(oneHedgeRefused), promobs.NameHedges, promobs.NameHedgesRefused); err != nil {
		t.Error(err)
	}
}
