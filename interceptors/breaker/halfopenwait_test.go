package breaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	"google.golang.org/grpc"
)

// stuckCfg opens for 1s after a trip and 2s after a failed (or given up) probe, and gives up
// on probes that hold every slot for 10s.
var stuckCfg = Config{ConsecutiveFailures: 1, InitialRecoveryTimeout: time.Second, RecoveryTimeout: 30 * time.Second, HalfOpenMaxWait: 10 * time.Second}

// A probe that never reports (a Permit taken and never returned) holds the half-open breaker
// for HalfOpenMaxWait only: then the breaker reopens, as after a failed probe, with its own
// reason, whichever of Allow, State or Stats looks first; the next interval admits a fresh
// probe, and the stuck probe's late report is dropped (its generation is over), freeing no
// slot of the new period and deciding nothing. Before the fix the breaker stayed half-open,
// refusing every call, for ever.
func TestHalfOpenMaxWaitReopens(t *testing.T) {
	for _, look := range []struct {
		name string
		fn   func(b *Breaker)
	}{
		{"Allow", func(b *Breaker) { _, _ = b.Allow() }},
		{"State", func(b *Breaker) { b.State() }},
		{"Stats", func(b *Breaker) { b.Stats() }},
	} {
		for _, late := range []error{nil, errFail} {
			t.Run(look.name+"/late "+errString(late), func(t *testing.T) {
				b, clk, rec := newTest(t, stuckCfg)
				trip(t, b, clk)
				clk.Advance(time.Second)
				stuck, err := b.Allow()
				if err != nil {
					t.Fatalf("probe: %v", err)
				}
				halfOpenAt := clk.Now()
				before := b.Stats()

				clk.Advance(10 * time.Second)
				look.fn(b)
				ev := lastChange(rec)
				want := observe.Event{Kind: observe.BreakerStateChanged, Instance: b.Instance(), Time: halfOpenAt.Add(10 * time.Second), Service: svc,
					Policy: observe.PolicyBreaker, From: "half_open", To: "open", Reason: ReasonHalfOpenMaxWait, Delay: 2 * time.Second}
				if ev != want {
					t.Fatalf("event %+v,\nwant %+v", ev, want)
				}
				st := b.Stats()
				if st.State != Open || st.StateChanges != before.StateChanges+1 || st.Calls != before.Calls || st.Dropped != 0 {
					t.Fatalf("stats = %+v, want open after one more change, no outcome counted (before %+v)", st, before)
				}
				// Open for the next interval, as after a failed probe.
				_, err = b.Allow()
				if got := rejection(t, err).RetryAfter; got != 2*time.Second {
					t.Fatalf("RetryAfter = %v, want 2s", got)
				}

				// The next interval admits a fresh probe.
				clk.Advance(2 * time.Second)
				fresh, err := b.Allow()
				if err != nil {
					t.Fatalf("fresh probe after the interval: %v", err)
				}
				if ev := lastChange(rec); ev.From != "open" || ev.To != "half_open" || ev.Reason != ReasonRecoveryTimeout {
					t.Fatalf("event %+v, want open→half_open (recovery_timeout)", ev)
				}

				// The stuck probe reports at last: dropped, it decides nothing and frees no slot.
				changes := b.Stats().StateChanges
				stuck.Done(late)
				st = b.Stats()
				if st.State != HalfOpen || st.Dropped != 1 || st.StateChanges != changes {
					t.Fatalf("after the late report: stats %+v, want half_open, 1 dropped, no change", st)
				}
				if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
					t.Fatalf("a second probe was admitted beside the fresh one (err %v): the late report freed its slot", err)
				}
				fresh.Done(nil)
				if s := b.State(); s != Closed {
					t.Fatalf("state = %v after the fresh probe succeeded, want closed", s)
				}
			})
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return "failure"
}

// The wait runs only while every probe slot is taken, from when the last free one was taken:
// short of HalfOpenMaxWait nothing changes (the state, the RetryAfter of a refused call, the
// counts), a free slot admits calls however long the period, and a report restarts the wait
// once the slots fill again. Each case ends by reaching the wait, 1ns after the last check,
// which reopens the breaker (and before the fix did not).
func TestHalfOpenMaxWaitNotReached(t *testing.T) {
	type step struct {
		advance time.Duration
		allow   bool          // Allow: expect it admitted (true) or refused (false)
		retry   time.Duration // Refused: its RetryAfter, the rest of the wait, then the next open interval
		report  int           // > 0: report the success of probe report-1 (by admission order) instead
	}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
		until time.Duration // From the last step, when the wait ends.
	}{
		{
			name:  "one probe, 1ns short",
			cfg:   stuckCfg,
			steps: []step{{allow: true}, {advance: 10*time.Second - 1, allow: false, retry: 1 + 2*time.Second}},
			until: 1,
		},
		{
			name: "timed from the last free slot, not from half-open",
			cfg:  Config{ConsecutiveFailures: 1, HalfOpenMaxCalls: 2, SuccessThreshold: 3, HalfOpenMaxWait: 10 * time.Second},
			steps: []step{
				{allow: true},                           // 0: half-opens at t = 0
				{advance: 8 * time.Second, allow: true}, // 1: slots full at 8s
				{advance: 4 * time.Second, allow: false, retry: 6*time.Second + 30*time.Second},
				{advance: 6*time.Second - 1, allow: false, retry: 1 + 30*time.Second}, // 18s - 1ns
			},
			until: 1,
		},
		{
			name: "a free slot admits calls however long the period",
			cfg:  Config{ConsecutiveFailures: 1, HalfOpenMaxCalls: 2, HalfOpenMaxWait: 10 * time.Second},
			steps: []step{
				{allow: true},                     // 0: stuck
				{advance: time.Hour, allow: true}, // 1: the free slot, an hour later
				{advance: 10*time.Second - 1, allow: false, retry: 1 + 30*time.Second},
			},
			until: 1,
		},
		{
			name: "a report restarts the wait",
			cfg:  Config{ConsecutiveFailures: 1, SuccessThreshold: 3, HalfOpenMaxWait: 10 * time.Second},
			steps: []step{
				{allow: true},                           // 0
				{advance: 9 * time.Second, report: 1},   // 0 succeeds: 1 of 3
				{advance: 5 * time.Second, allow: true}, // 1: full again at 14s
				{advance: 10*time.Second - 1, allow: false, retry: 1 + 30*time.Second},
			},
			until: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, rec := newTest(t, tt.cfg)
			halfOpen(t, b, clk)
			var permits []Permit
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				if s.report > 0 {
					permits[s.report-1].Done(nil)
					continue
				}
				p, err := b.Allow()
				if (err == nil) != s.allow {
					t.Fatalf("step %d: Allow err = %v, want admitted %v", i, err, s.allow)
				}
				if err != nil {
					if got := rejection(t, err).RetryAfter; got != s.retry {
						t.Fatalf("step %d: RetryAfter = %v, want %v", i, got, s.retry)
					}
					continue
				}
				permits = append(permits, p)
			}
			st := b.Stats()
			if st.State != HalfOpen || lastChange(rec).Reason != ReasonRecoveryTimeout || st.StateChanges != 2 || st.Dropped != 0 {
				t.Fatalf("short of the wait: stats %+v, last event %+v; want half_open since recovery_timeout", st, lastChange(rec))
			}
			clk.Advance(tt.until)
			if s := b.State(); s != Open || lastChange(rec).Reason != ReasonHalfOpenMaxWait {
				t.Fatalf("at the wait's end: state %v, last event %+v; want open (half_open_max_wait)", s, lastChange(rec))
			}
			for _, p := range permits {
				p.Done(nil) // Late: dropped.
			}
			if s := b.State(); s != Open {
				t.Fatalf("state = %v after late reports, want open", s)
			}
		})
	}
}

