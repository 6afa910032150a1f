package config

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/prose"
)

// StepKind says what a Step of a timeline is.
type StepKind uint8

// The step kinds.
const (
	// StepAttempt is one attempt: waits for a rate-limit token and a bulkhead slot, then the
	// call itself, all within the per-attempt timeout when there is one.
	StepAttempt StepKind = iota
	// StepSleep is the backoff sleep before a retry.
	StepSleep
)

// Step is one stretch of a worst-case timeline.
type Step struct {
	Kind StepKind
	// Attempt is the attempt's number (from 1); for a sleep, the number of the attempt it
	// comes before.
	Attempt int
	// Start and End are offsets from the call's start. End is meaningless when Unbounded.
	Start, End time.Duration
	// Wait is, for an attempt, the longest wait for a rate-limit token and a bulkhead slot
	// (part of End - Start, and so at most the per-attempt timeout).
	Wait time.Duration
	// Unbounded marks an attempt that neither a per-attempt timeout nor a deadline cap bounds.
	Unbounded bool
	// AtOnce marks an attempt of a brownout timeline (Policy.Fitted(true)) that fails as soon
	// as it is sent.
	AtOnce bool
}

// Timeline is a policy's worst case: every attempt fails at its timeout after the longest
// waits, and every backoff sleep is at its longest (jitter at its upper bound, capped by
// max_backoff). Steps stop at the first unbounded attempt. Steps go on past the limit, and past
// an attempt the retry policy never starts: it begins no sleep, and so no retry, unless
// retry.MinAttemptTime would remain before the limit once the sleep is over (the call ends at
// the failure before it); Cut says which.
type Timeline struct {
	Steps []Step
	// Attempts is the number of attempts the retry policy allows (1 when retry is off).
	Attempts int
	// Total is the end of the last attempt; meaningless when Unbounded. Offsets saturate at
	// the longest time.Duration rather than wrap around.
	Total time.Duration
	// Unbounded reports that an attempt has no bound of its own.
	Unbounded bool
	// Limit is when the call is cut at the latest: the smallest of the budget, retry.budget
	// and deadline.max; LimitName names it ("the budget 8s").
	Limit     time.Duration
	LimitName string

	// perAttempt is the per-attempt timeout that bounds each attempt, its waits included
	// (0: none).
	perAttempt time.Duration
}

// WorstCase returns p's worst-case timeline under the nominal schedule (the configured
// numbers, whether or not retry.fit_schedule shapes them at run time). Each attempt is
// bounded by per_attempt_timeout, or else by deadline.max (the call's deadline), which its
// waits for a rate-limit token and a bulkhead slot count against; the sleep before retry n+1 is the
// jitter's upper bound for min(initial_backoff * multiplier^n, max_backoff).
func (p Policy) WorstCase() Timeline { return p.timeline(false, false) }

// Fitted returns p's timeline under the fitted schedule (retry.fit_schedule), and false when
// the schedule is not fitted. Each sleep is at most its nominal upper bound and at most the
// remaining time divided by twice the attempts left (the rule of retry's fitted schedule).
// With failFast every attempt fails at once after the longest waits for a rate-limit token
// and a bulkhead slot (a brownout); without, every attempt runs to its timeout as in
// WorstCase.
func (p Policy) Fitted(failFast bool) (Timeline, bool) {
	if p.Retry == nil || !p.Retry.FitSchedule {
		return Timeline{}, false
	}
	return p.timeline(true, failFast), true
}

// checked is the timeline Warnings judges: the nominal worst case, or for a fitted schedule
// the brownout case (attempts failing at once after the longest waits). Under a fitted
// schedule the sleeps never cut an attempt, so what the limit can still cut is the attempts'
// own time; attempts that all run to their timeouts are shown by Explain, not warned about:
// per_attempt_timeout bounds a hung attempt, it is not a schedule.
func (p Policy) checked() Timeline {
	if t, ok := p.Fitted(true); ok {
		return t
	}
	return p.WorstCase()
}

