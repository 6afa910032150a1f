package codes

import (
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"
)

// PushbackKey is the trailer in which a server tells a client how long to wait before retrying
// (gRFC A6). Its value is a non-negative whole number of milliseconds; a negative or malformed
// value, or more than one value, tells the client not to retry at all.
const PushbackKey = "grpc-retry-pushback-ms"

// Pushback is a server's instruction about retrying, read from the grpc-retry-pushback-ms
// trailer or a google.rpc.RetryInfo detail.
type Pushback struct {
	// Delay is the wait the server asked for. Meaningful when Set.
	Delay time.Duration
	// Set reports whether the server gave a delay.
	Set bool
	// Stop reports that the server asked the client not to retry.
	Stop bool
}

// maxPushback bounds a parsed delay so that absurd values cannot overflow time.Duration.
const maxPushback = 24 * time.Hour

// ParsePushback reads the grpc-retry-pushback-ms trailer from md. It never panics: anything that
// is not exactly one non-negative decimal integer is read as a request not to retry.
func ParsePushback(md metadata.MD) Pushback {
	vals := md[PushbackKey]
	switch len(vals) {
	case 0:
		return Pushback{}
	case 1:
		return ParsePushbackValue(vals[0])
	default:
		return Pushback{Stop: true}
	}
}

// ParsePushbackValue reads one grpc-retry-pushback-ms value, as ParsePushback does.
func ParsePushbackValue(v string) Pushback {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return Pushback{Stop: true}
	}
	d := maxPushback
	if ms < int64(maxPushback/time.Millisecond) {
		d = time.Duration(ms) * time.Millisecond
	}
	return Pushback{Delay: d, Set: true}
}

// merge combines two pieces of pushback: a request to stop wins, then the longer delay.
func (p Pushback) merge(q Pushback) Pushback {
	if p.Stop || q.Stop {
		return Pushback{Stop: true}
	}
	if !q.Set {
		return p
	}
	if !p.Set || q.Delay > p.Delay {
		return q
	}
	return p
}
