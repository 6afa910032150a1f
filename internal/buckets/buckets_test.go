package buckets

import (
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExpire(t *testing.T) {
	tests := []struct {
		name     string
		head, e  int64
		n        int
		wantHead int64
		want     []int // indices expired, in order
	}{
		{name: "same epoch", head: 3, e: 3, n: 4, wantHead: 3},
		{name: "earlier epoch", head: 3, e: 1, n: 4, wantHead: 3},
		{name: "one ahead", head: 3, e: 4, n: 4, wantHead: 4, want: []int{0}},
		{name: "two ahead, wrapping", head: 2, e: 4, n: 4, wantHead: 4, want: []int{3, 0}},
		{name: "n-1 ahead: all but the head's bucket", head: 0, e: 3, n: 4, wantHead: 3, want: []int{1, 2, 3}},
		{name: "n ahead: each bucket once", head: 1, e: 5, n: 4, wantHead: 5, want: []int{2, 3, 0, 1}},
		{name: "far ahead: each bucket once", head: 1, e: 1000, n: 4, wantHead: 1000, want: []int{1, 2, 3, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			head := Expire(tt.head, tt.e, tt.n, func(i int) { got = append(got, i) })
			if head != tt.wantHead || !slices.Equal(got, tt.want) {
				t.Fatalf("Expire(%d, %d, %d) = %d, expired %v; want %d, %v", tt.head, tt.e, tt.n, head, got, tt.wantHead, tt.want)
			}
		})
	}
}

// TestExpireKeepsTotals drives a ring with running totals as the windows do, against a
// window recomputed from scratch.
func TestExpireKeepsTotals(t *testing.T) {
	const n = 5
	var (
		ring  [n]int
		total int
		head  int64
	)
	type add struct{ epoch int64 }
	var history []add
	epochs := []int64{0, 0, 1, 3, 3, 4, 9, 10, 10, 11, 30, 31, 33, 33, 34, 35}
	for _, e := range epochs {
		head = Expire(head, e, n, func(i int) { total -= ring[i]; ring[i] = 0 })
		ring[head%n]++
		total++
		history = append(history, add{head})
		want := 0
		for _, h := range history {
			if h.epoch > head-n {
				want++
			}
		}
		if total != want {
			t.Fatalf("at epoch %d: total %d, want %d", e, total, want)
		}
	}
	var sink int
	if a := testing.AllocsPerRun(100, func() {
		head = Expire(head, head+2, n, func(i int) { sink += ring[i]; ring[i] = 0 })
	}); a != 0 {
		t.Fatalf("Expire: %v allocs, want 0", a)
	}
}
