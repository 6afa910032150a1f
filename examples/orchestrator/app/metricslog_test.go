package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// failingCollector fails every gather, as a collector reading a source that went away would.
type failingCollector struct{ desc *prometheus.Desc }

func (c failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, errors.New("source gone"))
}

// TestMetricsGatherErrorIsLogged: a scrape whose gather fails answers 500 and leaves an error
// line in the orchestrator's log naming the failure, not only in the scraper's response body.
func TestMetricsGatherErrorIsLogged(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(failingCollector{prometheus.NewDesc("kyc_test_broken", "A collector that fails.", nil, nil)})
	core, logs := observer.New(zap.DebugLevel)
	addr, stop, err := serveMetrics(context.Background(), "127.0.0.1:0", reg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics") //nolint:noctx // loopback, bounded by the test
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500 for a failed gather", resp.StatusCode)
	}
	var found bool
	for _, e := range logs.All() {
		if e.Level == zap.ErrorLevel && strings.Contains(e.Message, "source gone") {
			found = true
		}
	}
	if !found {
		t.Errorf("log %v, want an error line naming the gather's failure", logs.All())
	}
}
