package hedge

import (
	"fmt"
	"strings"

	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "hedge",
		Rank:      section.RankHedge,
		Normalize: Normalize,
		Validate:  Config.Validate,
		Explain:   Config.Explain,
	})
}

// Explain describes c, with its defaults filled in (see Normalize), in one line.
func (c Config) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "up to %d attempts", c.MaxAttempts)
	if c.Percentile == 0 {
		fmt.Fprintf(&b, "; next one after %s", c.Delay)
	} else {
		fmt.Fprintf(&b, "; next one after the p%s latency of the last %d or %s× their median, the lower (%s until the first answer, at most that until %d are known), within %s .. %s",
			prose.Float(c.Percentile*100), c.Window, prose.Float(c.MedianMultiple), c.Delay, c.MinSamples, c.MinDelay, prose.OrNone(c.MaxDelay))
	}
	b.WriteString("; draws on the retry budget")
	if c.Idempotent {
		b.WriteString("; idempotent")
	}
	return b.String()
}
