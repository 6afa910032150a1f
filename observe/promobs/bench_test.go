package promobs_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
	grpccodes "google.golang.org/grpc/codes"
)

func benchMetrics(b *testing.B) *promobs.Metrics {
	b.Helper()
	m, err := promobs.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkObserveSuccess records the two events of a call that succeeds at once.
func BenchmarkObserveSuccess(b *testing.B) {
	m := benchMetrics(b)
	a := attempt(ocr, extract, 1, grpccodes.OK, codes.Success, 3*time.Millisecond)
	c := call(ocr, extract, grpccodes.OK, codes.Success, 1, 3*time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(a)
		m.Observe(c)
	}
}

func BenchmarkObserveSuccessParallel(b *testing.B) {
	m := benchMetrics(b)
	a := attempt(ocr, extract, 1, grpccodes.OK, codes.Success, 3*time.Millisecond)
	c := call(ocr, extract, grpccodes.OK, codes.Success, 1, 3*time.Millisecond)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe(a)
			m.Observe(c)
		}
	})
}

// BenchmarkObserveRetry records a call that fails once, sleeps and succeeds.
func BenchmarkObserveRetry(b *testing.B) {
	m := benchMetrics(b)
	evs := []observe.Event{
		attempt(ocr, extract, 1, grpccodes.Unavailable, codes.Transient, time.Millisecond),
		retry(ocr, extract, 1, 100*time.Millisecond),
		attempt(ocr, extract, 2, grpccodes.OK, codes.Success, time.Millisecond),
		call(ocr, extract, grpccodes.OK, codes.Success, 2, 102*time.Millisecond),
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range evs {
			m.Observe(e)
		}
	}
}

// succeed does what a policy does around one successful call: it builds and emits the events
// only when a sink is set.
//
//go:noinline
func succeed(sink observe.Sink, start time.Time, now time.Time) {
	if sink == nil {
		return
	}
	d := now.Sub(start)
	sink.Observe(observe.Event{Kind: observe.AttemptFinished, Time: now, Service: ocr, Method: extract,
		Policy: observe.PolicyRetry, Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: d})
	sink.Observe(observe.Event{Kind: observe.CallFinished, Time: now, Service: ocr, Method: extract,
		Policy: observe.PolicyRetry, Attempt: 1, Code: grpccodes.OK, Class: codes.Success, Duration: d})
}

// BenchmarkSinkSuccessPath compares the events of a successful call with no sink and with
// promobs as the sink, in the same run: the difference is what metrics cost a call.
func BenchmarkSinkSuccessPath(b *testing.B) {
	start := time.Unix(0, 0)
	now := start.Add(3 * time.Millisecond)
	for _, bc := range []struct {
		name string
		sink observe.Sink
	}{
		{"nil_sink", nil},
		{"promobs", benchMetrics(b)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				succeed(bc.sink, start, now)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					succeed(bc.sink, start, now)
				}
			})
		})
	}
}

// BenchmarkObserveManyServices records a successful call of one method after calls of n
// other services were recorded: the cost must not grow with n (issue 20: 1, 100 and 10 000
// configured).
func BenchmarkObserveManyServices(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run("services="+strconv.Itoa(n), func(b *testing.B) {
			m := benchMetrics(b)
			for i := range n {
				svc := "bench.v1.Svc" + strconv.Itoa(i)
				m.Observe(call(svc, "/"+svc+"/Call", grpccodes.OK, codes.Success, 1, time.Millisecond))
				m.Observe(attempt(svc, "/"+svc+"/Call", 1, grpccodes.OK, codes.Success, time.Millisecond))
			}
			a := attempt(ocr, extract, 1, grpccodes.OK, codes.Success, 3*time.Millisecond)
			c := call(ocr, extract, grpccodes.OK, codes.Success, 1, 3*time.Millisecond)
			b.ReportAllocs()
			for b.Loop() {
				m.Observe(a)
				m.Observe(c)
			}
		})
	}
}
