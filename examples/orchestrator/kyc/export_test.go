package kyc

import kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"

// ArrivalOffset is arrivalOffset, for the external tests.
var ArrivalOffset = arrivalOffset

// ExpiryReason is expiryReason, for the external tests.
func (v *Verifier) ExpiryReason(date string) string { return v.expiryReason(date) }

// SetStepEnded sets the hook called from each step's goroutine once the step's end is
// recorded.
func (v *Verifier) SetStepEnded(f func(kycv1.Step)) { v.stepEnded = f }
