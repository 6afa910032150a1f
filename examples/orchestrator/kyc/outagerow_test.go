package kyc_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// TestTableTellsWhatTheOutageMet: the table's outage row says whether the outage started and
// how many requests it refused at each service, and names a service it met no request of.
func TestTableTellsWhatTheOutageMet(t *testing.T) {
	for _, c := range []struct {
		o    kyc.OutageReport
		want string
	}{
		{kyc.OutageReport{Services: []string{"ocr"}, AtMs: 500, ForMs: 2000, Refused: map[string]int64{"ocr": 0}},
			"outage ocr for 2s from 500ms: never started (the batch ended before it)"},
		{kyc.OutageReport{Services: []string{"ocr", "facematch"}, AtMs: 500, ForMs: 2000, Started: true, Refused: map[string]int64{"ocr": 15}},
			"outage ocr, facematch for 2s from 500ms: requests refused: ocr 15, facematch 0 (no request of facematch met it: not tested)"},
		{kyc.OutageReport{Services: []string{"ocr"}, ForMs: 60000, Started: true, Refused: map[string]int64{"ocr": 3}},
			"outage ocr for 1m0s from 0s: requests refused: ocr 3"},
	} {
		var b bytes.Buffer
		if err := (kyc.Summary{Outage: &c.o}).WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		if got := outageRow(b.String()); got != c.want {
			t.Errorf("table of %+v:\n%s\noutage row %q, want %q", c.o, b.String(), got, c.want)
		}
	}
	var b bytes.Buffer
	if err := (kyc.Summary{}).WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if got := outageRow(b.String()); got != "" {
		t.Errorf("table of a run without -outage:\n%s\nwant no outage row", b.String())
	}
}

// outageRow is the table's outage row, its runs of spaces made one, or "" when it has none.
func outageRow(table string) string {
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "outage ") {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return ""
}
