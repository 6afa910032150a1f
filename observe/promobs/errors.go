package promobs

import "errors"

// Errors returned by New. Match them with errors.Is.
var (
	// ErrNilRegisterer is returned when New is given no Registerer.
	ErrNilRegisterer = errors.New("promobs: nil prometheus.Registerer")
	// ErrBadBuckets is returned when histogram buckets are empty or not strictly increasing.
	ErrBadBuckets = errors.New("promobs: bad histogram buckets")
)
