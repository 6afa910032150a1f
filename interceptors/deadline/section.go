package deadline

import (
	"fmt"

	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:      "deadline",
		Rank:     section.RankDeadline,
		Validate: Config.Validate,
		Explain:  Config.Explain,
	})
}

// Explain describes c in one line.
func (c Config) Explain() string {
	return fmt.Sprintf("default %s, max %s", prose.OrNone(c.Default), prose.OrNone(c.Max))
}
