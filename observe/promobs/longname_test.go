package promobs_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
	grpccodes "google.golang.org/grpc/codes"
)

// A method or service name longer than 1024 bytes (a proxy forwards the :path it is sent,
// which may be megabytes) is not a label value of its own, however few names came before: it
// is counted under "other", so that it is neither kept nor exported on every scrape.
func TestLongNamesAreOther(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promobs.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	observeCall := func(service, method string) {
		m.Observe(observe.Event{Kind: observe.CallFinished, Service: service, Method: method, Code: grpccodes.OK, Class: codes.Success})
	}
	observeCall("s.v1.S", "/s.v1.S/Short")
	before := testkit.Heap()
	for i := range 100 {
		observeCall("s.v1.S", "/s.v1.S/"+testkit.LongName("M", i, 64<<10))
		svc := testkit.LongName("svc", i, 64<<10)
		observeCall(svc, "/"+svc+"/M")
	}
	grown := int64(testkit.Heap()) - int64(before)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	other := 0.0
	for _, f := range families {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if len(l.GetValue()) > 1024 {
					t.Fatalf("%s exports a %s label of %d bytes", f.GetName(), l.GetName(), len(l.GetValue()))
				}
			}
			if f.GetName() == promobs.NameCalls {
				for _, l := range s.GetLabel() {
					if l.GetName() == "method" && l.GetValue() == promobs.OtherMethod {
						other += s.GetCounter().GetValue()
					}
				}
			}
		}
	}
	if other != 200 {
		t.Errorf("method=%q counts %v calls, want the 200 of long names", promobs.OtherMethod, other)
	}
	if grown > 2<<20 {
		t.Errorf("200 calls of long names kept %d bytes, want none", grown)
	}
}
