package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// asCommand, set to 1, makes the test binary run main.
const asCommand = "BULWARK_PAIRED_TEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestZeroRefused: benchmarks.PairedConfig reads a zero field as its default, so -rounds 0
// would run 200 rounds, -n 0 2000 calls a block, -warmup 0 3000 calls and -size 0 one method:
// each is refused, with the flag named, before anything runs.
func TestZeroRefused(t *testing.T) {
	base := []string{"-chains", "raw", "-rounds", "1", "-n", "1", "-warmup", "1"}
	for _, tt := range []struct{ flag, value string }{{"rounds", "0"}, {"n", "0"}, {"warmup", "0"}, {"size", "0"}} {
		cmd := exec.Command(os.Args[0], append(base, "-"+tt.flag, tt.value)...)
		cmd.Env = append(os.Environ(), asCommand+"=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if rounds := strings.Count(stdout.String(), "# round "); err == nil || rounds > 0 {
			t.Errorf("-%s %s: exit %v after %d rounds, want an error before any", tt.flag, tt.value, err, rounds)
			continue
		}
		if !strings.Contains(stderr.String(), "-"+tt.flag) {
			t.Errorf("-%s %s: stderr %q does not name the flag", tt.flag, tt.value, stderr.String())
		}
	}
	// The base itself runs.
	cmd := exec.Command(os.Args[0], base...)
	cmd.Env = append(os.Environ(), asCommand+"=1")
	if out, err := cmd.Output(); err != nil || strings.Count(string(out), "# round ") != 1 {
		t.Errorf("%v: %v, output %q; want one round", base, err, out)
	}
}
