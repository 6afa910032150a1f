package kyc_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
)

// heldLiveness holds every check until release is closed, or until a second check arrives.
type heldLiveness struct {
	entered *atomic.Int32
	release chan struct{}
	once    *sync.Once
}

func (h heldLiveness) Check(ctx context.Context, opts ...grpc.CallOption) (grpc.ClientStreamingClient[kycv1.CheckRequest, kycv1.CheckResponse], error) {
	if h.entered.Add(1) >= 2 {
		h.once.Do(func() { close(h.release) })
	}
	<-h.release
	return instant{}.Check(ctx, opts...)
}

// TestOpenLoopShedsAtTheBound: an open-loop arrival that finds MaxInFlight verifications in
// flight is shed, not started: the bound is "at most", not "more than".
func TestOpenLoopShedsAtTheBound(t *testing.T) {
	held := heldLiveness{entered: new(atomic.Int32), release: make(chan struct{}), once: new(sync.Once)}
	v := kyc.NewVerifier(nil, nil, nil)
	v.Liveness, v.FaceMatch, v.OCR = held, instant{}, instant{}
	b := kyc.Batch{N: 2, Rate: 1e9, MaxInFlight: 1,
		// The shed arrival's tick lets the first verification end.
		Progress: func(int, int) { held.once.Do(func() { close(held.release) }) }}
	res := b.RunResult(context.Background(), v)
	if res.Arrivals[0] != kyc.ArrivalDone || res.Arrivals[1] != kyc.ArrivalShed || res.MaxInFlight != 1 || res.InFlightLimit != 1 {
		t.Errorf("arrivals %v, at most %d in flight (bound %d); want [done shed], 1 (bound 1)",
			res.Arrivals, res.MaxInFlight, res.InFlightLimit)
	}
	if s := kyc.SummarizeResult(res, nil); s.Shed != 1 || s.Total != 1 || s.Approved != 1 {
		t.Errorf("summary shed %d, total %d, approved %d; want 1, 1, 1", s.Shed, s.Total, s.Approved)
	}
}

// TestCasesFollowTheRates: each generated case is drawn by the rates, cumulative in the order
// unreadable, spoof, mismatch, expired: rates that add up to 1 leave no genuine case and none of
// a kind whose rate is zero.
func TestCasesFollowTheRates(t *testing.T) {
	b := kyc.Batch{N: 1000, Seed: 3, UnreadableRate: 0.25, SpoofRate: 0.25, MismatchRate: 0.25, ExpiredRate: 0.25}
	count := map[kyc.Case]int{}
	for _, c := range b.Cases() {
		count[c]++
	}
	for _, c := range []kyc.Case{kyc.CaseUnreadable, kyc.CaseSpoof, kyc.CaseMismatch, kyc.CaseExpired} {
		if n := count[c]; n < 200 || n > 300 {
			t.Errorf("case %d drawn %d times of 1000 at rate 0.25, want 200..300 (counts %v)", c, n, count)
		}
	}
	if n := count[kyc.CaseGenuine]; n != 0 {
		t.Errorf("%d genuine cases with rates adding up to 1 (counts %v)", n, count)
	}
	b = kyc.Batch{N: 1000, Seed: 3, SpoofRate: 1}
	for i, c := range b.Cases() {
		if c != kyc.CaseSpoof {
			t.Fatalf("case %d is %d at a spoof rate of 1, want spoof", i, c)
		}
	}
}
