package kyc

// ArrivalOffset is arrivalOffset, for the external tests.
var ArrivalOffset = arrivalOffset
