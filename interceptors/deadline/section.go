package deadline

import (
	"fmt"

	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:  "deadline",
		Rank: section.RankDeadline,
		// Every chain has the step, section or not: the call budget caps every call.
		Always:    true,
		Stateless: true,
		Build:     build,
	})
}

// build makes the deadline step of a suite's chain: the call budget caps the section's Max
// (and so its Default).
func build(env *section.Env, c Config) (section.Built, error) {
	c.Max = env.Capped(c.Max)
	c.Default = min(c.Default, c.Max)
	return section.Step(New(c, WithClock(env.Clock), WithObserver(env.Sink)))
}

// Explain describes c in one line.
func (c Config) Explain() string {
	return fmt.Sprintf("default %s, max %s", prose.OrNone(c.Default), prose.OrNone(c.Max))
}
