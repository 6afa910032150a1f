package kyc_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
)

// TestDecidedShareOfNothingIsADash: a batch with no verification that ended or was shed
// (-n 0, or one an interruption cancelled whole) has no decided share: its decided row shows
// "-", as the rows below it do, where it read "0.0%", as if every verification had failed.
func TestDecidedShareOfNothingIsADash(t *testing.T) {
	for _, tt := range []struct {
		name string
		res  kyc.Result
	}{
		{"-n 0", kyc.Result{Elapsed: time.Millisecond}},
		{"all cancelled", kyc.Result{Responses: make([]*kycv1.VerifyResponse, 2), Arrivals: []kyc.Arrival{kyc.ArrivalCancelled, kyc.ArrivalCancelled},
			Elapsed: time.Second, Interrupted: true}},
	} {
		var b bytes.Buffer
		if err := kyc.SummarizeResult(tt.res, nil).WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		var decided string
		for _, l := range strings.Split(b.String(), "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[0] == "decided" {
				decided = strings.Join(f[:3], " ")
			}
		}
		if decided != "decided 0 -" {
			t.Errorf("%s: decided row %q, want %q:\n%s", tt.name, decided, "decided 0 -", b.String())
		}
	}
}
