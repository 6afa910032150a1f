package codes

import (
	"math"
	"time"

	"google.golang.org/grpc/metadata"
)

// PushbackKey is the trailer in which a server tells a client how long to wait before retrying
// (gRFC A6). Its value is a non-negative decimal int32 of milliseconds; anything else (a
// negative, malformed or out-of-range value, or more than one value) tells the client not to
// retry at all.
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

// maxPushback bounds a pushback delay so that absurd values cannot overflow time.Duration: a
// RetryInfo delay, and a trailer's, whose largest valid value, math.MaxInt32 ms (about 24.9
// days; ParsePushbackValue refuses anything larger), is above it too.
const maxPushback = 24 * time.Hour

// ParsePushback reads the grpc-retry-pushback-ms trailer from md. It never panics: anything that
// is not exactly one value of A6's format (see ParsePushbackValue) is read as a request not to
// retry.
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

// ParsePushbackValue reads one grpc-retry-pushback-ms value strictly as gRFC A6 defines it: a
// non-negative decimal int32 with no sign, no leading zeros ("0" itself is valid), no spaces
// and at most math.MaxInt32 (2147483647). Anything else is read as a request not to retry:
// "+5", "007", " 5", "1e3" and "2147483648" all stop, so an overflow can never become a long
// sleep. This is stricter than grpc-go, which accepts what strconv.Atoi accepts; a server that
// sends "+5" or "007" gets no retry rather than a guessed one. A valid value above the 24 h
// cap is read as 24 h.
func ParsePushbackValue(v string) Pushback {
	if len(v) == 0 || len(v) > 10 || (v[0] == '0' && len(v) > 1) {
		return Pushback{Stop: true}
	}
	var ms int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return Pushback{Stop: true}
		}
		ms = ms*10 + int64(c-'0')
	}
	if ms > math.MaxInt32 {
		return Pushback{Stop: true}
	}
	return Pushback{Delay: min(time.Duration(ms)*time.Millisecond, maxPushback), Set: true}
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
