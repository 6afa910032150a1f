package zapobs_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func jsonLogger(level zapcore.Level) *zap.Logger {
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(discard{}), level))
}

// BenchmarkSuccessPathDisabled is the success path of a call (AttemptFinished, CallFinished,
// both Debug) on an Info logger: nothing is written, nothing allocated.
func BenchmarkSuccessPathDisabled(b *testing.B) {
	s := zapobs.New(jsonLogger(zapcore.InfoLevel))
	a, c := full(observe.AttemptFinished), full(observe.CallFinished)
	b.ReportAllocs()
	for b.Loop() {
		s.Observe(a)
		s.Observe(c)
	}
}

func BenchmarkSuccessPathDisabledParallel(b *testing.B) {
	s := zapobs.New(jsonLogger(zapcore.InfoLevel))
	a, c := full(observe.AttemptFinished), full(observe.CallFinished)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Observe(a)
			s.Observe(c)
		}
	})
}

// BenchmarkRetryScheduled writes one Warn line as JSON to a discarding writer.
func BenchmarkRetryScheduled(b *testing.B) {
	s := zapobs.New(jsonLogger(zapcore.InfoLevel))
	e := full(observe.RetryScheduled)
	b.ReportAllocs()
	for b.Loop() {
		s.Observe(e)
	}
}
