package zapobs

import (
	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/zap/zapcore"
)

// Option configures New. Build options only with the WithX functions of this package.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	levels [numKinds]zapcore.Level
	// opened is the level of a BreakerStateChanged line to open or forced_open, or of one that
	// stands for transitions to open folded into it (folded_trips, folded_reopens); levels has
	// the other transitions': the line that explains the rejections that follow.
	opened zapcore.Level
	// probing is the level of a breaker's probe lines (see WithProbeLevel), when the
	// transitions' lines are on at all (levels[BreakerStateChanged] is not off).
	probing zapcore.Level
}

// numKinds bounds the Kind values zapobs knows: CallFinished through AttemptSpared.
const numKinds = int(observe.AttemptSpared) + 1

// off marks a line that is never written.
const off = zapcore.InvalidLevel

func defaultConfig() config {
	var c config
	for i := range c.levels {
		c.levels[i] = off
	}
	for _, l := range lines {
		c.levels[l.kind] = l.level
	}
	c.opened = zapcore.WarnLevel
	c.probing = zapcore.DebugLevel
	return c
}

// WithLevel sets the level of the line written for events of kind k (see the table in the
// package documentation for the defaults); for BreakerStateChanged, of every transition's
// line, to open as to the other states, but for the probe lines, which WithProbeLevel sets
// (off here, they are off too). zapcore.InvalidLevel turns the line off; so do
// DPanic, Panic and Fatal, as a sink must never panic nor end the process. A kind zapobs does
// not know is ignored.
func WithLevel(k observe.Kind, level zapcore.Level) Option {
	return optionFunc(func(c *config) {
		if int(k) <= 0 || int(k) >= numKinds {
			return
		}
		level = writable(level)
		c.levels[k] = level
		if k == observe.BreakerStateChanged {
			c.opened = level
		}
	})
}

// WithProbeLevel sets the level of a breaker's probe lines, debug by default: the
// BreakerStateChanged lines of one change each from open to half_open (the recovery timeout
// ended: a probe may go) and from half_open back to open (the probe failed). They come while
// the service stays down, two for each open interval: with the built-in profiles, whose
// breakers probe every second, two a second per breaker for as long as an outage lasts. The
// lines that tell the outage stay at their levels: its trip (closed → open, warn) and the close
// that ends it (half_open → closed). A line that stands for several changes (folded_trips,
// folded_reopens, last_from) is no probe line. Levels as for WithLevel: zapcore.InvalidLevel,
// DPanic, Panic and Fatal turn the lines off; WithLevel(observe.BreakerStateChanged, off)
// turns them off whatever this says.
func WithProbeLevel(level zapcore.Level) Option {
	return optionFunc(func(c *config) { c.probing = writable(level) })
}

// writable returns level, or off for a level a line is never written at: DPanic, Panic and
// Fatal (a sink must never panic nor end the process) and any outside debug..error.
func writable(level zapcore.Level) zapcore.Level {
	if level > zapcore.ErrorLevel || level < zapcore.DebugLevel {
		return off
	}
	return level
}
