package observe_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
)

// calledRecorder records the events it is given and the method each call named.
type calledRecorder struct {
	events []observe.Event
	called []string
}

func (c *calledRecorder) Observe(e observe.Event) { c.ObserveCalled(e, "") }
func (c *calledRecorder) ObserveCalled(e observe.Event, called string) {
	c.events, c.called = append(c.events, e), append(c.called, called)
}

// ObserveCalled tells a CalledSink the method the call named, and any other sink the event
// alone; Multi passes it on to each of its sinks so, those after one that panicked too.
func TestObserveCalledThroughMulti(t *testing.T) {
	var plain []observe.Event
	a, b := &calledRecorder{}, &calledRecorder{}
	panicking := observe.SinkFunc(func(observe.Event) { panic("sink bug") })
	m := observe.Multi(a, observe.SinkFunc(func(e observe.Event) { plain = append(plain, e) }), panicking, b)
	e := observe.Event{Kind: observe.CallFinished, Service: "*", Method: "/*/*"}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the sink's panic did not go on")
			}
		}()
		observe.ObserveCalled(m, e, "/a.v1.S/M")
	}()
	for name, r := range map[string]*calledRecorder{"first": a, "after the panic": b} {
		if len(r.events) != 1 || r.events[0] != e || r.called[0] != "/a.v1.S/M" {
			t.Errorf("%s CalledSink: events %v, called %q; want the event once with /a.v1.S/M", name, r.events, r.called)
		}
	}
	if len(plain) != 1 || plain[0] != e {
		t.Errorf("plain sink: %v, want the event once", plain)
	}
}
