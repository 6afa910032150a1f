package section_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/section"
)

// loopConfig and loopBranch hold each other by pointer: a configuration type may nest
// without bound, which config decodes as deep as a file writes it.
type loopConfig struct {
	N    int         `yaml:"n" zero:"is below 1"`
	Next *loopBranch `yaml:"next"`
}

type loopBranch struct {
	M    int         `yaml:"m" zero:"is below 2"`
	Back *loopConfig `yaml:"back"`
}

// Register collects the zero tags of the structs a configuration type holds: it stopped only
// at a struct that holds its own type, and recursed without end through two types that hold
// each other, overflowing the stack (a fatal error, not a panic) at init.
func TestRegisterMutuallyRecursiveConfig(t *testing.T) {
	key, rank := unregistered("looptoy", section.RankFallback-20)
	section.Register(section.Spec[loopConfig]{Key: key, Rank: rank})
	s, ok := section.Lookup(key)
	if !ok {
		t.Fatalf("%s is not registered", key)
	}
	for path, want := range map[string]string{"n": "is below 1", "next.m": "is below 2"} {
		if got, ok := s.ZeroRule(path); !ok || got != want {
			t.Errorf("ZeroRule(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}
