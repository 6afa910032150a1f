package zapobs_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The real breaker's events make the documented lines.
func TestWithRealBreaker(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	clk := clocktest.New(at)
	br, err := breaker.New(ocr, breaker.Config{ConsecutiveFailures: 1, RecoveryTimeout: 10 * time.Second},
		breaker.WithObserver(zapobs.New(zap.New(core))), breaker.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	_ = br.Execute(func() error { return status.Error(grpccodes.Unavailable, "down") })
	clk.Advance(4 * time.Second)
	_ = br.Execute(func() error { return nil })

	type line struct {
		level  zapcore.Level
		msg    string
		time   time.Time
		fields map[string]any
	}
	want := []line{
		{zapcore.DebugLevel, "breaker published", at, map[string]any{"service": ocr, "state": "closed"}}, // New's
		{zapcore.WarnLevel, "breaker state changed", at, map[string]any{
			"service": ocr, "from": "closed", "to": "open", "reason": breaker.ReasonConsecutiveFailures,
			"open_for": 10 * time.Second}},
		{zapcore.WarnLevel, "call rejected", at.Add(4 * time.Second), map[string]any{
			"service": ocr, "method": "", "policy": observe.PolicyBreaker, "reason": breaker.ReasonCircuitOpen,
			"code": "Unavailable", "retry_after": 6 * time.Second, "breaker": "open"}},
	}
	var got []line
	for _, e := range logs.All() {
		got = append(got, line{e.Level, e.Message, e.Time, e.ContextMap()})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines\n got %+v\nwant %+v", got, want)
	}
}
