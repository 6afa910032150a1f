package fallback

import (
	"slices"
	"strings"

	"github.com/bulwarkrpc/bulwark/section"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "fallback",
		Rank:      section.RankFallback,
		Normalize: Normalize,
		Validate:  Config.Validate,
		Equal:     Config.Equal,
		Explain:   Config.Explain,
	})
}

// Normalize returns cfg with OnClasses set to DefaultClasses when it names neither classes
// nor codes.
func Normalize(cfg Config) Config {
	if len(cfg.OnClasses) == 0 && len(cfg.OnCodes) == 0 {
		cfg.OnClasses = slices.Clone(DefaultClasses)
	}
	return cfg
}

// Equal reports whether c and d have the same fields; an empty list equals a nil one.
func (c Config) Equal(d Config) bool {
	return c.ReplyJSON == d.ReplyJSON && slices.Equal(c.OnClasses, d.OnClasses) && slices.Equal(c.OnCodes, d.OnCodes)
}

// Explain describes c, with its defaults filled in (see Normalize), in one line.
func (c Config) Explain() string {
	var on []string
	for _, cl := range c.OnClasses {
		on = append(on, cl.String())
	}
	on = append(on, c.OnCodes...)
	t := "on " + strings.Join(on, ", ")
	if c.ReplyJSON != "" {
		t += "; reply " + c.ReplyJSON
	}
	return t
}
