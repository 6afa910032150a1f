package promobs_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A service with a bulkhead and a method with a bulkhead of its own (a suite names it by its
// full method) have two series of each bulkhead gauge, told apart by method ("" for the
// service's), both labelled with the service: not the method's bulkhead labelled as a service
// "/pkg.Service/Method", nor one series overwritten by the other.
func TestBulkheadSeriesOfAServiceAndItsMethod(t *testing.T) {
	m, reg := newMetrics(t)
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{"p": {Bulkhead: &bulkhead.Config{MaxConcurrent: 4}}},
		Services: map[string]config.Service{face: {Profile: "p", Methods: map[string]config.Method{
			"Compare": {Overrides: config.Overrides{Bulkhead: config.Set(bulkhead.Config{MaxConcurrent: 2}, "max_concurrent")}},
		}}},
	}, interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m.Scrape(s)

	var releases []func() error
	releases = append(releases, testkit.Hold(context.Background(), s.Unary(), "/"+face+"/Match"))
	for range 2 {
		releases = append(releases, testkit.Hold(context.Background(), s.Unary(), compare))
	}
	assertSamples(t, scrape(t, reg, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="kyc.v1.FaceMatchService"}`:                                 1,
		`bulwark_bulkhead_capacity{method="",service="kyc.v1.FaceMatchService"}`:                                  4,
		`bulwark_bulkhead_in_flight{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService"}`: 2,
		`bulwark_bulkhead_capacity{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService"}`:  2,
	})
	for _, release := range releases {
		if err := release(); err != nil {
			t.Fatal(err)
		}
	}
}

// TrackBulkhead takes the bulkhead's name as TrackBreaker does: a full method is labelled
// with its service and method.
func TestTrackBulkheadOfAMethod(t *testing.T) {
	m, reg := newMetrics(t)
	svcBH, methodBH := &fakeBulkhead{}, &fakeBulkhead{}
	svcBH.capacity.Store(10)
	methodBH.capacity.Store(3)
	methodBH.inFlight.Store(1)
	m.TrackBulkhead(face, svcBH)
	m.TrackBulkhead(compare, methodBH)
	assertSamples(t, scrape(t, reg, promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="kyc.v1.FaceMatchService"}`:                                 0,
		`bulwark_bulkhead_capacity{method="",service="kyc.v1.FaceMatchService"}`:                                  10,
		`bulwark_bulkhead_in_flight{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService"}`: 1,
		`bulwark_bulkhead_capacity{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService"}`:  3,
	})
	m.TrackBulkhead(compare, nil)
	assertSamples(t, scrape(t, reg, promobs.NameBulkheadInFlight), map[string]float64{
		`bulwark_bulkhead_in_flight{method="",service="kyc.v1.FaceMatchService"}`: 0,
	})
}

// methodBulkheads is a Scrape source of one bulkhead per method of one service.
type methodBulkheads int

func (n methodBulkheads) Levels(yield func(observe.Level) bool) {
	for i := range int(n) {
		l := observe.Level{Kind: observe.LevelInFlight, Policy: observe.PolicyBulkhead, Service: "s.v1.S", Method: "/s.v1.S/M" + strconv.Itoa(i), Value: 1}
		if !yield(l) {
			return
		}
		for _, k := range []observe.LevelKind{observe.LevelCapacity, observe.LevelCapacityFloor, observe.LevelCapacityCeiling} {
			l.Kind = k
			if !yield(l) {
				return
			}
		}
	}
}

// The bulkhead gauges' method label is bounded as every other method label is (MaxMethods).
func TestBulkheadMethodLabelBounded(t *testing.T) {
	m, reg := newMetrics(t)
	const names = promobs.MaxMethods + 500
	m.Scrape(methodBulkheads(names))
	for _, name := range []string{promobs.NameBulkheadInFlight, promobs.NameBulkheadCapacity, promobs.NameBulkheadCapacityFloor, promobs.NameBulkheadCapacityCeiling} {
		if n, limit := testutil.CollectAndCount(reg, name), promobs.MaxMethods+1; n == 0 || n > limit {
			t.Errorf("%d method bulkheads gave %d %s series, want 1 to %d", names, n, name, limit)
		}
	}
}