// limit returns when p cuts a call at the latest, and its name (see Timeline.Limit).
func (p Policy) limit() (time.Duration, string) {
	limit, name := p.Budget, "the budget "+p.Budget.String()
	if p.Retry != nil && p.Retry.Budget > 0 && p.Retry.Budget < limit {
		limit, name = p.Retry.Budget, "retry.budget "+p.Retry.Budget.String()
	}
	if p.Deadline != nil && p.Deadline.Max > 0 && p.Deadline.Max < limit {
		limit, name = p.Deadline.Max, "deadline.max "+p.Deadline.Max.String()
	}
	return limit, name
}

// checkedWithoutDeadline is checked for a call without a deadline of its own, which
// deadline.default cuts: the timeline judged against that default, and true, when it is
// shorter than the limit; else false. (Sleeps fitted at run time are fitted to it.)
func (p Policy) checkedWithoutDeadline() (Timeline, bool) {
	limit, _ := p.limit()
	if p.Deadline == nil || p.Deadline.Default <= 0 || p.Deadline.Default >= limit {
		return Timeline{}, false
	}
	fit := p.Retry != nil && p.Retry.FitSchedule
	// The default is such a call's deadline: it bounds the attempts deadline.max bounds in others.
	return p.timelineTo(fit, fit, p.Deadline.Default, "deadline.default "+p.Deadline.Default.String(), p.Deadline.Default), true
}

// withoutDeadlineWarning returns what Warnings says of a call without a deadline of its own
// under p, or "".
func (p Policy) withoutDeadlineWarning() string {
	t, ok := p.checkedWithoutDeadline()
	if !ok || t.warning() == "" {
		return ""
	}
	return "for calls without a deadline of their own: " + t.warning()
}

func (p Policy) timeline(fit, failFast bool) Timeline {
	limit, name := p.limit()
	var deadline time.Duration
	if p.Deadline != nil {
		deadline = p.Deadline.Max
	}
	return p.timelineTo(fit, failFast, limit, name, deadline)
}

// timelineTo is timeline against the given limit, for a call whose deadline the deadline step
// sets to deadline from its start (0: none).
func (p Policy) timelineTo(fit, failFast bool, limit time.Duration, limitName string, deadline time.Duration) Timeline {
	t := Timeline{Attempts: 1, Limit: limit, LimitName: limitName}
	var wait, run time.Duration
	if p.RateLimit != nil {
		wait = addSat(wait, p.RateLimit.MaxWait)
	}
	if p.Bulkhead != nil {
		wait = addSat(wait, p.Bulkhead.MaxWait)
	}
	// bound bounds an attempt, waits included. perAttempt: the retry step sets the attempt's
	// deadline before the steps below it wait, and their waits are cut to it. Else
	// deadline: the deadline step sets the call's deadline (deadline.max, or deadline.default
	// for a call without one) before anything waits (an attempt after the first starts past it).
	var perAttempt, bound time.Duration
	switch {
	case p.Retry != nil && p.Retry.PerAttemptTimeout > 0:
		run, perAttempt, bound = p.Retry.PerAttemptTimeout, p.Retry.PerAttemptTimeout, p.Retry.PerAttemptTimeout
	case deadline > 0:
		run, bound = deadline, deadline
	}
	unbounded := run == 0
	if failFast {
		run, unbounded = 0, false
	}
	span := addSat(wait, run)
	if bound > 0 {
		span = min(span, bound)
	}
	t.perAttempt = perAttempt
	wait = min(wait, span)
	var sleeps []time.Duration
	if p.Retry != nil {
		t.Attempts = max(p.Retry.MaxAttempts, 1)
		sleeps = sleepBounds(*p.Retry, t.Attempts-1)
	}
	var at time.Duration
	for i := range t.Attempts {
		if i > 0 {
			s := sleeps[i-1]
			if fit {
				left := time.Duration(t.Attempts - i)
				// To the millisecond below, for a readable timeline.
				s = max(min(s, ((t.Limit-at)/(2*left)).Truncate(time.Millisecond)), 0)
			}
			t.Steps = append(t.Steps, Step{Kind: StepSleep, Attempt: i + 1, Start: at, End: addSat(at, s)})
			at = addSat(at, s)
		}
		st := Step{Kind: StepAttempt, Attempt: i + 1, Start: at, End: addSat(at, span), Wait: wait, Unbounded: unbounded, AtOnce: failFast}
		t.Steps = append(t.Steps, st)
		if st.Unbounded {
			t.Unbounded = true
			return t
		}
		at = st.End
	}
	t.Total = at
	return t
}

