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

// nilScoper is a Scoper that records nothing for some methods: its ForMethod gives nil for
// them, as ForMethod itself does for a nil sink.
type nilScoper struct{ skip string }

func (nilScoper) Observe(observe.Event) {}

func (s nilScoper) ForMethod(_, fullMethod string) observe.Sink {
	if fullMethod == s.skip {
		return nil
	}
	return s
}

// A Multi scoped to a method for which one of its Scopers gives no sink passes the method's
// events to the other sinks, instead of panicking on the nil one, and is nil when none of its
// sinks records the method: ForMethod answers for a Multi as it does for one sink.
func TestForMethodOfMultiSkipsNilScopes(t *testing.T) {
	const svc, method = "kyc.v1.OCRService", "/kyc.v1.OCRService/Extract"
	var got []observe.Kind
	plain := observe.SinkFunc(func(e observe.Event) { got = append(got, e.Kind) })

	m := observe.ForMethod(observe.Multi(nilScoper{skip: method}, plain), svc, method)
	if m == nil {
		t.Fatal("ForMethod of a Multi with a plain sink = nil, want a sink")
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("the scoped Multi panicked on an event: %v", p)
			}
		}()
		m.Observe(observe.Event{Kind: observe.CallFinished})
	}()
	if len(got) != 1 {
		t.Fatalf("the plain sink got %v, want the one event", got)
	}
	if s := observe.ForMethod(observe.Multi(nilScoper{skip: method}, nilScoper{skip: method}), svc, method); s != nil {
		t.Fatalf("ForMethod of a Multi none of whose sinks records the method = %#v, want nil", s)
	}
}

// A sink of a Multi that panics (a sink's bug) does not keep the event from the sinks after
// it: they see it, and the panic goes on to the caller, as it would without Multi.
func TestMultiPanickingSinkStillFeedsTheOthers(t *testing.T) {
	var before, after []observe.Kind
	m := observe.Multi(
		observe.SinkFunc(func(e observe.Event) { before = append(before, e.Kind) }),
		observe.SinkFunc(func(observe.Event) { panic("sink bug") }),
		observe.SinkFunc(func(e observe.Event) { after = append(after, e.Kind) }),
	)
	var got any
	func() {
		defer func() { got = recover() }()
		m.Observe(observe.Event{Kind: observe.BreakerStateChanged})
	}()
	if got != "sink bug" {
		t.Errorf("Observe's panic = %v, want the sink's, passed on", got)
	}
	if len(before) != 1 || len(after) != 1 {
		t.Errorf("the sinks before and after the panicking one got %v and %v, want the event each", before, after)
	}
}
