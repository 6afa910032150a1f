package app

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
)

// FuzzParseFlags: the orchestrator's command line (one argument per line of the input) never
// panics, fails only with -h or a usage error, and what it accepts is a runnable batch: valid
// faults, case rates in [0,1], a positive in-flight bound.
func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"", "-n\n40\n-rate\n100", "-rate\n1e300", "-rate\nNaN", "-rate\n-Inf", "-concurrency\n0",
		"-fail\nunavailable=0.2,deadline_exceeded=0.05", "-fail\nunavailable=2", "-outage\n1m\n-outage-service\nocr",
		"-outage\n1s\n-ocr\n127.0.0.1:1\n-outage-service\nocr", "-spoof-rate\n0.9\n-unreadable-rate\n0.9", "-h",
		"-log-level\nbogus", "-max-in-flight\n5", "-latency\n-1s", "-seed\n-9223372036854775808", "extra"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\n")
		}
		fl, err := parseFlags(args, io.Discard)
		if err != nil {
			if fl != nil || !errors.Is(err, ErrUsage) && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("parseFlags(%q) = %v, %v; want nil and a usage error", args, fl, err)
			}
			return
		}
		if err := fl.faults.Validate(); err != nil {
			t.Errorf("parseFlags(%q) accepted faults that Validate refuses: %v", args, err)
		}
		b := fl.batch
		if b.N < 0 || b.Concurrency < 1 || !(b.Rate >= 0) || b.MaxInFlight < 0 {
			t.Errorf("parseFlags(%q) accepted the batch %+v", args, b)
		}
		for _, r := range []float64{b.UnreadableRate, b.SpoofRate, b.MismatchRate, b.ExpiredRate} {
			if !(r >= 0 && r <= 1) {
				t.Errorf("parseFlags(%q) accepted a case rate %v", args, r)
			}
		}
		if b.Rate > 0 && b.MaxInFlight == 0 {
			if n := kyc.DefaultInFlightLimit(b.Rate, kyc.DefaultBudget); n < 1 {
				t.Errorf("parseFlags(%q): rate %v gives an in-flight bound of %d", args, b.Rate, n)
			}
		}
	})
}
