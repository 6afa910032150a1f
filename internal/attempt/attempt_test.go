package attempt

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/internal/calloption"
	"github.com/bulwarkrpc/bulwark/internal/cowmap"
	"github.com/bulwarkrpc/bulwark/internal/front"
	"github.com/bulwarkrpc/bulwark/internal/grpcmethod"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/internal/testkit/within"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEligible(t *testing.T) {
	tests := []struct {
		safe, configured bool
		perCall          int8
		want             bool
	}{
		{false, false, 0, false},
		{true, false, 0, true},
		{false, true, 0, true},
		{false, false, 1, true},
		{true, true, -1, false},
	}
	for _, tt := range tests {
		if got := Eligible(tt.safe, tt.configured, tt.perCall); got != tt.want {
			t.Errorf("Eligible(%v, %v, %d) = %v, want %v", tt.safe, tt.configured, tt.perCall, got, tt.want)
		}
	}
}

func TestNewMethod(t *testing.T) {
	m := NewMethod(testkit.MethodCompare)
	if m.Name != testkit.MethodCompare || m.Service != "kyc.v1.FaceMatchService" {
		t.Fatalf("NewMethod = %+v", m)
	}
	var tab Methods[*Method]
	made := 0
	mk := func(name string) *Method { made++; m := NewMethod(name); return &m }
	a, b := tab.Get(testkit.MethodCompare, mk), tab.Get(testkit.MethodCompare, mk)
	if a != b || made != 1 {
		t.Fatalf("Get made %d, same %v", made, a == b)
	}
	if n := testing.AllocsPerRun(100, func() { tab.Get(testkit.MethodCompare, mk) }); n != 0 {
		t.Fatalf("Get of a known method: %v allocs", n)
	}
}

// Lookup finds what Get made, and makes nothing for a name not kept.
func TestMethodsLookup(t *testing.T) {
	var tab Methods[*Method]
	if _, ok := tab.Lookup(testkit.MethodCompare); ok || tab.Len() != 0 {
		t.Fatalf("Lookup of an unknown name found it, or kept it (%d kept)", tab.Len())
	}
	m := tab.Get(testkit.MethodCompare, func(name string) *Method { m := NewMethod(name); return &m })
	if got, ok := tab.Lookup(testkit.MethodCompare); !ok || got != m {
		t.Fatalf("Lookup = %v, %v; want what Get made", got, ok)
	}
}

// option is a policy's CallOption as the policies build theirs.
type option struct {
	grpc.EmptyCallOption
	s Setting
}

func parse(opts []grpc.CallOption) (p PerCall) {
	calloption.Scan(opts, func(o option) { p.Apply(o.s) })
	return p
}

func TestPerCall(t *testing.T) {
	rec := &testkit.Recorder{}
	p := parse([]grpc.CallOption{
		option{s: Max(0)}, option{s: Max(500)}, grpc.WaitForReady(true),
		option{s: Idempotent(true)}, option{s: Idempotent(false)}, option{s: Sink(rec)}, option{s: Disable()},
	})
	if !p.Disabled || p.Idempotent != -1 || p.MaxAttempts != 100 || p.SinkOr(nil) != rec {
		t.Fatalf("PerCall = %+v", p)
	}
	var none PerCall
	if none.SinkOr(rec) != rec {
		t.Fatal("a call without a sink does not keep the policy's")
	}
	if got := parse([]grpc.CallOption{option{s: Sink(nil)}}); got.SinkOr(rec) != nil {
		t.Fatal("a call's nil sink does not silence it")
	}
	opts := []grpc.CallOption{grpc.WaitForReady(true)}
	if n := testing.AllocsPerRun(100, func() { _ = parse(opts) }); n != 0 {
		t.Fatalf("parsing without options: %v allocs", n)
	}
}