// sleepBounds returns the longest sleep before each of n retries. r has its defaults filled.
func sleepBounds(r retry.Config, n int) []time.Duration {
	out := make([]time.Duration, n)
	d := float64(r.InitialBackoff)
	prev := r.InitialBackoff
	maxB := float64(r.MaxBackoff)
	for i := range n {
		base := time.Duration(min(d, maxB))
		var s time.Duration
		switch r.Jitter {
		case retry.JitterAdditive:
			s = min(addSat(base, r.JitterAmount), r.MaxBackoff)
		case retry.JitterDecorrelated:
			s = time.Duration(min(3*float64(prev), maxB))
			prev = s
		default: // none, full, equal: at most the base delay
			s = base
		}
		out[i] = s
		d *= r.Multiplier
	}
	return out
}

// addSat returns a+b for non-negative durations, or the longest time.Duration where the sum
// would overflow: a timeline of durations near that limit is longer than any budget, never
// one that wraps around to a negative total that fits.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// firstNeverRun returns the first attempt the retry policy never starts in t, 0 when it starts
// them all (the limit may still cut one): the attempt after the first sleep that would not
// leave retry.MinAttemptTime before the limit once over (a sleep past the limit included).
func (t Timeline) firstNeverRun() int {
	for _, s := range t.Steps {
		if s.Kind == StepSleep && s.End > t.Limit-retry.MinAttemptTime {
			return s.Attempt
		}
	}
	return 0
}

// Over reports by how much the worst case outlasts the limit: 0 when it fits, and 0 when
// unbounded, which has no total (Cut then says that the limit ends the unbounded attempt and
// which attempts never run).
func (t Timeline) Over() time.Duration {
	if t.Unbounded || t.Total <= t.Limit {
		return 0
	}
	return t.Total - t.Limit
}

// Cut describes what the limit cuts in the worst case, or "" when the whole worst case fits
// (an unbounded single attempt fits: the limit is its bound). An attempt whose sleep before it
// would leave less than retry.MinAttemptTime before the limit never runs, even when the
// timeline ends within the limit.
func (t Timeline) Cut() string {
	if t.Unbounded {
		last := t.Steps[len(t.Steps)-1]
		if last.Attempt == t.Attempts {
			return ""
		}
		return "attempt " + strconv.Itoa(last.Attempt) + " has no timeout (no retry.per_attempt_timeout or deadline.max), so in the worst case it runs until " +
			t.LimitName + " ends the call, and " + never(last.Attempt+1, t.Attempts)
	}
	limitName := strings.TrimSuffix(t.LimitName, " "+t.Limit.String())
	for _, s := range t.Steps {
		switch {
		case s.Kind == StepSleep && s.End > t.Limit:
			return limitName + " ends during the sleep before attempt " + strconv.Itoa(s.Attempt) + ", so " + never(s.Attempt, t.Attempts)
		case s.Kind == StepSleep && s.End > t.Limit-retry.MinAttemptTime:
			return "the sleep before attempt " + strconv.Itoa(s.Attempt) + " would leave less than " + retry.MinAttemptTime.String() +
				" (retry.MinAttemptTime) before " + limitName + " ends, so " + never(s.Attempt, t.Attempts)
		case s.Kind == StepAttempt && s.End > t.Limit:
			msg := limitName + " cuts attempt " + strconv.Itoa(s.Attempt)
			if s.Attempt < t.Attempts {
				msg += ", and " + never(s.Attempt+1, t.Attempts)
			}
			return msg
		}
	}
	return ""
}

