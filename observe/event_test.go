package observe_test

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scoper records the methods it is scoped to and the events of each scope.
type scoper struct {
	name   string
	scoped []string
	got    map[string][]observe.Kind // by scope ("" for the unscoped sink)
}

func newScoper(name string) *scoper { return &scoper{name: name, got: map[string][]observe.Kind{}} }

func (s *scoper) Observe(e observe.Event) { s.got[""] = append(s.got[""], e.Kind) }

func (s *scoper) ForMethod(service, fullMethod string) observe.Sink {
	s.scoped = append(s.scoped, service+" "+fullMethod)
	return observe.SinkFunc(func(e observe.Event) { s.got[fullMethod] = append(s.got[fullMethod], e.Kind) })
}

// ForMethod gives a Scoper's own sink, a plain sink itself, nil for nil, and scopes each sink
// of a Multi.
func TestForMethod(t *testing.T) {
	const svc, method = "kyc.v1.OCRService", "/kyc.v1.OCRService/Extract"
	if got := observe.ForMethod(nil, svc, method); got != nil {
		t.Fatalf("ForMethod(nil) = %v, want nil", got)
	}
	var plainGot []observe.Kind
	plain := observe.SinkFunc(func(e observe.Event) { plainGot = append(plainGot, e.Kind) })
	observe.ForMethod(plain, svc, method).Observe(observe.Event{Kind: observe.CallFinished})
	if len(plainGot) != 1 {
		t.Fatalf("a plain sink's scope received %v, want the one event", plainGot)
	}

	a, b := newScoper("a"), newScoper("b")
	one := observe.ForMethod(a, svc, method)
	one.Observe(observe.Event{Kind: observe.AttemptFinished})
	if len(a.scoped) != 1 || a.scoped[0] != svc+" "+method || len(a.got[method]) != 1 || len(a.got[""]) != 0 {
		t.Fatalf("a Scoper's scope: scoped %q, events %v; want its own sink for %s", a.scoped, a.got, method)
	}

	m := observe.ForMethod(observe.Multi(a, plain, b), svc, method)
	m.Observe(observe.Event{Kind: observe.CallFinished})
	if len(a.scoped) != 2 || len(b.scoped) != 1 || len(a.got[method]) != 2 || len(b.got[method]) != 1 || len(plainGot) != 2 {
		t.Fatalf("Multi's scope: a scoped %q got %v, b scoped %q got %v, plain got %v; want each sink scoped and each given the event",
			a.scoped, a.got, b.scoped, b.got, plainGot)
	}
	if len(a.got[""])+len(b.got[""]) != 0 {
		t.Fatalf("Multi's scope sent events to the unscoped sinks: a %v, b %v", a.got[""], b.got[""])
	}
}
