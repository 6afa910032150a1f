package promobs_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus/testutil"
	grpccodes "google.golang.org/grpc/codes"
)

// The code label comes from the server's grpc-status, which grpc-go passes on as any int32:
// a server answering with codes outside the canonical 17 must not make a series per value.
// They share the label "other"; the canonical codes keep their names.
func TestCodeLabelBounded(t *testing.T) {
	m, reg := newMetrics(t)
	const svc, method = "s.v1.S", "/s.v1.S/M"
	for c := range grpccodes.Code(1000) {
		m.Observe(observe.Event{Kind: observe.CallFinished, Service: svc, Method: method, Code: c, Class: codes.ServerFault})
		m.Observe(observe.Event{Kind: observe.AttemptFinished, Service: svc, Method: method, Code: c, Class: codes.ServerFault})
	}
	for _, name := range []string{promobs.NameCalls, promobs.NameAttempts} {
		if n := testutil.CollectAndCount(reg, name); n != 17+1 {
			t.Errorf("%s: %d series for 1000 codes, want 18 (the canonical 17 and other)", name, n)
		}
	}
	got := scrape(t, reg, promobs.NameCalls)
	if v := got[`bulwark_calls_total{class="server_fault",code="other",method="/s.v1.S/M",service="s.v1.S"}`]; v != 1000-17 {
		t.Errorf(`code="other" counts %v calls, want %d`, v, 1000-17)
	}
	if v := got[`bulwark_calls_total{class="server_fault",code="Unauthenticated",method="/s.v1.S/M",service="s.v1.S"}`]; v != 1 {
		t.Errorf(`code="Unauthenticated" counts %v calls, want 1`, v)
	}
}
