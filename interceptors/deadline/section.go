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
// (and so its Default). A deadline the budget set, not the section, is applied with
// ReasonBudget, so that an operator tells the two apart.
func build(env *section.Env, c Config) (section.Built, error) {
	capped := env.Capped(c.Max)
	byBudget := capped != c.Max
	c.Max = capped
	defaultByBudget := byBudget && c.Default > c.Max
	c.Default = min(c.Default, c.Max)
	p, err := New(c, WithClock(env.Clock), WithObserver(env.Sink))
	if err == nil {
		p.maxByBudget, p.defaultByBudget = byBudget, defaultByBudget
	}
	return section.Step(p, err)
}

// Explain describes c in one line.
func (c Config) Explain() string {
	return fmt.Sprintf("default %s, max %s", prose.OrNone(c.Default), prose.OrNone(c.Max))
}
