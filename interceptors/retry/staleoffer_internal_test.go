package retry

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/attempt"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// samples is an attempt.Sampler that keeps what it records.
type samples []time.Duration

func (s *samples) Sample(d time.Duration) { *s = append(*s, d) }

// A lower bound that a hedging policy below offered for a round the per-attempt timeout did
// not end (the call's own deadline ended it, and the call with it) is the ended call's: a later
// call, which takes its pooled state, records none of it when its own attempt, which no
// hedging policy offered anything for, meets the per-attempt timeout.
func TestAnOfferDiesWithItsCall(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	p, err := New(Config{MaxAttempts: 1, PerAttemptTimeout: time.Second}, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	var hedged samples
	offering := func(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
		// A hedging policy below, at the end of a round its caller's deadline ended.
		attempt.RoundOf(opts).Offer(&hedged, 30*time.Millisecond)
		return status.Error(grpccodes.DeadlineExceeded, "the caller's deadline")
	}
	if err := p.Unary()(context.Background(), "/test.v1.S/Hedged", nil, nil, nil, offering); err == nil {
		t.Fatal("the first call succeeded; want its DeadlineExceeded")
	}
	slow := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		clk.Advance(time.Second) // the per-attempt timeout
		within.Recv(t, ctx.Done(), "the attempt's timeout")
		return ctx.Err()
	}
	for range 3 { // the pool may keep the first call's state on another P's list
		if err := p.Unary()(context.Background(), "/test.v1.S/Plain", nil, nil, nil, slow); err == nil {
			t.Fatal("the timed-out call succeeded; want its timeout")
		}
	}
	if len(hedged) != 0 {
		t.Errorf("the first call's hedging policy recorded %v, offered at the end of its call, when later calls of another method met their per-attempt timeout; want none", hedged)
	}
}