// never says that attempts from..to never run.
func never(from, to int) string {
	if from == to {
		return "attempt " + strconv.Itoa(from) + " never runs"
	}
	var ns []string
	for i := from; i <= to; i++ {
		ns = append(ns, strconv.Itoa(i))
	}
	return "attempts " + prose.List(ns) + " never run"
}

// warning returns the warning message for t, or "".
func (t Timeline) warning() string {
	cut := t.Cut()
	if cut == "" {
		return ""
	}
	if t.Unbounded {
		return cut
	}
	if t.Over() == 0 {
		return "worst case " + t.Total.String() + " is within " + t.LimitName + ", but " + cut
	}
	return "worst case " + t.Total.String() + " exceeds " + t.LimitName + " by " + t.Over().String() + ": " + cut
}

// Warnings returns what Parse warns about: every profile, service and method whose
// worst-case timeline does not fit its limit (for a fitted schedule, retry.fit_schedule: whose
// attempts do not all fit even when each fails at once after its longest waits), or, when it
// does, does not fit a deadline.default shorter than that limit, which every call without a
// deadline of its own gets; and every one whose hedge can never be sent, its earliest delay
// not below the per-attempt timeout or the limit that ends each attempt first. A service or
// method is warned about only when its overrides change what its profile is warned about, and
// a method only when its profile or overrides also change what its service is. Paths are yaml
// paths; File and Line are left empty.
func (c *Config) Warnings() []Warning {
	c = c.orBuiltin()
	var out []Warning
	budget := c.Budget
	if budget == 0 {
		budget = DefaultBudget
	}
	profile := func(name string) (Policy, bool) {
		p, ok := c.Profiles[name]
		return Policy{Budget: budget, Profile: p.withDefaults()}, ok
	}
	for _, name := range c.ProfileNames() {
		p, _ := profile(name)
		for _, msg := range []string{p.warning(), p.hedgeWarning(), p.timeoutWarning()} {
			if msg != "" {
				out = append(out, Warning{Path: "profiles." + keyOf(name), Message: msg})
			}
		}
	}
	var service Policy // the service of the methods that follow it in Policies
	for _, pol := range c.Policies() {
		if pol.Method == "" {
			service = pol
		}
		base, hasBase := profile(pol.ProfileName)
		// A method on its service's timelines is what the service's warning (or, when the
		// service has its profile's, the profile's) already says.
		onService := pol.Method != "" && service.Service == pol.Service
		said := (hasBase && sameJudged(pol, base)) || (onService && sameJudged(pol, service))
		if !said {
			if msg := pol.warning(); msg != "" {
				out = append(out, Warning{Path: targetPath(pol.Service, pol.Method), Message: msg})
			}
		}
		// The same for the hedge and the per-attempt timeout: said where the profile's or the
		// service's says the same.
		for _, warn := range []func(Policy) string{Policy.hedgeWarning, Policy.timeoutWarning} {
			msg := warn(pol)
			said := (hasBase && warn(base) == msg) || (onService && warn(service) == msg)
			if msg != "" && !said {
				out = append(out, Warning{Path: targetPath(pol.Service, pol.Method), Message: msg})
			}
		}
		for _, msg := range c.unusedWarnings(pol.Service, pol.Method) {
			out = append(out, Warning{Path: targetPath(pol.Service, pol.Method), Message: msg})
		}
	}
	return out
}

