package breakerstates

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/bulwarkrpc/bulwark/observe"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const svc = "kyc.v1.OCRService"

var at = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func changed(service, method, to string, t time.Time) *observe.Event {
	return &observe.Event{Kind: observe.BreakerStateChanged, Time: t, Service: service, Method: method,
		Policy: observe.PolicyBreaker, From: "closed", To: to}
}

func retired(service, method string, t time.Time) *observe.Event {
	return &observe.Event{Kind: observe.Retired, Time: t, Service: service, Method: method, Policy: observe.PolicyBreaker}
}

// A call's breaker is its method's own, else its service's overflow chain's, else its
// service's; an empty method has only the service's.
func TestStateResolution(t *testing.T) {
	const extract, unlisted = "/" + svc + "/Extract", "/" + svc + "/Unlisted"
	var s Store
	if got, ok := s.State(svc, extract); ok {
		t.Fatalf("empty store: State = %q, true; want none", got)
	}
	steps := []struct {
		event           *observe.Event
		service, method string
		want            string
		wantOK          bool
		comment         string
	}{
		{changed(svc, "", "half_open", at), svc, extract, "half_open", true, "the service's breaker"},
		{changed(svc, "/"+svc+"/*", "open", at), svc, unlisted, "open", true, "the overflow chain's over the service's"},
		{changed(svc, extract, "forced_open", at), svc, extract, "forced_open", true, "the method's own over the overflow chain's"},
		{nil, svc, "", "half_open", true, "an empty method: the service's alone"},
		{retired(svc, "", at), svc, "", "", false, "an empty method, the service's retired: none, not the overflow chain's"},
		{retired(svc, "/"+svc+"/*", at), svc, unlisted, "", false, "nothing left for an unlisted method"},
		{changed(svc, extract, "", at.Add(time.Second)), svc, extract, "forced_open", true, "a change without a state is ignored"},
		{changed("*", "/*/*", "disabled", at), "*", "/unlisted.v1.S/M", "disabled", true, "the suite's overflow chain, of the service *"},
	}
	for _, st := range steps {
		if st.event != nil {
			s.Observe(st.event)
		}
		if got, ok := s.State(st.service, st.method); got != st.want || ok != st.wantOK {
			t.Errorf("%s: State(%q, %q) = %q, %v; want %q, %v", st.comment, st.service, st.method, got, ok, st.want, st.wantOK)
		}
	}
}

// A Retired forgets the breaker's state unless that state is later than the Retired's Time;
// Retired events of other policies forget nothing.
func TestRetired(t *testing.T) {
	var s Store
	s.Observe(changed(svc, "", "open", at))
	s.Observe(&observe.Event{Kind: observe.Retired, Time: at.Add(time.Hour), Service: svc, Policy: observe.PolicyBulkhead})
	if got, ok := s.Lookup(svc, ""); !ok || got != (Seen{"open", at}) {
		t.Fatalf("a bulkhead retired: Lookup = %+v, %v; want open at %v", got, ok, at)
	}
	s.Observe(changed(svc, "", "half_open", at.Add(2*time.Second)))
	s.Observe(retired(svc, "", at.Add(time.Second)))
	if got, _ := s.State(svc, "/"+svc+"/Do"); got != "half_open" {
		t.Fatalf("a Retired older than the state: State = %q; want half_open", got)
	}
	s.Observe(retired(svc, "", at.Add(2*time.Second)))
	if got, ok := s.Lookup(svc, ""); ok {
		t.Fatalf("a Retired at the state's time: Lookup = %+v; want it forgotten", got)
	}
}

