package promobs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/suitecfg"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
)

// Calls whose requests, metadata, status messages, status details, headers and trailers all
// quote personal data, through the suite with retries, a deadline, a bulkhead, a breaker that
// opens and a fallback: no label value of a scrape carries it.
func TestNoPersonalDataInLabels(t *testing.T) {
	m, reg := newMetrics(t)
	s, err := interceptors.New(suitecfg.Personal(), interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m.Scrape(s)
	srv := testkit.Start(t, testkit.PersonalServer())
	testkit.CallPersonal(context.Background(), srv.Dial(t, s.DialOptions()...))

	text := exposition(t, reg)
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, testkit.Personal) {
			t.Errorf("series carries personal data: %s", line)
		}
	}
	for _, name := range []string{promobs.NameCalls, promobs.NameAttempts, promobs.NameRetries, promobs.NameRetriesExhausted,
		promobs.NameBreakerTransitions, promobs.NameRejections, promobs.NameFallbacks, promobs.NameDeadlinesApplied} {
		if !strings.Contains(text, "\n"+name+"{") {
			t.Errorf("no %s series: the calls did not meet every policy", name)
		}
	}
}
