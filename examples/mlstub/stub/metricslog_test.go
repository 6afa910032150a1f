package stub

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// brokenCollector fails every gather.
type brokenCollector struct{ desc *prometheus.Desc }

func (c brokenCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c brokenCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, errors.New("source gone"))
}

// TestMetricsGatherErrorIsLogged: a scrape of GET /metrics whose gather fails (a collector
// registered on the stub's Registry errs) answers 500 and leaves an error line in the stub's
// log naming the failure.
func TestMetricsGatherErrorIsLogged(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	e := start(t, Config{}, WithLogger(zap.New(core)))
	e.s.Registry().MustRegister(brokenCollector{prometheus.NewDesc("stub_test_broken", "A collector that fails.", nil, nil)})
	rec := httptest.NewRecorder()
	e.s.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500 for a failed gather", rec.Code)
	}
	if n := logs.FilterLevelExact(zap.ErrorLevel).FilterMessageSnippet("source gone").Len(); n != 1 {
		t.Errorf("%d error lines naming the failure, want 1: %v", n, logs.All())
	}
}
