package app

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// TestOutageOfAnExternalServiceNamesIt: an -outage-service that names a service given an
// external address is a usage error naming the flag, its value, the service and its address,
// and the rule (which services can be taken down). It said "-outage-service names a service
// given an external address", and left the operator to find which.
func TestOutageOfAnExternalServiceNamesIt(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-ocr", "10.0.0.7:50051", "-outage", "1s", "-outage-service", "liveness,ocr"},
			`orchestrator: -outage-service "liveness,ocr" names ocr, which -ocr gives an external address (10.0.0.7:50051): only embedded stubs can be taken down, here liveness, facematch` + "\n"},
		{[]string{"-liveness", "10.0.0.7:1", "-facematch", "10.0.0.7:2", "-ocr", "10.0.0.7:3", "-outage", "1s", "-outage-service", "facematch"},
			`orchestrator: -outage-service "facematch" names facematch, which -facematch gives an external address (10.0.0.7:2): only embedded stubs can be taken down, and every service has an external address` + "\n"},
	} {
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), append([]string{"-explain"}, tt.args...), &stdout, &stderr)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%v: %v, want a usage error", tt.args, err)
		}
		if want := tt.want + "Run 'orchestrator -h' for the flags.\n"; stderr.String() != want {
			t.Errorf("%v: stderr\n%q\nwant\n%q", tt.args, stderr.String(), want)
		}
	}
}