// A stream nobody reads is a probe that never reports: it too holds the breaker half-open for
// HalfOpenMaxWait only.
func TestHalfOpenMaxWaitUnreadStream(t *testing.T) {
	b, clk, rec := newTest(t, stuckCfg)
	trip(t, b, clk)
	clk.Advance(time.Second)
	streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, _ string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
		return &fakeStream{ctx: ctx}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs, err := b.Stream()(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, testkit.MethodCheck, streamer)
	if err != nil || cs == nil {
		t.Fatalf("probe stream: %v", err)
	}
	clk.Advance(10*time.Second - 1)
	if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow beside the unread stream = %v, want refused", err)
	}
	clk.Advance(1)
	if s := b.State(); s != Open || lastChange(rec).Reason != ReasonHalfOpenMaxWait {
		t.Fatalf("state %v, last event %+v; want open (half_open_max_wait)", s, lastChange(rec))
	}
	clk.Advance(2 * time.Second)
	p, err := b.Allow()
	if err != nil {
		t.Fatalf("fresh probe: %v", err)
	}
	p.Done(nil)
	if s := b.State(); s != Closed {
		t.Fatalf("state = %v, want closed", s)
	}
}

func TestHalfOpenMaxWaitValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "negative", cfg: Config{HalfOpenMaxWait: -time.Second}, wantErr: "half_open_max_wait: -1s is negative"},
		{name: "below the slow-call duration", cfg: Config{SlowCallDuration: 5 * time.Second, HalfOpenMaxWait: 4 * time.Second},
			wantErr: "half_open_max_wait: 4s is below slow_call_duration (5s), so the breaker would give up on a probe it would count as fast"},
		{name: "equal to the slow-call duration", cfg: Config{SlowCallDuration: 5 * time.Second, HalfOpenMaxWait: 5 * time.Second}},
		{name: "zero: the default", cfg: Config{}},
		{name: "short", cfg: Config{HalfOpenMaxWait: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(svc, tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// A call refused by a half-open breaker whose every probe slot is taken is told the longest it
// may have to wait: should the probes never report, the breaker gives up on them when
// HalfOpenMaxWait has passed since the last slot was taken and reopens for the next interval,
// so RetryAfter is the time left of that wait plus that interval. A caller that comes back
// then gets in (here as the fresh probe); 1ns sooner it is refused. Before the fix RetryAfter
// was the next interval alone (2s), and a caller that came back after it was refused again,
// for up to HalfOpenMaxWait more.
func TestHalfOpenRetryAfterCountsTheProbeWait(t *testing.T) {
	b, clk, _ := newTest(t, stuckCfg) // Open 1s, then 2s, 4s...; probes given up on after 10s.
	trip(t, b, clk)
	clk.Advance(time.Second)
	allowed(t, b) // The probe takes every slot, and never reports.

	refused := func(step string, want time.Duration) {
		t.Helper()
		_, err := b.Allow()
		if got := rejection(t, err).RetryAfter; got != want {
			t.Fatalf("%s: RetryAfter = %v, want %v", step, got, want)
		}
	}
	refused("slots just filled", 10*time.Second+2*time.Second)
	clk.Advance(3 * time.Second)
	refused("3s into the wait", 7*time.Second+2*time.Second)

	// The caller told 9s comes back 1ns early: refused (open since the wait ended, 2s left
	// then, 1ns now); on time: admitted.
	clk.Advance(9*time.Second - 1)
	refused("1ns before the RetryAfter", 1)
	clk.Advance(1)
	fresh := allowed(t, b)

	// The next period: its wait, then the next interval, 4s.
	refused("fresh probe in flight", 10*time.Second+4*time.Second)
	// A probe that fails reopens sooner: for the next interval from now, within what was said.
	fresh.Done(errFail)
	refused("after the fresh probe failed", 4*time.Second)
}

// RetryAfter adds the wait and the interval without wrapping: with both as long as a Duration
// holds, a refused call is told the longest Duration, never a negative one.
func TestHalfOpenRetryAfterNeverOverflows(t *testing.T) {
	const longest = time.Duration(math.MaxInt64)
	b, clk, _ := newTest(t, Config{ConsecutiveFailures: 1, RecoveryTimeout: longest, HalfOpenMaxWait: longest})
	trip(t, b, clk)
	clk.Advance(longest)
	allowed(t, b)
	for _, d := range []time.Duration{0, time.Hour, 100 * 365 * 24 * time.Hour} {
		clk.Advance(d)
		_, err := b.Allow()
		if got := rejection(t, err).RetryAfter; got != longest {
			t.Fatalf("after %v: RetryAfter = %v, want %v", d, got, longest)
		}
	}
}

// The half-open breaker gives up on probes that hold every slot as of the end of the wait for
// them, whenever it is looked at: the next open interval runs from the wait's end, and a
// probe's report after the wait's end is dropped, whether or not anything has looked at the
// breaker since. So a refused caller that comes back when told (RetryAfter) gets in even when
// no call came in between. Before the fix the move was made, and the interval timed, from the
// first look or report after the wait: a lone caller that came back when told found the
// breaker just reopened, and a probe that reported late, with nothing in between, still
// closed it or reopened it from then.
func TestHalfOpenMaxWaitRunsFromTheWaitsEnd(t *testing.T) {
	allow := func(b *Breaker, _ Permit) error { _, err := b.Allow(); return err }
	tests := []struct {
		name        string
		after       time.Duration // From the stuck probe's admission, with nothing looking.
		act         func(b *Breaker, stuck Permit) error
		wantErr     time.Duration // > 0: act is refused with this RetryAfter.
		wantState   State
		wantEvents  []string // From→To (reason) at (since the probe's admission), for Delay.
		wantDropped uint64
	}{
		{
			name: "Allow after the wait and the interval", after: 12 * time.Second, act: allow,
			wantState:  HalfOpen,
			wantEvents: []string{"half_open→open (half_open_max_wait) at 10s for 2s", "open→half_open (recovery_timeout) at 12s for 0s"},
		},
		{
			name: "Allow within the interval", after: 11 * time.Second, act: allow, wantErr: time.Second,
			wantState:  Open,
			wantEvents: []string{"half_open→open (half_open_max_wait) at 10s for 2s"},
		},
		{
			name: "Stats after the wait and the interval", after: 12 * time.Second, act: func(b *Breaker, _ Permit) error { b.Stats(); return nil },
			wantState:  HalfOpen,
			wantEvents: []string{"half_open→open (half_open_max_wait) at 10s for 2s", "open→half_open (recovery_timeout) at 12s for 0s"},
		},
		{
			name: "the probe succeeds after the wait", after: 11 * time.Second, act: func(_ *Breaker, p Permit) error { p.Done(nil); return nil },
			wantState:   Open,
			wantEvents:  []string{"half_open→open (half_open_max_wait) at 10s for 2s"},
			wantDropped: 1,
		},
		{
			name: "the probe fails after the wait", after: 11 * time.Second, act: func(_ *Breaker, p Permit) error { p.Done(errFail); return nil },
			wantState:   Open,
			wantEvents:  []string{"half_open→open (half_open_max_wait) at 10s for 2s"},
			wantDropped: 1,
		},
		{
			name: "the probe succeeds after the wait and the interval", after: 12 * time.Second, act: func(_ *Breaker, p Permit) error { p.Done(nil); return nil },
			wantState:   HalfOpen,
			wantEvents:  []string{"half_open→open (half_open_max_wait) at 10s for 2s", "open→half_open (recovery_timeout) at 12s for 0s"},
			wantDropped: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, rec := newTest(t, stuckCfg) // Open 1s, then 2s; probes given up on after 10s.
			trip(t, b, clk)
			clk.Advance(time.Second)
			stuck := allowed(t, b)
			at := clk.Now()
			rec.Reset()

			clk.Advance(tt.after)
			err := tt.act(b, stuck)
			switch {
			case tt.wantErr == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr > 0 && (err == nil || rejection(t, err).RetryAfter != tt.wantErr):
				t.Fatalf("err = %v, want a rejection with RetryAfter %v", err, tt.wantErr)
			}
			var got []string
			for _, e := range rec.Events(observe.BreakerStateChanged) {
				got = append(got, fmt.Sprintf("%s→%s (%s) at %v for %v", e.From, e.To, e.Reason, e.Time.Sub(at), e.Delay))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantEvents) {
				t.Fatalf("events %q,\nwant %q", got, tt.wantEvents)
			}
			if st := b.Stats(); st.State != tt.wantState || st.Dropped != tt.wantDropped {
				t.Fatalf("state %v with %d dropped, want %v with %d", st.State, st.Dropped, tt.wantState, tt.wantDropped)
			}
		})
	}
}
