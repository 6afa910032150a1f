package kyc

// ArrivalOffset is arrivalOffset, for the external tests.
var ArrivalOffset = arrivalOffset

// ExpiryReason is expiryReason, for the external tests.
func (v *Verifier) ExpiryReason(date string) string { return v.expiryReason(date) }
