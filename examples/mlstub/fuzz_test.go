package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

// FuzzParseFlags: mlstub's command line (one argument per line of the input) never panics,
// fails only with -h or a usage error reported in one line and a hint, and what it accepts is
// a configuration the stub takes: valid, with a positive stop timeout.
func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"", "-services\nocr", "-services\n", "-fail\nunavailable=0.2", "-fail\nok=1", "-spike-rate\n2",
		"-latency\n-1s", "-outage-after\n1m", "-outage-after\n1m\n-outage-for\n1s", "-stop-timeout\n0", "-capacity\n-1",
		"-seed\n0x10", "-h", "extra", "-pushback\n-1ns", "-v\n-services\nocr,ocr"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\n")
		}
		var stderr bytes.Buffer
		cfg, _, err := parseFlags(args, &stderr)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return
			}
			if !errors.Is(err, errUsage) {
				t.Fatalf("parseFlags(%q): %v, not a usage error", args, err)
			}
			if !strings.HasPrefix(stderr.String(), "mlstub: ") || !strings.HasSuffix(stderr.String(), "\nRun 'mlstub -h' for the flags.\n") {
				t.Fatalf("parseFlags(%q) wrote %q", args, stderr.String())
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("parseFlags(%q) accepted a configuration Validate refuses: %v", args, err)
		}
		if cfg.StopTimeout <= 0 || len(cfg.Services) == 0 {
			t.Fatalf("parseFlags(%q) accepted %+v", args, cfg)
		}
	})
}