// An adaptive bulkhead's limit is bulwark_bulkhead_capacity, and the bounds it moves between
// are bulwark_bulkhead_capacity_floor (min_limit) and bulwark_bulkhead_capacity_ceiling
// (max_concurrent), labelled as its other gauges are (a method's own bulkhead by its method);
// a fixed bulkhead, whose capacity is its max_concurrent, has neither. Before, no metric gave
// the bounds, and no alert could tell a limit held at its floor.
func TestAdaptiveBulkheadFloorAndCeiling(t *testing.T) {
	adaptive := func(maxConcurrent, minLimit, initial int) bulkhead.Config {
		return bulkhead.Config{MaxConcurrent: maxConcurrent, Adaptive: bulkhead.Adaptive{
			Algorithm: bulkhead.AlgorithmAIMD, MinLimit: minLimit, InitialLimit: initial,
		}}
	}
	serviceBH := adaptive(12, 2, 5)
	m, reg := newMetrics(t)
	s, err := interceptors.New(&config.Config{
		Profiles: map[string]config.Profile{
			"adaptive": {Bulkhead: &serviceBH},
			"fixed":    {Bulkhead: &bulkhead.Config{MaxConcurrent: 7}},
		},
		Services: map[string]config.Service{
			face: {Profile: "adaptive", Methods: map[string]config.Method{
				"Compare": {Overrides: config.Overrides{Bulkhead: config.Set(adaptive(6, 3, 4), "max_concurrent", "adaptive")}},
			}},
			ocr: {Profile: "fixed"},
		},
	}, interceptors.WithObserver(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	m.Scrape(s)

	// A call of each bulkhead, which a suite may make at its first call.
	for _, method := range []string{"/" + face + "/Match", compare, "/" + ocr + "/Extract"} {
		if err := testkit.Hold(context.Background(), s.Unary(), method)(); err != nil {
			t.Fatal(err)
		}
	}
	assertSamples(t, scrape(t, reg, promobs.NameBulkheadCapacity, promobs.NameBulkheadCapacityFloor, promobs.NameBulkheadCapacityCeiling), map[string]float64{
		`bulwark_bulkhead_capacity{method="",service="kyc.v1.FaceMatchService"}`:                                         5,
		`bulwark_bulkhead_capacity_floor{method="",service="kyc.v1.FaceMatchService"}`:                                   2,
		`bulwark_bulkhead_capacity_ceiling{method="",service="kyc.v1.FaceMatchService"}`:                                 12,
		`bulwark_bulkhead_capacity{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService"}`:         4,
		`bulwark_bulkhead_capacity_floor{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService"}`:   3,
		`bulwark_bulkhead_capacity_ceiling{method="/kyc.v1.FaceMatchService/Compare",service="kyc.v1.FaceMatchService"}`: 6,
		`bulwark_bulkhead_capacity{method="",service="kyc.v1.OCRService"}`:                                               7,
	})
}

// A bulkhead's floor and ceiling go with its capacity: where two bulkheads share labels (the
// method label bounded to "other" past MaxMethods, or one name read by two sources), the
// series are the first's, a fixed one's capacity with no bounds, and never its capacity with a
// later adaptive one's floor and ceiling. Mixed so, a full fixed bulkhead of 2 slots read as
// an adaptive limit at its floor of 4, and BulwarkBulkheadLimitAtFloor fired for it.
func TestBulkheadBoundsGoWithItsCapacity(t *testing.T) {
	fixed := func(t *testing.T, name string) *bulkhead.Bulkhead {
		b, err := bulkhead.New(name, bulkhead.Config{MaxConcurrent: 2})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	adaptive := func(t *testing.T, name string) *bulkhead.Bulkhead {
		b, err := bulkhead.New(name, bulkhead.Config{MaxConcurrent: 16, Adaptive: bulkhead.Adaptive{
			Algorithm: bulkhead.AlgorithmAIMD, MinLimit: 4, InitialLimit: 8,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	families := []string{promobs.NameBulkheadCapacity, promobs.NameBulkheadCapacityFloor, promobs.NameBulkheadCapacityCeiling}

	t.Run("methods past the bound", func(t *testing.T) {
		m, reg := newMetrics(t)
		// methodBulkheads(MaxMethods) takes every method label; the two after are "other".
		m.Scrape(observe.LevelSources{methodBulkheads(promobs.MaxMethods),
			fixed(t, "/s.v1.S/Fixed"), adaptive(t, "/s.v1.S/Adaptive")})
		got := scrape(t, reg, families...)
		other := map[string]float64{}
		for series, v := range got {
			if strings.Contains(series, `method="`+promobs.OtherMethod+`"`) {
				other[series] = v
			}
		}
		assertSamples(t, other, map[string]float64{
			`bulwark_bulkhead_capacity{method="other",service="s.v1.S"}`: 2,
		})
	})
	t.Run("one name read twice", func(t *testing.T) {
		m, reg := newMetrics(t)
		m.Scrape(fixed(t, face))
		m.Scrape(adaptive(t, face))
		assertSamples(t, scrape(t, reg, families...), map[string]float64{
			`bulwark_bulkhead_capacity{method="",service="kyc.v1.FaceMatchService"}`: 2,
		})
	})
}