// unusedWarnings returns what Warnings says of the fields that the overrides of a service (or
// of one of its methods) keep from what they override but leave unused, having turned off
// the setting that reads them (retry.throttle.ratio: 0 under a profile's ratio budget, whose
// min_per_second and window stay): Validate accepts those (see effectiveErrors), as an
// override cannot write such a field's 0, which means its default. Each is said where it
// first goes unused, not again at the methods that inherit it. A method on a profile other
// than its service's gets its service's overrides on that profile, which the service's
// warnings do not judge: what they (or its own) leave unused of it is said at the method.
func (c *Config) unusedWarnings(service, method string) []string {
	svc := c.Services[service]
	eff := c.resolve(service, "", false)
	parent := c.Profiles[eff.ProfileName]
	here := eff.Profile
	if method != "" {
		m := c.resolve(service, method, false)
		here = m.Profile
		if m.ProfileName != eff.ProfileName {
			parent = c.Profiles[m.ProfileName]
		} else {
			without := *c
			without.Services = map[string]Service{service: {Profile: svc.Profile, Overrides: svc.Overrides,
				Methods: map[string]Method{method: {Profile: svc.Methods[method].Profile}}}}
			parent = without.resolve(service, method, false).Profile
		}
	}
	known := parent.unusedSet()
	var out []string
	for _, fe := range here.unused() {
		if !known[fe.Error()] {
			out = append(out, fe.Path+": "+fe.Value+" "+fe.Rule+" (kept from what this overrides, it has no effect here)")
		}
	}
	return out
}

// sameJudged reports whether Warnings judges a and b on the same timelines.
func sameJudged(a, b Policy) bool {
	da, oka := a.checkedWithoutDeadline()
	db, okb := b.checkedWithoutDeadline()
	return sameTimeline(a.checked(), b.checked()) && oka == okb && sameTimeline(da, db)
}

// hedgeWarning returns what Warnings says of p's hedge when no hedge can ever be sent: its
// earliest delay (delay when fixed; min_delay when adaptive) is not below what ends each
// attempt first (retry.per_attempt_timeout, else p's limit), so every attempt ends before its
// hedge is due. Else "".
func (p Policy) hedgeWarning() string {
	if p.Hedge == nil {
		return ""
	}
	h := hedge.Normalize(*p.Hedge)
	earliest, name := h.Delay, "hedge.delay "+h.Delay.String()+" (a fixed delay)"
	if h.Percentile != 0 {
		// An adaptive delay starts from delay kept within [min_delay, max_delay] and stays
		// there: min_delay is the earliest, whatever a shorter delay says.
		earliest, name = h.MinDelay, "hedge.min_delay "+h.MinDelay.String()+" (the shortest adaptive delay)"
	}
	bound, boundName := p.limit()
	if p.Retry != nil && p.Retry.PerAttemptTimeout > 0 && p.Retry.PerAttemptTimeout < bound {
		bound, boundName = p.Retry.PerAttemptTimeout, "retry.per_attempt_timeout "+p.Retry.PerAttemptTimeout.String()
	}
	if bound <= 0 || earliest < bound {
		return ""
	}
	return name + " is not below " + boundName + ", which ends each attempt first: no hedge is ever sent"
}

// timeoutWarning returns what Warnings says of p's retry.per_attempt_timeout under a fitted
// schedule when it is not below p's limit, which then ends every call first: the timeout cuts
// no attempt, and one that hangs leaves no time for a retry. Else "". (A schedule that is not
// fitted is judged with every attempt run to its timeout, which warning already says.)
func (p Policy) timeoutWarning() string {
	if p.Retry == nil || !p.Retry.FitSchedule || p.Retry.MaxAttempts < 2 || p.Retry.PerAttemptTimeout <= 0 {
		return ""
	}
	limit, name := p.limit()
	if p.Retry.PerAttemptTimeout < limit {
		return ""
	}
	return "retry.per_attempt_timeout " + p.Retry.PerAttemptTimeout.String() + " is not below " + name +
		", which ends the call first: an attempt that hangs runs until the call ends, and no retry follows it"
}

// warning is what Warnings says of p: that its checked timeline does not fit its limit, else
// that it does not fit deadline.default, or "".
func (p Policy) warning() string {
	if msg := p.checked().warning(); msg != "" {
		return msg
	}
	return p.withoutDeadlineWarning()
}

func sameTimeline(a, b Timeline) bool {
	if a.Attempts != b.Attempts || a.Limit != b.Limit || a.Unbounded != b.Unbounded || len(a.Steps) != len(b.Steps) {
		return false
	}
	for i := range a.Steps {
		if a.Steps[i] != b.Steps[i] {
			return false
		}
	}
	return true
}
