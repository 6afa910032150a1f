package promobs_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocMetricsTable: the package documentation's metrics table names every family the
// metrics expose, with its type and its labels.
func TestDocMetricsTable(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^//\t\| (bulwark_[a-z_]+) +\| (counter|gauge|histogram) +\| ([a-z, ]+?) +\|`)
	doc := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(src), -1) {
		labels := strings.Split(m[3], ", ")
		slices.Sort(labels)
		doc[m[1]] = m[2] + " " + strings.Join(labels, ",")
	}

	m, reg := newMetrics(t)
	for _, e := range allEvents(1) {
		m.Observe(e)
	}
	m.TrackBulkhead(ocr, &fakeBulkhead{})
	m.Scrape(adaptiveBounds(ocr)) // an adaptive bulkhead's floor and ceiling, which Track leaves out
	m.TrackThrottle(ocr, func() float64 { return 0.25 })
	m.TrackBreaker(ocr, func() string { return "closed" })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 {
			t.Fatalf("%s has no series", mf.GetName())
		}
		var labels []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, lp.GetName())
		}
		slices.Sort(labels)
		got := strings.ToLower(mf.GetType().String()) + " " + strings.Join(labels, ",")
		want, ok := doc[mf.GetName()]
		delete(doc, mf.GetName())
		switch {
		case !ok:
			t.Errorf("doc.go's metrics table leaves out %s (%s)", mf.GetName(), got)
		case got != want:
			t.Errorf("doc.go's metrics table: %s is %s; exposed as %s", mf.GetName(), want, got)
		}
	}
	for name := range doc {
		t.Errorf("doc.go's metrics table names %s, which is not exposed", name)
	}
}