func TestReplay(t *testing.T) {
	msg := &kycv1.CompareRequest{Selfie: make([]byte, 100)} // 102 bytes
	r := Replay{Cap: 250}
	first := r.Add(msg)
	second := r.Add(msg)
	if !first || !second || len(r.Msgs()) != 2 || r.Over() {
		t.Fatalf("two messages within the cap: added %v and %v, %d kept, over %v", first, second, len(r.Msgs()), r.Over())
	}
	if r.Add(msg) || r.Msgs() != nil || !r.Over() {
		t.Fatal("the message past the cap did not drop the buffer")
	}
	if r.Add(&kycv1.CompareRequest{}) {
		t.Fatal("a dropped buffer took a message")
	}
	// A message that fills the buffer to exactly the cap is kept: only outgrowing it commits.
	exact := Replay{Cap: 2 * (102 + MessageOverhead)}
	for i := range 2 {
		if !exact.Add(msg) {
			t.Fatalf("message %d, filling the cap exactly: not kept (%d kept, over %v)", i+1, len(exact.Msgs()), exact.Over())
		}
	}
	if exact.Add(&kycv1.CompareRequest{}) || !exact.Over() {
		t.Fatal("a 5-byte message past a full buffer was kept")
	}
	never := Replay{Cap: -1}
	if never.Add(&kycv1.CompareRequest{}) {
		t.Fatal("a negative cap kept a message")
	}
	notProto := Replay{Cap: 1 << 20}
	if notProto.Add("text") {
		t.Fatal("a message that is not proto was kept (its size is unknown)")
	}
}

func outgoing(ctx context.Context) metadata.MD {
	md, _ := metadata.FromOutgoingContext(ctx)
	return md
}

func TestOutgoing(t *testing.T) {
	ctx := context.Background()
	if Outgoing(ctx, 0, 0, false) != ctx {
		t.Fatal("the first attempt got metadata")
	}
	retry := Outgoing(ctx, 1, 2, false)
	if md := outgoing(retry); !slices.Equal(md.Get(PreviousKey), []string{"1"}) || !slices.Equal(md.Get(LegacyRetryKey), []string{"2"}) {
		t.Fatalf("retry metadata = %v", md)
	}
	// A hedge under that retry: its own count replaces the retry's, the legacy key stays.
	hedge := Outgoing(retry, 3, 0, true)
	if md := outgoing(hedge); !slices.Equal(md.Get(PreviousKey), []string{"3"}) || !slices.Equal(md.Get(LegacyRetryKey), []string{"2"}) {
		t.Fatalf("hedge metadata = %v", md)
	}
	if md := outgoing(retry); !slices.Equal(md.Get(PreviousKey), []string{"1"}) {
		t.Fatalf("the retry's metadata changed: %v", md)
	}
	if md := outgoing(Outgoing(ctx, 20, 0, true)); !slices.Equal(md.Get(PreviousKey), []string{"20"}) {
		t.Fatalf("large count = %v", md)
	}
}