// A Store keeps MaxBreakers breakers and none of a name longer than observe.MaxKeptName; those
// kept still follow their changes, and a Retired makes room.
func TestBounded(t *testing.T) {
	var s Store
	name := func(i int) string { return fmt.Sprintf("svc%d.v1.Service", i) }
	for i := range MaxBreakers {
		s.Observe(changed(name(i), "", "open", at))
	}
	past := name(MaxBreakers)
	s.Observe(changed(past, "", "open", at))
	if got, ok := s.State(past, ""); ok || s.Len() != MaxBreakers {
		t.Fatalf("past the bound: State = %q, %v with %d kept; want none with %d", got, ok, s.Len(), MaxBreakers)
	}
	s.Observe(changed(name(0), "", "half_open", at))
	if got, _ := s.State(name(0), ""); got != "half_open" {
		t.Fatalf("kept, changed at the bound: State = %q; want half_open", got)
	}
	s.Observe(retired(name(1), "", at))
	s.Observe(changed(past, "", "open", at))
	if got, _ := s.State(past, ""); got != "open" {
		t.Fatalf("after a Retired made room: State = %q; want open", got)
	}

	for _, n := range []int{observe.MaxKeptName, observe.MaxKeptName + 1} {
		var s Store
		long := strings.Repeat("s", n)
		s.Observe(changed(long, "", "open", at))
		s.Observe(changed(svc, "/"+svc+"/"+long[len(svc)+2:], "open", at))
		if want := map[bool]int{true: 2, false: 0}[n <= observe.MaxKeptName]; s.Len() != want {
			t.Errorf("names of %d bytes: %d kept; want %d", n, s.Len(), want)
		}
	}
}

// A name the Store keeps is a copy: it does not hold on to the string it was cut from.
func TestKeepsCopies(t *testing.T) {
	var s Store
	path := "/" + svc + "/Extract" + strings.Repeat("x", 1<<10)
	service, method := path[1:1+len(svc)], path[:len(svc)+9]
	s.Observe(changed(service, method, "open", at))
	for k := range s.m {
		if k.service != service || k.method != method {
			t.Fatalf("kept %+v; want %q, %q", k, service, method)
		}
		if unsafe.StringData(k.method) == unsafe.StringData(method) || unsafe.StringData(k.service) == unsafe.StringData(service) {
			t.Fatal("kept key shares the caller's string")
		}
	}
}

// Reading a state allocates nothing, whatever the lookup finds.
func TestStateAllocs(t *testing.T) {
	var s Store
	s.Observe(changed(svc, "/"+svc+"/*", "open", at))
	s.Observe(changed("other.v1.S", "", "open", at))
	method := "/" + svc + "/Unlisted"
	if got := testing.AllocsPerRun(1000, func() {
		s.State(svc, method)
		s.State("other.v1.S", method)
		s.State("none.v1.S", method)
		s.Lookup(svc, "/"+svc+"/*")
	}); got != 0 {
		t.Errorf("allocs = %v; want 0", got)
	}
}

