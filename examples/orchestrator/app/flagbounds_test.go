package app

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"go.uber.org/zap/zapcore"
)

// TestFlagBoundsAndPairs pins each flag rule at its edge, and its wording: the value on the
// bound is taken, the one past it is a usage error whose line names the flag, the value and the
// rule; a flag that needs another is refused alone.
func TestFlagBoundsAndPairs(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // the stderr line's problem; "" for a command line that is taken
	}{
		{[]string{"-n", "1000000"}, ""},
		{[]string{"-n", "1000001"}, "-n 1000001 is above 1000000: a batch keeps every response for its summary (for a longer run use -serve)"},
		{[]string{"-n", "0"}, ""},
		{[]string{"-concurrency", "1"}, ""},
		{[]string{"-rate", "0.001"}, ""},
		{[]string{"-rate", "0.0009"}, "-rate 0.0009 is below 0.001: want at least one verification every 16m40s (0: closed loop)"},
		{[]string{"-serve", "127.0.0.1:0", "-stop-timeout", "0s"}, ""},
		{[]string{"-serve", "127.0.0.1:0", "-stop-timeout", "-1s"}, "-stop-timeout -1s is negative"},
		{[]string{"-metrics-linger", "5s"}, "-metrics-linger needs -metrics"},
		{[]string{"-metrics", "127.0.0.1:0", "-metrics-linger", "-1s"}, "-metrics-linger -1s is negative"},
		{[]string{"-log-digest", "-1s"}, "-log-digest -1s is negative"},
		{[]string{"-outage-service", "ocr"}, "-outage-at and -outage-service need -outage"},
		{[]string{"-outage-at", "1s"}, "-outage-at and -outage-service need -outage"},
		{[]string{"-outage", "1s", "-outage-at", "-1s"}, "-outage-at -1s is negative"},
	} {
		var stderr strings.Builder
		_, err := parseFlags(tt.args, &stderr)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%v: %v, want it taken", tt.args, err)
			}
			continue
		}
		if first, _, _ := strings.Cut(stderr.String(), "\n"); !errors.Is(err, ErrUsage) || first != "orchestrator: "+tt.want {
			t.Errorf("%v: err %v, stderr %q\nwant a usage error %q", tt.args, err, first, "orchestrator: "+tt.want)
		}
	}
}

// TestLogLevelFlagTakesFourLevels: -log-level is debug, info, warn or error; zap's other
// levels (dpanic, panic, fatal) are refused with the list, not taken to silence the logs.
func TestLogLevelFlagTakesFourLevels(t *testing.T) {
	for _, l := range []string{"debug", "info", "warn", "error"} {
		f, err := parseFlags([]string{"-log-level", l}, new(strings.Builder))
		if err != nil || f.logLevel.String() != l {
			t.Errorf("-log-level %s: %v, level %v", l, err, f)
		}
	}
	for _, l := range []string{"dpanic", "panic", "fatal", ""} {
		var stderr strings.Builder
		_, err := parseFlags([]string{"-log-level", l}, &stderr)
		if !errors.Is(err, ErrUsage) || !strings.Contains(stderr.String(), "want debug, info, warn or error") {
			t.Errorf("-log-level %q: err %v, stderr %q, want the four levels named", l, err, stderr.String())
		}
	}
	if f, err := parseFlags(nil, new(strings.Builder)); err != nil || f.logLevel != zapcore.WarnLevel {
		t.Errorf("default -log-level: %v, %v, want warn", f, err)
	}
}

// TestOutageDefaultsToTheEmbeddedStubs: -outage without -outage-service takes down every
// embedded stub, and none of the services given an external address.
func TestOutageDefaultsToTheEmbeddedStubs(t *testing.T) {
	f, err := parseFlags([]string{"-outage", "1s", "-ocr", "127.0.0.1:1"}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{stub.ServiceLiveness, stub.ServiceFaceMatch}; !slices.Equal(f.outageServices, want) {
		t.Errorf("outage services %v, want %v", f.outageServices, want)
	}
}
