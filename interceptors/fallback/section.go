package fallback

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwarkrpc/bulwark/section"
)

func init() {
	section.Register(section.Spec[Config]{
		Key:       "fallback",
		Rank:      section.RankFallback,
		Normalize: Normalize,
		// A reply is typed by its method: every method has a step of its own.
		Name:      func(_ Config, _, fullMethod string, _ bool) string { return fullMethod },
		Stateless: true,
		Build:     build,
	})
}

// Replies are the replies a suite's fallback steps serve, by full method or service (see
// interceptors.WithFallback); a suite passes them to Build in section.Env.Values.
type Replies map[string]Reply

// build makes the fallback step of a suite's chain, with the reply given for its method, else
// for every method of its service ("/<service>/*", as New's target), else for its service,
// else the section's reply_json.
func build(env *section.Env, c Config) (section.Built, error) {
	rs, _ := section.Value[Replies](env)
	reply := rs[env.FullMethod]
	if reply == nil && len(rs) > 0 {
		reply = rs["/"+env.Service+"/*"]
	}
	if reply == nil {
		reply = rs[env.Service]
	}
	return section.Step(New(env.FullMethod, c, reply, WithClock(env.Clock), WithObserver(env.Sink), WithClassifier(env.Classifier)))
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
	c = Normalize(c)
	var on []string
	for _, cl := range c.OnClasses {
		on = append(on, cl.String())
	}
	on = append(on, c.OnCodes...)
	t := "on " + strings.Join(on, ", ")
	if c.ReplyJSON != "" {
		t += "; reply " + oneLine(c.ReplyJSON)
	}
	return t
}

// oneLine returns s, reply JSON as written, on one line: compacted when it spans several lines
// (a YAML block scalar), quoted when it is not JSON.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r") {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) == nil {
		return b.String()
	}
	return strconv.Quote(s)
}
