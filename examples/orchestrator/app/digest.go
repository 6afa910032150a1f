package app

import (
	"time"

	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// quietEvents move zapobs's per-call lines (a retry, a rejection, a call that failed for good,
// an attempt its per-attempt timeout spared) to debug: under a fault or a slowdown they come
// by the thousand. State changes (a breaker opening, a limiter falling back) stay at warn, and
// the digest sums up the rest. A breaker's probes while its service stays down (open →
// half_open, a failed probe's half_open → open: one pair a second per breaker with the built-in
// profiles) stay at zapobs's debug: the digest counts the reopens among its breaker openings.
var quietEvents = []zapobs.Option{
	zapobs.WithLevel(observe.RetryScheduled, zapcore.DebugLevel),
	zapobs.WithLevel(observe.AttemptSpared, zapcore.DebugLevel),
	zapobs.WithLevel(observe.Rejected, zapcore.DebugLevel),
	zapobs.WithLevel(observe.RetriesExhausted, zapcore.DebugLevel),
	zapobs.WithLevel(observe.BreakerStateChanged, zapcore.WarnLevel),
}

// digestLine is one digest: per service, the counts since the last one; ok is false when
// nothing worth a line happened (no retry, rejection, breaker opening or hedge).
func digestLine(prev, now map[string]kyc.ServiceStats) (fields []zap.Field, ok bool) {
	for _, k := range []string{kyc.KeyLiveness, kyc.KeyFaceMatch, kyc.KeyOCR} {
		p, n := prev[k], now[k]
		d := kyc.ServiceStats{
			Calls: n.Calls - p.Calls, Retries: n.Retries - p.Retries, Rejections: n.Rejections - p.Rejections,
			BreakerOpens: n.BreakerOpens - p.BreakerOpens, Hedges: n.Hedges - p.Hedges,
		}
		if d.Retries+d.Rejections+d.BreakerOpens+d.Hedges == 0 {
			continue
		}
		ok = true
		fields = append(fields, zap.Dict(k, zap.Int64("calls", d.Calls), zap.Int64("retries", d.Retries),
			zap.Int64("rejected_locally", d.Rejections), zap.Int64("breaker_opens", d.BreakerOpens), zap.Int64("hedges", d.Hedges)))
	}
	return fields, ok
}

// startDigest logs, every period, a warn line summing up each service's retries, local
// rejections, breaker openings and hedges since the last line, when there were any. The
// returned func stops it and writes the last digest. A line's "period" is the time it
// covers, as measured: the last one, written when the batch ends, covers less than period.
func startDigest(counters *kyc.Counters, period time.Duration, log *zap.Logger) func() {
	if period <= 0 {
		return func() {}
	}
	prev, since := counters.Snapshot(), time.Now()
	emit := func() {
		now, at := counters.Snapshot(), time.Now()
		covered := at.Sub(since)
		if covered > time.Millisecond {
			covered = covered.Round(time.Millisecond)
		}
		if fields, ok := digestLine(prev, now); ok {
			log.Warn("digest", append([]zap.Field{zap.Duration("period", covered)}, fields...)...)
		}
		prev, since = now, at
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				emit()
			case <-done:
				emit()
				return
			}
		}
	}()
	return func() { close(done); <-stopped }
}
