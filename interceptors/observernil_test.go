package interceptors_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/observe"
)

// metricsSink stands for a sink kept by pointer, as promobs' *Metrics is.
type metricsSink struct{ n int }

func (m *metricsSink) Observe(observe.Event) { m.n++ }

// A nil pointer sink given to WithObserver (a *promobs.Metrics variable left unset) panicked
// at the first event of the first call; New refuses it, saying what it is, and a nil sink is
// none.
func TestWithObserverTypedNil(t *testing.T) {
	var m *metricsSink
	s, err := interceptors.New(nil, interceptors.WithObserver(m))
	const want = "bulwark: invalid option: WithObserver: a nil *interceptors_test.metricsSink is a typed nil, which panics at the first event; pass nil for no observer"
	if err == nil || err.Error() != want {
		if s != nil {
			s.Close()
		}
		t.Fatalf("New(WithObserver(nil *metricsSink)): %v\nwant %s", err, want)
	}
	var f observe.SinkFunc
	if _, err := interceptors.New(nil, interceptors.WithObserver(f)); err == nil {
		t.Error("New(WithObserver(nil SinkFunc)) gave no error")
	}
	s, err = interceptors.New(nil, interceptors.WithObserver(nil))
	if err != nil {
		t.Fatalf("New(WithObserver(nil)): %v", err)
	}
	s.Close()
}
