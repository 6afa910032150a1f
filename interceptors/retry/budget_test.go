package retry

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
)

func TestBudgetWithdraw(t *testing.T) {
	p, err := New(Config{Throttle: Throttle{MaxTokens: 10, TokenRatio: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	b := p.Budget("kyc.v1.OCRService")
	if b == nil || b != p.Budget("kyc.v1.OCRService") {
		t.Fatal("Budget: want one shared bucket per service")
	}
	if p.Budget("kyc.v1.FaceMatchService") == b {
		t.Fatal("Budget: services share a bucket")
	}
	// 10 tokens, threshold 5: five withdrawals succeed (10 → 5), the sixth is refused.
	for i := range 5 {
		if !b.Withdraw() {
			t.Fatalf("withdrawal %d refused with %v tokens", i+1, b.Tokens())
		}
	}
	if b.Withdraw() || b.Allow() {
		t.Fatalf("at %v tokens (half): Withdraw or Allow said yes", b.Tokens())
	}
	// One success pays back 0.5 tokens: one more withdrawal is allowed, then none.
	b.Record(codes.Verdict{Class: codes.Success})
	if got := b.Tokens(); got != 5.5 {
		t.Fatalf("tokens after a success = %v, want 5.5", got)
	}
	if !b.Withdraw() || b.Withdraw() {
		t.Fatal("after one success: want exactly one withdrawal")
	}
	// Business outcomes leave the bucket alone; failures take a token.
	b.Record(codes.Verdict{Class: codes.Business})
	b.Record(codes.Verdict{Class: codes.Transient})
	if got := b.Tokens(); got != 3.5 {
		t.Fatalf("tokens = %v, want 3.5", got)
	}
	// The retries of calls through the policy see the same bucket.
	if got := p.method("/kyc.v1.OCRService/Extract").bucket; got != b {
		t.Fatal("calls use another bucket than Budget returns")
	}
}

func TestBudgetOff(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Budget("kyc.v1.OCRService") != nil {
		t.Fatal("Budget with throttling off: want nil")
	}
}

func TestBudgetWithdrawAllocs(t *testing.T) {
	p, _ := New(Config{Throttle: Throttle{MaxTokens: 1000}})
	b := p.Budget("s")
	if n := testing.AllocsPerRun(100, func() { b.Withdraw(); b.Record(codes.Verdict{Class: codes.Success}) }); n != 0 {
		t.Fatalf("Withdraw+Record: %v allocs, want 0", n)
	}
}