func TestBoundOf(t *testing.T) {
	now := time.Unix(1000, 0)
	bg := context.Background()
	early, cancel := context.WithDeadline(bg, now.Add(time.Second))
	defer cancel()
	tests := []struct {
		name       string
		ctx        context.Context
		callEnd    time.Time
		perAttempt time.Duration
		kept       bool
		want       Bound
	}{
		{name: "nothing", ctx: bg, want: Bound{}},
		{name: "per attempt", ctx: bg, perAttempt: 5 * time.Second, want: Bound{End: now.Add(5 * time.Second), PerAttempt: true, Needed: true}},
		{name: "call end first", ctx: bg, callEnd: now.Add(2 * time.Second), perAttempt: 5 * time.Second, want: Bound{End: now.Add(2 * time.Second), Needed: true}},
		{name: "caller's deadline first: no context", ctx: early, perAttempt: 5 * time.Second, want: Bound{End: now.Add(5 * time.Second), PerAttempt: true}},
		{name: "per attempt before the caller's deadline", ctx: early, perAttempt: 500 * time.Millisecond, want: Bound{End: now.Add(500 * time.Millisecond), PerAttempt: true, Needed: true}},
		// grpc keeps the per-attempt timeout: no context, unless the call ends too soon after it.
		{name: "kept by grpc", ctx: bg, perAttempt: 5 * time.Second, kept: true, want: Bound{End: now.Add(5 * time.Second), PerAttempt: true}},
		{name: "kept, call end well after", ctx: bg, callEnd: now.Add(8 * time.Second), perAttempt: 5 * time.Second, kept: true, want: Bound{End: now.Add(5 * time.Second), PerAttempt: true}},
		{name: "kept, call end within the slack", ctx: bg, callEnd: now.Add(5*time.Second + KeptSlack - 1), perAttempt: 5 * time.Second, kept: true, want: Bound{End: now.Add(5 * time.Second), PerAttempt: true, Needed: true}},
		{name: "kept, call end first", ctx: bg, callEnd: now.Add(2 * time.Second), perAttempt: 5 * time.Second, kept: true, want: Bound{End: now.Add(2 * time.Second), Needed: true}},
		// Boundaries: a call end exactly KeptSlack after the per-attempt end leaves grpc's timeout
		// alone; a per-attempt end at the call's end is the call's end, whose DeadlineExceeded
		// is not a per-attempt timeout's (never retried as one).
		{name: "kept, call end exactly the slack after", ctx: bg, callEnd: now.Add(5*time.Second + KeptSlack), perAttempt: 5 * time.Second, kept: true, want: Bound{End: now.Add(5 * time.Second), PerAttempt: true}},
		{name: "per attempt ends with the call", ctx: bg, callEnd: now.Add(5 * time.Second), perAttempt: 5 * time.Second, want: Bound{End: now.Add(5 * time.Second), Needed: true}},
	}
	for _, tt := range tests {
		if got := BoundOf(tt.ctx, tt.callEnd, now, tt.perAttempt, tt.kept); got != tt.want {
			t.Errorf("%s: BoundOf = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	clk := clocktest.New(now)
	if ctx, c := (Bound{}).Context(bg, clk, false); ctx != bg || c != nil {
		t.Error("a bound that is not needed made a context")
	}
	ctx, c := (Bound{}).Context(bg, clk, true)
	if ctx == bg || c == nil {
		t.Fatal("cancelable made no context")
	}
	c()
	ctx, c = BoundOf(bg, time.Time{}, now, time.Second, false).Context(bg, clk, false)
	defer c()
	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(now.Add(time.Second)) {
		t.Fatalf("deadline = %v, %v", dl, ok)
	}
	clk.Advance(time.Second)
	within.Recv(t, ctx.Done(), "the attempt's context did not end at its 1s bound")
}

func TestRound(t *testing.T) {
	var r Round
	canceled := false
	start := time.Unix(100, 0)
	r.Reset(2, start, func() { canceled = true })
	opts := []grpc.CallOption{grpc.WaitForReady(true), &r}
	if RoundOf(opts) != &r || RoundOf(opts[:1]) != nil {
		t.Fatal("RoundOf does not find the round")
	}
	var wg sync.WaitGroup
	got := make([]int, 3)
	for k := 1; k <= 3; k++ {
		wg.Add(1)
		go func() { defer wg.Done(); got[k-1], _ = r.Report(k) }()
	}
	wg.Wait()
	if !slices.Equal(got, []int{3, 4, 5}) || r.Reported() != 3 || r.Prev() != 2 || !r.Start().Equal(start) {
		t.Fatalf("numbers %v, reported %d, start %v", got, r.Reported(), r.Start())
	}
	if r.Decided() != 0 {
		t.Fatalf("Decided = %d before Decide, want 0", r.Decided())
	}
	r.Decide(2)
	if r.Decided() != 4 {
		t.Fatalf("Decided = %d after Decide(2) in a round after 2, want 4 (over the call)", r.Decided())
	}
	r.Cancel()()
	if !canceled {
		t.Fatal("Cancel is not the round's")
	}
	r.Reset(5, time.Time{}, nil)
	if r.Reported() != 0 || r.Decided() != 0 || r.Prev() != 5 || r.Cancel() != nil || !r.Start().IsZero() {
		t.Fatal("Reset kept the last round")
	}
}

func TestFinished(t *testing.T) {
	rec := &testkit.Recorder{}
	m := NewMethod(testkit.MethodCompare)
	t0 := time.Unix(1000, 0)
	Finished(nil, observe.PolicyHedge, &m, 1, t0, t0, codes.Verdict{}, "") // no sink: nothing
	Finished(rec, observe.PolicyHedge, &m, 3, t0, t0.Add(time.Second), codes.Verdict{Code: grpccodes.Unavailable, Class: codes.Transient}, observe.ReasonHedgeDelay)
	evs := rec.Events(observe.AttemptFinished)
	if len(evs) != 1 || evs[0].Attempt != 3 || evs[0].Duration != time.Second || evs[0].Policy != observe.PolicyHedge ||
		evs[0].Method != m.Name || evs[0].Service != m.Service || evs[0].Code != grpccodes.Unavailable || evs[0].Reason != observe.ReasonHedgeDelay {
		t.Fatalf("events = %+v", evs)
	}
}

// Names that share a front slot take it in turn: each still gets its own state, made once.
func TestMethodsFrontCollisions(t *testing.T) {
	names := make([]string, 300)
	for i := range names {
		names[i] = "/svc.S/M" + strconv.Itoa(i)
	}
	a, b, ok := front.Colliding(names...)
	if !ok {
		t.Fatal("no two names share a slot")
	}
	var tab Methods[*Method]
	made := map[string]int{}
	mk := func(name string) *Method { made[name]++; m := NewMethod(name); return &m }
	for range 3 {
		for _, n := range []string{a, b} {
			if got := tab.Get(n, mk); got.Name != n {
				t.Fatalf("Get(%q) = state of %q", n, got.Name)
			}
		}
	}
	// An equal name at another address finds the same state.
	c := strings.Clone(a)
	if tab.Get(c, mk) != tab.Get(a, mk) || made[a] != 1 || made[b] != 1 {
		t.Fatalf("made %v", made)
	}
}

// A name longer than grpcmethod.MaxKeptName is not kept, in the table or its front: its state
// is made on every call, and a proxy forwarding long names (a :path may be megabytes) grows no
// memory. A name within the bound is kept as before.
func TestMethodsDoNotKeepLongNames(t *testing.T) {
	var tab Methods[*Method]
	made := 0
	mk := func(name string) *Method { made++; m := NewMethod(name); return &m }
	short := "/svc.S/M"
	tab.Get(short, mk)
	before := testkit.Heap()
	for i := range 100 {
		name := testkit.LongName("/svc.S/M", i, 64<<10)
		for range 2 {
			if got := tab.Get(name, mk); got.Name != name || got.Service != "svc.S" {
				t.Fatalf("Get of long name %d = state of %q", i, got.Service)
			}
		}
	}
	grown := int64(testkit.Heap()) - int64(before)
	if n := tab.m.Len(); n != 1 {
		t.Fatalf("the table holds %d names after 100 long ones, want 1 (the short one)", n)
	}
	for i := range front.Slots {
		if e := tab.front.Load(uintptr(i)); e != nil && len(e.name) > grpcmethod.MaxKeptName {
			t.Fatalf("front slot %d holds a name of %d bytes", i, len(e.name))
		}
	}
	if grown > 1<<20 {
		t.Fatalf("100 names of 64 KiB kept %d bytes, want none", grown)
	}
	if made != 1+200 {
		t.Fatalf("made %d states, want 201: the short name's, one per call of a long name", made)
	}
	if tab.Get(short, mk); made != 201 {
		t.Fatal("the short name is made again")
	}
}

// TestReplayBoundsEmptyMessages: messages of no proto.Size (an empty heartbeat, a request
// whose fields are all defaults) still count against the cap, as on the wire, where each
// carries gRPC's 5-byte message header: a stream sending them without end is not kept without
// end.
func TestReplayBoundsEmptyMessages(t *testing.T) {
	r := Replay{Cap: 1 << 10}
	kept := 0
	for range 1 << 12 {
		if !r.Add(&kycv1.CompareRequest{}) {
			break
		}
		kept++
	}
	if !r.Over() || kept != (1<<10)/5 {
		t.Fatalf("a 1 KiB replay buffer kept %d empty messages (over %v), want %d then over", kept, r.Over(), (1<<10)/5)
	}
}

// A name past the table's bound (cowmap.MaxKeys names kept already) is not kept in the map,
// and so not in the front either: its state is made on each call, as a long name's is, and
// the front's slot does not hold it (it held it until another name took the slot).
func TestMethodsFrontKeepsNoNamePastTheBound(t *testing.T) {
	var tab Methods[*Method]
	made := 0
	mk := func(name string) *Method { made++; m := NewMethod(name); return &m }
	for i := range cowmap.MaxKeys {
		tab.Get("/svc.S/M"+strconv.Itoa(i), mk)
	}
	if n := tab.Len(); n != cowmap.MaxKeys {
		t.Fatalf("the table keeps %d names, want %d", n, cowmap.MaxKeys)
	}
	past := "/svc.S/Past"
	made = 0
	for range 3 {
		if got := tab.Get(past, mk); got.Name != past {
			t.Fatalf("Get(%q) = state of %q", past, got.Name)
		}
	}
	if made != 3 {
		t.Errorf("states made for 3 calls of a name past the bound: %d, want 3 (one per call, none kept)", made)
	}
	if _, ok := tab.Lookup(past); ok {
		t.Errorf("Lookup(%q) found a state for a name past the bound, want none kept", past)
	}
	if e := tab.front.Load(front.Hint(past)); e != nil && e.name == past {
		t.Errorf("the front's slot holds %q, a name the table does not keep", past)
	}
}

// replayAllocs is the Replay of TestReplayAllocs: not a local, which the test's closure would
// move to the heap, with an allocation of its own on each run.
var replayAllocs Replay

// TestReplayAllocs pins what keeping a stream's messages allocates: nothing for its first
// ReplayInline messages (one allocation per doubling of the slice, 4 for 8 messages, before),
// and one per doubling past them; the messages are kept by reference, never copied.
func TestReplayAllocs(t *testing.T) {
	msgs := make([]*kycv1.CheckRequest, 32)
	for i := range msgs {
		msgs[i] = &kycv1.CheckRequest{Index: uint32(i), Image: make([]byte, 64)}
	}
	for _, tc := range []struct {
		n    int
		want float64
	}{{1, 0}, {8, 0}, {32, 2}} { // 8: ReplayInline
		got := testing.AllocsPerRun(100, func() {
			replayAllocs = Replay{Cap: 1 << 20}
			for _, m := range msgs[:tc.n] {
				if !replayAllocs.Add(m) {
					t.Fatal("a message within the cap was not kept")
				}
			}
		})
		if got != tc.want {
			t.Errorf("keeping %d messages: %v allocations, want %v", tc.n, got, tc.want)
		}
		if len(replayAllocs.Msgs()) != tc.n {
			t.Fatalf("keeping %d messages: %d kept", tc.n, len(replayAllocs.Msgs()))
		}
		for i, m := range replayAllocs.Msgs() {
			if m != msgs[i] {
				t.Fatalf("keeping %d messages: message %d is not the one sent %d-th", tc.n, i, i)
			}
		}
	}
}

// TestReplayDropClearsInline: Drop lets go of the first messages too, kept in the Replay
// itself, when the slice has grown past them.
func TestReplayDropClearsInline(t *testing.T) {
	r := Replay{Cap: 1 << 20}
	for range 2 * ReplayInline {
		r.Add(&kycv1.CheckRequest{})
	}
	r.Drop()
	for i, m := range r.inline {
		if m != nil {
			t.Fatalf("Drop kept message %d in the Replay", i)
		}
	}
}

// TestRoundEnd: a Round's end is what SetEnd set last, the zero time when none was or after
// SetEnd of the zero time (a stream's commit lifting its timeout), and Reset keeps it.
func TestRoundEnd(t *testing.T) {
	var r Round
	if e := r.End(); !e.IsZero() {
		t.Fatalf("End of a new Round = %v, want the zero time", e)
	}
	at := time.Unix(1700000000, 5)
	r.SetEnd(at)
	r.Reset(1, at, nil)
	if e := r.End(); !e.Equal(at) {
		t.Fatalf("End = %v, want %v", e, at)
	}
	r.SetEnd(time.Time{})
	if e := r.End(); !e.IsZero() {
		t.Fatalf("End after SetEnd of the zero time = %v, want the zero time", e)
	}
}

// TestClaimLeavesTheRoundToTheLoop: a round the retry loop claimed before the policy below
// reported any of its attempts counts none reported (the loop reports its attempt), and the
// policy below is told to send no AttemptFinished of its own; a round with a report already
// cannot be claimed.
func TestClaimLeavesTheRoundToTheLoop(t *testing.T) {
	var r Round
	r.Reset(1, time.Time{}, nil)
	if !r.Claim() {
		t.Fatal("Claim of a round with no report returned false")
	}
	if n, ok := r.Report(1); ok || n != 2 || r.Reported() != 0 {
		t.Fatalf("Report after Claim: %d, %v, reported %d; want 2, false, 0", n, ok, r.Reported())
	}
	r.Reset(2, time.Time{}, nil)
	if n, ok := r.Report(1); !ok || n != 3 {
		t.Fatalf("Report in a round after Reset: %d, %v; want 3, true", n, ok)
	}
	if r.Claim() || r.Reported() != 1 {
		t.Fatalf("Claim after a report succeeded, or reported %d, want 1", r.Reported())
	}
}

// TestTakeKeepsTheRoundFromTheLoop: a round the policy below took (Take: its hedged reply
// phase began) before the retry loop claimed it cannot be claimed, and counts one report
// until the policy below reports its attempts, so that the loop leaves them to it; a round
// the loop claimed first cannot be taken, and counts none.
func TestTakeKeepsTheRoundFromTheLoop(t *testing.T) {
	var r Round
	r.Reset(2, time.Time{}, nil)
	if !r.Take() {
		t.Fatal("Take of a fresh round returned false")
	}
	if r.Claim() || r.Reported() != 1 {
		t.Fatalf("Claim after Take succeeded, or reported %d; want false, 1", r.Reported())
	}
	for k := 1; k <= 3; k++ {
		if n, ok := r.Report(k); !ok || n != 2+k {
			t.Fatalf("Report(%d) of a taken round: %d, %v; want %d, true", k, n, ok, 2+k)
		}
	}
	if r.Reported() != 3 {
		t.Fatalf("a taken round with 3 reports counts %d, want 3", r.Reported())
	}
	r.Reset(5, time.Time{}, nil)
	if !r.Claim() {
		t.Fatal("Claim of a round after Reset returned false")
	}
	if r.Take() || r.Reported() != 0 {
		t.Fatalf("Take after Claim succeeded, or reported %d; want false, 0", r.Reported())
	}
	if _, ok := r.Report(1); ok || r.Reported() != 0 {
		t.Fatalf("Report after Claim and Take: ok %v, reported %d; want false, 0", ok, r.Reported())
	}
}
