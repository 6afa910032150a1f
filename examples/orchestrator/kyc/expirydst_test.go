package kyc_test

import (
	"testing"
	"time"
	_ "time/tzdata" // America/Santiago, whatever the machine's zoneinfo

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// TestExpiryValidThroughADayEndingInAClockChange: a document is valid through the whole of its
// expiry day, also when the clocks go forward at the midnight that ends it (America/Santiago,
// 2024-09-07 24:00 is 2024-09-08 01:00). Midnight after the expiry day, built as a time, does
// not exist there and came out as 23:00 on the expiry day itself: the last hour of the day
// judged the document expired.
func TestExpiryValidThroughADayEndingInAClockChange(t *testing.T) {
	loc, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		expiry string
		now    time.Time
		want   string
	}{
		{"2024-09-07", time.Date(2024, 9, 7, 23, 30, 0, 0, loc), ""},
		{"2024-09-07", time.Date(2024, 9, 8, 1, 0, 0, 0, loc), kyc.ReasonDocumentExpired},
		// The day that begins at 01:00: valid through its end, expired the day after.
		{"2024-09-08", time.Date(2024, 9, 8, 23, 30, 0, 0, loc), ""},
		{"2024-09-08", time.Date(2024, 9, 9, 0, 0, 0, 0, loc), kyc.ReasonDocumentExpired},
		{"2024-09-06", time.Date(2024, 9, 7, 0, 0, 0, 0, loc), kyc.ReasonDocumentExpired},
	} {
		v := &kyc.Verifier{Now: func() time.Time { return tt.now }}
		if got := v.ExpiryReason(tt.expiry); got != tt.want {
			t.Errorf("expiry %s judged at %v: reason %q, want %q", tt.expiry, tt.now, got, tt.want)
		}
	}
}
