package app

import (
	"errors"
	"strings"
	"testing"
)

// TestExternalAddressPortIsDialable: an external service's host:port whose port can never be
// dialled (past 65535, 0, a name no service has) is a usage error naming the flag, the value
// and the rule. It was taken: a warning, then a batch whose every step on that service failed,
// and exit status 0. Addresses that may come up later, targets with a scheme and named ports
// are taken as before.
func TestExternalAddressPortIsDialable(t *testing.T) {
	for _, tt := range []struct {
		flag, addr string
		want       string // the stderr line's problem; "" for an address that is taken
	}{
		{"-liveness", "127.0.0.1:99999", `invalid value "127.0.0.1:99999" for flag -liveness: port "99999" is not one to dial: want HOST:PORT with a port from 1 to 65535 (or a service name such as https)`},
		{"-ocr", "[::1]:70000", `invalid value "[::1]:70000" for flag -ocr: port "70000" is not one to dial: want HOST:PORT with a port from 1 to 65535 (or a service name such as https)`},
		{"-facematch", "10.0.0.7:0", `invalid value "10.0.0.7:0" for flag -facematch: port "0" is not one to dial: want HOST:PORT with a port from 1 to 65535 (or a service name such as https)`},
		{"-facematch", "ocr.internal:5oo51", `invalid value "ocr.internal:5oo51" for flag -facematch: port "5oo51" is not one to dial: want HOST:PORT with a port from 1 to 65535 (or a service name such as https)`},
		{"-liveness", "127.0.0.1:1", ""},
		{"-liveness", "127.0.0.1:65535", ""},
		{"-liveness", "localhost:https", ""},
		{"-liveness", "dns:///liveness.internal:50051", ""},
		{"-liveness", "unix:/run/liveness.sock", ""},
		{"-liveness", "liveness.internal", ""},
	} {
		var stderr strings.Builder
		f, err := parseFlags([]string{tt.flag, tt.addr}, &stderr)
		if tt.want == "" {
			if err != nil || f.addrs[strings.TrimPrefix(tt.flag, "-")] != tt.addr {
				t.Errorf("%s %s: %v, want it taken", tt.flag, tt.addr, err)
			}
			continue
		}
		if first, _, _ := strings.Cut(stderr.String(), "\n"); !errors.Is(err, ErrUsage) || first != "orchestrator: "+tt.want {
			t.Errorf("%s %s: err %v, stderr %q\nwant a usage error %q", tt.flag, tt.addr, err, first, "orchestrator: "+tt.want)
		}
	}
}

// TestEmptyExternalAddressSaysWhatItWants: an empty -liveness (-facematch, -ocr) is a usage
// error that says what address the flag wants; it said "empty address", and no more.
func TestEmptyExternalAddressSaysWhatItWants(t *testing.T) {
	var stderr strings.Builder
	_, err := parseFlags([]string{"-ocr", ""}, &stderr)
	want := `orchestrator: invalid value "" for flag -ocr: empty address: want HOST:PORT with a port from 1 to 65535 (or a service name such as https), or a gRPC target such as dns:///host:port`
	if first, _, _ := strings.Cut(stderr.String(), "\n"); !errors.Is(err, ErrUsage) || first != want {
		t.Errorf("-ocr \"\": err %v, stderr %q\nwant a usage error %q", err, first, want)
	}
}
