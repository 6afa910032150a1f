package promobs_test

import (
	"strconv"
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	grpccodes "google.golang.org/grpc/codes"
)

// Issue 17 item 9: distinct method names past MaxMethods share the "other" label value, so
// the series stay bounded however many names calls bring, and none is lost.
func TestMethodLabelBoundedPastMaxMethods(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promobs.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	const names = 20000
	for i := range names {
		m.Observe(observe.Event{Kind: observe.CallFinished, Service: "s.v1.S", Method: "/s.v1.S/M" + strconv.Itoa(i),
			Code: grpccodes.OK, Class: codes.Success})
	}
	if n := testutil.CollectAndCount(reg, promobs.NameCalls); n != promobs.MaxMethods+1 {
		t.Fatalf("%d method names gave %d series, want MaxMethods+1 (%d)", names, n, promobs.MaxMethods+1)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	other := -1.0
	for _, f := range families {
		if f.GetName() != promobs.NameCalls {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "method" && l.GetValue() == promobs.OtherMethod {
					other = s.GetCounter().GetValue()
				}
			}
		}
	}
	if other != names-promobs.MaxMethods {
		t.Fatalf("method=%q counts %v calls, want %d", promobs.OtherMethod, other, names-promobs.MaxMethods)
	}
}

// A name that got a label value of its own keeps it: the names learnt last before the bound
// was reached (MaxMethods names in all) are counted under their own label on every later call
// too, not under OtherMethod once the bound is reached.
func TestMethodLabelStableAtTheBound(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promobs.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for i := range promobs.MaxMethods {
			m.Observe(observe.Event{Kind: observe.CallFinished, Service: "s.v1.S", Method: "/s.v1.S/M" + strconv.Itoa(i),
				Code: grpccodes.OK, Class: codes.Success})
		}
	}
	got := scrape(t, reg, promobs.NameCalls)
	if len(got) != promobs.MaxMethods {
		t.Errorf("%d series, want MaxMethods (%d): none under %q", len(got), promobs.MaxMethods, promobs.OtherMethod)
	}
	for series, v := range got {
		if v != 2 {
			t.Errorf("%s = %v, want 2 (both calls under the method's own label)", series, v)
		}
	}
}
