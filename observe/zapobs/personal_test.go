package zapobs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Calls whose requests, metadata, status messages, status details, headers and trailers all
// quote personal data, through the suite with retries, a deadline, a bulkhead, a breaker that
// opens and a fallback: the lines at debug level carry none of it.
func TestNoPersonalDataInLines(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s, err := interceptors.New(suitecfg.Personal(), interceptors.WithObserver(zapobs.New(zap.New(core))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	srv := testkit.Start(t, testkit.PersonalServer())
	testkit.CallPersonal(context.Background(), srv.Dial(t, s.DialOptions()...))

	seen := map[string]bool{}
	for _, e := range logs.All() {
		seen[e.Message] = true
		text := []string{e.Message, e.LoggerName}
		for k, v := range e.ContextMap() {
			text = append(text, k, fmt.Sprint(v))
		}
		for _, x := range text {
			if strings.Contains(x, testkit.Personal) {
				t.Errorf("line %q carries personal data: %q", e.Message, x)
			}
		}
	}
	for _, msg := range []string{zapobs.MsgAttemptFinished, zapobs.MsgCallFinished, zapobs.MsgRetryScheduled,
		zapobs.MsgRetriesExhausted, zapobs.MsgBreakerChanged, zapobs.MsgRejected, zapobs.MsgFallbackServed, zapobs.MsgDeadlineApplied} {
		if !seen[msg] {
			t.Errorf("no %q line: the calls did not meet every policy", msg)
		}
	}
}
