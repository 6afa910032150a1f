package stub

import (
	"context"
	"testing"
	"time"

	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestPushbackOnlyOnResourceExhausted: Faults.Pushback rides on ResourceExhausted answers only:
// an injected Unavailable carries no RetryInfo, whatever the pushback.
func TestPushbackOnlyOnResourceExhausted(t *testing.T) {
	e := start(t, Config{Faults: Faults{
		Fail:     map[grpccodes.Code]float64{grpccodes.Unavailable: 1},
		Pushback: 500 * time.Millisecond,
	}})
	err := e.extract(context.Background())
	if status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("code = %v, want Unavailable", err)
	}
	if ri := retryInfo(err); ri != nil {
		t.Errorf("an injected Unavailable carries RetryInfo %v, want none", ri)
	}
}
