package app

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestFlagsOfTheOtherModeAreRefused: a flag that only a batch reads (-n, -json, ...) given with
// -serve, or -serve's -stop-timeout given to a batch, is a bad command line naming the flag,
// as -max-in-flight without -rate is: the run would ignore it without a word.
func TestFlagsOfTheOtherModeAreRefused(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-serve", "127.0.0.1:0", "-n", "500"}, "-n"},
		{[]string{"-serve", "127.0.0.1:0", "-concurrency", "4"}, "-concurrency"},
		{[]string{"-serve", "127.0.0.1:0", "-rate", "50"}, "-rate"},
		{[]string{"-serve", "127.0.0.1:0", "-json"}, "-json"},
		{[]string{"-serve", "127.0.0.1:0", "-spoof-rate", "0.5"}, "-spoof-rate"},
		{[]string{"-serve", "127.0.0.1:0", "-metrics", "127.0.0.1:0", "-metrics-linger", "5s"}, "-metrics-linger"},
		{[]string{"-stop-timeout", "10s"}, "-stop-timeout"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(tt.args, &stderr)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%v: err %v, want a usage error naming %s", tt.args, err, tt.want)
			continue
		}
		if first, _, _ := strings.Cut(stderr.String(), "\n"); !strings.Contains(first, tt.want+" ") {
			t.Errorf("%v: stderr %q does not name %s", tt.args, first, tt.want)
		}
	}
	// Each mode keeps its own flags.
	for _, args := range [][]string{
		{"-serve", "127.0.0.1:0", "-stop-timeout", "1s", "-seed", "3", "-outage", "1s"},
		{"-n", "10", "-json", "-rate", "5", "-spoof-rate", "0.1"},
	} {
		if _, err := parseFlags(args, new(bytes.Buffer)); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}
