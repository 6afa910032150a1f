package retry

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
)

// A token bucket's Refund gives back what its Withdraw took, no more: a bucket of fewer than
// two tokens lets a hedge withdraw while it holds less than one (more than half of it), and
// Refund added a whole token back, so that every refused hedge left the bucket fuller than
// before it was drawn. A failure while the hedge is out takes nothing from an empty bucket,
// as before, and the refund then restores what the hedge found.
func TestTokenBucketRefundGivesBackWhatWithdrawTook(t *testing.T) {
	p, err := New(Config{Throttle: RetryBudgetConfig{MaxTokens: 1.5, TokenRatio: 0.4}})
	if err != nil {
		t.Fatal(err)
	}
	b := p.Budget("kyc.v1.OCRService")
	b.Record(codes.Verdict{Class: codes.Transient}) // 1.5 → 0.5
	b.Record(codes.Verdict{Class: codes.Success})   // 0.9
	if got := b.Tokens(); got != 0.9 {
		t.Fatalf("tokens after a failure and a success = %v, want 0.9", got)
	}
	for i, failWhileOut := range []bool{false, true} {
		ok, receipt := b.Draw()
		if !ok {
			t.Fatalf("run %d: Draw at 0.9 tokens (above half of 1.5) refused", i)
		}
		if got := b.Tokens(); got != 0 {
			t.Fatalf("run %d: tokens after Draw at 0.9 = %v, want 0", i, got)
		}
		if failWhileOut {
			b.Record(codes.Verdict{Class: codes.Transient})
			if got := b.Tokens(); got != 0 {
				t.Fatalf("run %d: tokens after a failure on an empty bucket = %v, want 0", i, got)
			}
		}
		b.Refund(receipt)
		if got := b.Tokens(); got != 0.9 {
			t.Fatalf("run %d: tokens after Draw at 0.9 and its Refund = %v, want 0.9: the refund gave back more than the withdrawal took", i, got)
		}
	}
}
