package promobs

import (
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/prometheus/client_golang/prometheus"
)

// levelsFunc is a LevelSource of a func type: a nil one panics when read.
type levelsFunc func(yield func(observe.Level) bool)

func (f levelsFunc) Levels(yield func(observe.Level) bool) { f(yield) }

// A source that holds a nil pointer or func (a nil *interceptors.Suite, left so when the
// feature is off), given to Scrape alone or in an observe.LevelSources, and a nil
// *bulkhead.Bulkhead given to TrackBulkhead, are ignored as a nil source is: read, each would
// panic in the registry's collecting goroutine, which nothing recovers, and end the program.
// The other sources are read as before.
func TestScrapeIgnoresNilPointers(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	br, err := breaker.New("kyc.v1.OCRService", breaker.Config{ConsecutiveFailures: 2})
	if err != nil {
		t.Fatal(err)
	}
	m.Scrape((*interceptors.Suite)(nil))
	m.Scrape((*breaker.Registry)(nil))
	m.Scrape(levelsFunc(nil))
	m.Scrape(observe.LevelSources{(*bulkhead.Bulkhead)(nil), observe.LevelSources{(*interceptors.Suite)(nil)}, br})
	m.TrackBulkhead("kyc.v1.OCRService", (*bulkhead.Bulkhead)(nil))

	ch := make(chan prometheus.Metric, 64)
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("a scrape panicked: %v", r)
			}
		}()
		m.levels.Collect(ch)
	}()
	close(ch)
	// The other sources are read: the breaker's closed series, at 1, is the one at 1.
	text := strings.Join(strings.Fields(gathered(t, reg)), " ") // prototext spaces at random
	if want := `label:{name:"method" value:""} label:{name:"service" value:"kyc.v1.OCRService"} label:{name:"state" value:"closed"} gauge:{value:1}`; strings.Count(text, "value:1}") != 1 || !strings.Contains(text, want) {
		t.Errorf("scrape:\n%s\nwant one series at 1, the breaker's: %s", text, want)
	}
}
