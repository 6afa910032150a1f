package throttle

import (
	"fmt"

	"github.com/bulwarkrpc/bulwark/internal/prose"
	"github.com/bulwarkrpc/bulwark/section"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "adaptive_throttle",
		Rank:      section.RankThrottle,
		Normalize: Normalize,
		Validate:  Config.Validate,
		Explain:   Config.Explain,
	})
}

// Explain describes c, with its defaults filled in (see Normalize), in one line.
func (c Config) Explain() string {
	txt := fmt.Sprintf("reject locally past K=%s x accepts over %s, at most %s%%", prose.Float(c.K), c.Window, prose.Float(c.MaxRejectProbability*100))
	if c.MinRequests > 0 {
		txt += fmt.Sprintf(", from %d requests", c.MinRequests)
	}
	return txt
}
