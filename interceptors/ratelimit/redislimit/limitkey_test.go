package redislimit

import (
	"context"
	"math"
	"strconv"
	"testing"
)

// Replicas of one limiter name with different limits (a rolling deploy, a partial reload that
// changes the rate or the burst) coexist. They used to share one TAT, which the smaller limit
// clamped to its own span at each denial, handing the larger limit that difference as fresh
// tokens again and again. Each limit now has a bucket of its own: between them the fleet
// admits at most what the two limits allow together, however many calls either is denied.
// At one call per hour nothing refills while the test runs.
func TestOtherLimitOtherBucket(t *testing.T) {
	for _, tt := range []struct {
		name               string
		large, small       float64 // rates
		largeB, smallB     int     // bursts
		largeMax, smallMax int     // what each may admit at most
	}{
		{"burst 100 beside burst 10", hourly, hourly, 100, 10, 100, 10},
		{"rate r beside 2r", hourly, 2 * hourly, 10, 10, 10, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, p := sharedAddr(t), prefix(t)
			large := testLimiter(t, "ocr", config(addr, p, tt.large, tt.largeB)) // fail-closed
			small := testLimiter(t, "ocr", config(addr, p, tt.small, tt.smallB))
			var admitted [2]int
			for round := range 20 {
				for i, l := range []*Limiter{large, small} {
					for range 200 { // until denied
						d, err := l.Take(context.Background(), 0)
						if err != nil {
							t.Fatalf("round %d, limiter %d: %v", round, i, err)
						}
						if !d.Allowed {
							break
						}
						admitted[i]++
					}
				}
			}
			if admitted[0] > tt.largeMax || admitted[1] > tt.smallMax {
				t.Errorf("the larger limit admitted %d (at most %d), the smaller %d (at most %d): the limits flood each other's bucket",
					admitted[0], tt.largeMax, admitted[1], tt.smallMax)
			}
			if admitted[0] < tt.largeMax || admitted[1] < tt.smallMax {
				t.Errorf("the larger limit admitted %d, the smaller %d; want a full bucket each (%d, %d)",
					admitted[0], admitted[1], tt.largeMax, tt.smallMax)
			}
			if large.Key() == small.Key() {
				t.Errorf("both limits use the key %q", large.Key())
			}
		})
	}
}

// The key is "rate:", the key prefix and the name, then the limit: its emission interval in
// nanoseconds and its burst. The prefix comes first, so that an ACL pattern rate:<prefix>*
// still covers it, and the suffix has no colon, so that a name ending in something like a
// suffix cannot take another limit's key.
func TestKeyLayout(t *testing.T) {
	addr := sharedAddr(t)
	for _, tt := range []struct {
		rate  float64
		burst int
		want  string
	}{
		{10, 20, "rate:p:kyc.v1.OCRService:100000000:20"},
		{10, 0, "rate:p:kyc.v1.OCRService:100000000:10"},
		{0.5, 1, "rate:p:kyc.v1.OCRService:2000000000:1"},
		{2.5, 3, "rate:p:kyc.v1.OCRService:400000000:3"},
		{3, 3, "rate:p:kyc.v1.OCRService:333333333.3333333:3"},
		{1e6, 1, "rate:p:kyc.v1.OCRService:1000:1"},
		{999999, 1, "rate:p:kyc.v1.OCRService:1000.001000001:1"},
		{hourly, 1, "rate:p:kyc.v1.OCRService:3600000000000:1"},
	} {
		l, err := New("kyc.v1.OCRService", config(addr, "p:", tt.rate, tt.burst))
		if err != nil {
			t.Fatal(err)
		}
		if l.Key() != tt.want {
			t.Errorf("rate %v burst %d: Key() = %q, want %q", tt.rate, tt.burst, l.Key(), tt.want)
		}
		_ = l.Close()
	}
	// The default prefix, for a limiter on the caller's client.
	l, err := NewWithClient("ocr", newClient(t, addr), config(addr, "", 10, 20))
	if err != nil {
		t.Fatal(err)
	}
	if want := "rate:bulwark:ratelimit:ocr:100000000:20"; l.Key() != want {
		t.Errorf("Key() = %q, want %q", l.Key(), want)
	}
}

// The step and the give-back both use the limiter's key: a token taken for a caller who left
// before its answer came is given back to the bucket it was taken from, and another limit's
// bucket of the same name is left alone.
func TestGiveBackHitsTheLimitersKey(t *testing.T) {
	addr, p := sharedAddr(t), prefix(t)
	l := testLimiter(t, "ocr", config(addr, p, hourly, 3))
	other := testLimiter(t, "ocr", config(addr, p, hourly, 4))
	take(t, l)
	take(t, other)
	left := make(chan struct{})
	close(left) // the caller has left: nobody receives the answer
	l.settle(context.Background(), left, nil, make(chan reply))
	for _, l := range []*Limiter{l, other} {
		raw, err := l.client.Get(context.Background(), l.Key()).Result()
		if err != nil {
			t.Fatalf("%s: %v", l.Key(), err)
		}
		tat, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Fatal(err)
		}
		if taken := math.Round((tat - redisNow(t, l)) * hourly); taken != 1 {
			t.Errorf("%s holds %v tokens taken, want 1: the abandoned token given back to its own bucket", l.Key(), taken)
		}
	}
}