// Changes, Retired events and reads from many goroutines: safe under -race, and every read is a
// state reported.
func TestConcurrent(t *testing.T) {
	var s Store
	states := []string{"closed", "open", "half_open"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				switch g % 2 {
				case 0:
					s.Observe(changed(svc, "", states[(g+i)%len(states)], at.Add(time.Duration(i))))
					if i%50 == 0 {
						s.Observe(retired(svc, "", at))
					}
				default:
					if got, ok := s.State(svc, "/"+svc+"/Do"); ok && got != "closed" && got != "open" && got != "half_open" {
						t.Errorf("State = %q; want a state reported", got)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// A BreakerPublished gives a breaker its first state, unless a state of that name later than
// it is kept: a change whose event came first, which the publication's reading missed.
func TestPublished(t *testing.T) {
	published := func(service, method, state string, t time.Time) *observe.Event {
		return &observe.Event{Kind: observe.BreakerPublished, Time: t, Service: service, Method: method,
			Policy: observe.PolicyBreaker, To: state}
	}
	var s Store
	s.Observe(published(svc, "", "closed", at))
	if got, ok := s.State(svc, "/"+svc+"/Do"); !ok || got != "closed" {
		t.Fatalf("a published breaker: State = %q, %v; want closed", got, ok)
	}
	s.Observe(changed(svc, "", "open", at.Add(2*time.Second)))
	s.Observe(published(svc, "", "closed", at.Add(time.Second)))
	if got, _ := s.State(svc, ""); got != "open" {
		t.Fatalf("a publication earlier than the change kept: State = %q; want open", got)
	}
	s.Observe(published(svc, "", "half_open", at.Add(2*time.Second)))
	if got, _ := s.State(svc, ""); got != "half_open" {
		t.Fatalf("a publication at the change's time: State = %q; want half_open", got)
	}
	s.Observe(published(svc, "", "", at.Add(3*time.Second)))
	if got, _ := s.State(svc, ""); got != "half_open" {
		t.Fatalf("a publication without a state: State = %q; want half_open kept", got)
	}
}

// Events that carry their breaker's Instance are told apart by it: a Retired forgets its own
// instance's state alone, whatever the Times (a replacement's at the same Time is kept), and
// the retired instance's later events are dropped; a name that keeps only a retired instance
// makes room for another name at the bound.
func TestRetiredInstance(t *testing.T) {
	of := func(e *observe.Event, instance uint32) *observe.Event { e.Instance = instance; return e }
	var s Store
	s.Observe(of(changed(svc, "", "open", at), 1))
	s.Observe(of(changed(svc, "", "half_open", at), 2)) // the replacement's, at the same Time
	s.Observe(of(retired(svc, "", at), 1))
	if got, _ := s.State(svc, ""); got != "half_open" {
		t.Fatalf("the old instance retired at the replacement's Time: State = %q; want the replacement's half_open", got)
	}
	s.Observe(of(retired(svc, "", at), 2))
	if got, ok := s.Lookup(svc, ""); ok {
		t.Fatalf("the replacement retired: Lookup = %+v; want none", got)
	}
	s.Observe(of(changed(svc, "", "open", at.Add(time.Hour)), 2))
	if got, ok := s.State(svc, ""); ok || s.Len() != 0 {
		t.Fatalf("a late change of the retired instance: State = %q, %v, Len %d; want none", got, ok, s.Len())
	}
	s.Observe(of(changed(svc, "", "closed", at), 3))
	if got, _ := s.State(svc, ""); got != "closed" || s.Len() != 1 {
		t.Fatalf("a third instance: State = %q, Len %d; want closed, 1", got, s.Len())
	}

	// At the bound, a name that keeps only a retired instance makes room.
	var b Store
	for i := range MaxBreakers {
		b.Observe(of(changed(fmt.Sprintf("svc%d", i), "", "open", at), uint32(i+1)))
	}
	b.Observe(of(retired("svc0", "", at), 1))
	b.Observe(of(changed("new", "", "open", at), MaxBreakers+1))
	if got, ok := b.State("new", ""); !ok || got != "open" || b.Len() != MaxBreakers {
		t.Fatalf("a new name at the bound after a Retired: State = %q, %v, Len %d; want open, %d", got, ok, b.Len(), MaxBreakers)
	}
}

// TestRetiredBeforePublished: a breaker's Retired that reaches the Store before anything of
// its instance did (a suite sends BreakerPublished after its lock is let go, so a Reload or a
// Close on another goroutine may retire the breaker first) still drops that instance's later
// events: its BreakerPublished and the changes of calls that were in flight through it. Its
// BreakerPublished used to be kept, so a retired breaker's state outlived it; a later
// instance of the name is kept as before.
func TestRetiredBeforePublished(t *testing.T) {
	of := func(e *observe.Event, instance uint32) *observe.Event { e.Instance = instance; return e }
	published := &observe.Event{Kind: observe.BreakerPublished, Instance: 7, Time: at, Service: svc,
		Policy: observe.PolicyBreaker, To: "closed"}
	var s Store
	s.Observe(of(retired(svc, "", time.Time{}), 7)) // a Close's, of a breaker that made no change
	s.Observe(published)
	if got, ok := s.Lookup(svc, ""); ok {
		t.Fatalf("the BreakerPublished of an instance retired before it: Lookup = %+v; want none", got)
	}
	s.Observe(of(changed(svc, "", "open", at.Add(time.Second)), 7))
	if got, ok := s.State(svc, ""); ok || s.Len() != 0 {
		t.Fatalf("a late change of the instance retired first: State = %q, %v, Len %d; want none", got, ok, s.Len())
	}
	s.Observe(of(changed(svc, "", "half_open", at.Add(2*time.Second)), 8))
	if got, _ := s.State(svc, ""); got != "half_open" || s.Len() != 1 {
		t.Fatalf("another instance of the name: State = %q, Len %d; want half_open, 1", got, s.Len())
	}

	// A name longer than the Store keeps is not kept for its Retired either.
	var l Store
	l.Observe(of(retired(strings.Repeat("s", observe.MaxKeptName+1), "", at), 9))
	if n := len(l.m); n != 0 {
		t.Fatalf("a Retired of a name too long to keep: %d entries; want 0", n)
	}
}
