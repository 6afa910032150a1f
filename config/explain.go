package config

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
)

// Explain writes, for an operator checking a configuration against the SLO, the budget, each
// profile's resolved policies with its worst-case timeline, and each service (and method with
// an entry of its own) with its profile and whatever its overrides change.
func Explain(w io.Writer, cfg *Config) error {
	ew := &errWriter{w: w}
	budget := cfg.Budget
	if budget == 0 {
		budget = DefaultBudget
	}
	ew.printf("budget %s\n", budget)
	profiles := map[string]Policy{}
	for _, name := range cfg.ProfileNames() {
		pol := Policy{ProfileName: name, Budget: budget, Profile: cfg.Profiles[name].withDefaults()}
		profiles[name] = pol
		ew.printf("\nprofile %s\n", name)
		describe(ew, "  ", pol.Profile, Sections())
		timelines(ew, "  ", pol)
	}
	pols := cfg.Policies()
	if len(pols) > 0 {
		ew.printf("\n")
	}
	for _, pol := range pols {
		ind := "  "
		if pol.Method != "" {
			ind = "    "
		}
		if pol.Method == "" {
			ew.printf("service %s", pol.Service)
		} else {
			ew.printf("  method %s", pol.Method)
		}
		base, ok := profiles[pol.ProfileName]
		if !ok {
			if pol.Method == "" {
				ew.printf(": no profile\n")
			} else {
				ew.printf(" (%s): no profile\n", pol.FullMethod())
			}
			describe(ew, ind, pol.Profile, Sections())
			timelines(ew, ind, pol)
			continue
		}
		if pol.Method != "" {
			ew.printf(" (%s)", pol.FullMethod())
		}
		changed := pol.Profile.Changed(base.Profile)
		if len(changed) == 0 {
			ew.printf(": profile %s, no overrides\n", pol.ProfileName)
			continue
		}
		ew.printf(": profile %s, overriding %s\n", pol.ProfileName, joinSections(changed))
		describe(ew, ind, pol.Profile, changed)
		if !sameTimelines(pol, base) {
			timelines(ew, ind, pol)
		}
	}
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func joinSections(s []Section) string {
	names := make([]string, len(s))
	for i, x := range s {
		names[i] = string(x)
	}
	return strings.Join(names, ", ")
}

// describe writes one line per section in only, in plain words.
func describe(ew *errWriter, ind string, p Profile, only []Section) {
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, s := range only {
		fmt.Fprintf(tw, "%s%s\t%s\n", ind, s, sectionText(p, s))
	}
	_ = tw.Flush()
}

func sectionText(p Profile, s Section) string {
	switch s {
	case SectionRetry:
		if r := p.Retry; r != nil {
			return retryText(*r)
		}
	case SectionBreaker:
		if b := p.Breaker; b != nil {
			return breakerText(*b)
		}
	case SectionHedge:
		if h := p.Hedge; h != nil {
			return hedgeText(*h)
		}
	case SectionAdaptiveThrottle:
		if t := p.AdaptiveThrottle; t != nil {
			txt := fmt.Sprintf("reject locally past K=%s x accepts over %s, at most %s%%", fmtFloat(t.K), t.Window, fmtFloat(t.MaxRejectProbability*100))
			if t.MinRequests > 0 {
				txt += fmt.Sprintf(", from %d requests", t.MinRequests)
			}
			return txt
		}
	case SectionBulkhead:
		if b := p.Bulkhead; b != nil {
			return bulkheadText(*b)
		}
	case SectionRateLimit:
		if r := p.RateLimit; r != nil {
			t := fmt.Sprintf("%s calls/s, burst %d; %s", fmtFloat(r.Rate), r.Burst, waitText(r.MaxWait, "a token"))
			if r.Shared != "" {
				t += fmt.Sprintf("; shared bucket %q", r.Shared)
			}
			if rd := r.Redis; rd != nil {
				mode := "fail closed"
				if rd.FailOpen {
					mode = "fail open"
				}
				t += fmt.Sprintf("; fleet-wide on redis %s (prefix %q, timeout %s, %s)", rd.Addr, rd.KeyPrefix, rd.Timeout, mode)
			}
			return t
		}
	case SectionDeadline:
		if d := p.Deadline; d != nil {
			return fmt.Sprintf("default %s, max %s", orNone(d.Default), orNone(d.Max))
		}
	case SectionFallback:
		if f := p.Fallback; f != nil {
			var on []string
			for _, c := range f.OnClasses {
				on = append(on, c.String())
			}
			on = append(on, f.OnCodes...)
			t := "on " + strings.Join(on, ", ")
			if f.ReplyJSON != "" {
				t += "; reply " + f.ReplyJSON
			}
			return t
		}
	case SectionClassifier:
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(p.Classifier.Codes)) {
			parts = append(parts, codeName(c)+"="+p.Classifier.Codes[c].String())
		}
		for _, r := range slices.Sorted(maps.Keys(p.Classifier.Reasons)) {
			parts = append(parts, r+"="+p.Classifier.Reasons[r].String())
		}
		if len(parts) == 0 {
			return "defaults"
		}
		return strings.Join(parts, ", ")
	}
	return "off"
}

func retryText(r retry.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d attempts; backoff %s x%s up to %s", r.MaxAttempts, r.InitialBackoff, fmtFloat(r.Multiplier), r.MaxBackoff)
	if r.Jitter == retry.JitterAdditive {
		fmt.Fprintf(&b, ", additive jitter up to %s", r.JitterAmount)
	} else {
		fmt.Fprintf(&b, ", %s jitter", r.Jitter)
	}
	fmt.Fprintf(&b, "; per attempt %s", orNone(r.PerAttemptTimeout))
	if r.Budget > 0 {
		fmt.Fprintf(&b, "; retry budget %s", r.Budget)
	}
	if r.FitSchedule {
		b.WriteString("; sleeps fitted to the time left")
	}
	switch th := r.Throttle; {
	case th.Ratio > 0:
		fmt.Fprintf(&b, "; retries and hedges at most %s per call + %s/s over %s", fmtFloat(th.Ratio), fmtFloat(th.MinPerSecond), th.Window)
	case th.MaxTokens > 0:
		fmt.Fprintf(&b, "; throttle %s tokens, %s back per success", fmtFloat(th.MaxTokens), fmtFloat(th.TokenRatio))
	default:
		b.WriteString("; no throttle")
	}
	if r.Idempotent {
		b.WriteString("; idempotent")
	}
	return b.String()
}

func hedgeText(h hedge.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "up to %d attempts", h.MaxAttempts)
	if h.Percentile == 0 {
		fmt.Fprintf(&b, "; next one after %s", h.Delay)
	} else {
		fmt.Fprintf(&b, "; next one after the p%s latency of the last %d or %s× their median, the lower (%s until the first answer, at most that until %d are known), within %s .. %s",
			fmtFloat(h.Percentile*100), h.Window, fmtFloat(h.MedianMultiple), h.Delay, h.MinSamples, h.MinDelay, orNone(h.MaxDelay))
	}
	b.WriteString("; draws on the retry budget")
	if h.Idempotent {
		b.WriteString("; idempotent")
	}
	return b.String()
}

func bulkheadText(b bulkhead.Config) string {
	a := b.Adaptive
	var limit string
	switch a.Algorithm {
	case bulkhead.AlgorithmNone:
		limit = fmt.Sprintf("%d at once", b.MaxConcurrent)
	case bulkhead.AlgorithmAIMD:
		limit = fmt.Sprintf("adaptive (aimd) %d..%d at once, from %d; x%s on overload", a.MinLimit, b.MaxConcurrent, a.InitialLimit, fmtFloat(a.BackoffRatio))
		if a.LatencyThreshold > 0 {
			limit += " or calls over " + a.LatencyThreshold.String()
		}
	default:
		limit = fmt.Sprintf("adaptive (%s) %d..%d at once, from %d; tolerance %s, smoothing %s, long window %d",
			a.Algorithm, a.MinLimit, b.MaxConcurrent, a.InitialLimit, fmtFloat(a.Tolerance), fmtFloat(a.Smoothing), a.LongWindow)
	}
	return limit + "; " + waitText(b.MaxWait, "a slot")
}

func breakerText(c breaker.Config) string {
	var trips []string
	if c.ConsecutiveFailures > 0 {
		trips = append(trips, fmt.Sprintf("%d failures in a row", c.ConsecutiveFailures))
	}
	window := fmt.Sprintf("the last %d calls", c.WindowSize)
	if c.WindowType == breaker.WindowTime {
		window = "the last " + c.WindowDuration.String()
	}
	if c.FailureRateThreshold > 0 {
		rate := fmt.Sprintf("%s%% failures over %s (from %d calls)", fmtFloat(c.FailureRateThreshold*100), window, c.MinimumCalls)
		if c.FailureRateConfidence > 0 {
			// The counts that trip, at the smallest window judged and at a full count window.
			rate = fmt.Sprintf("%s%% failures over %s with %s%% confidence (from %d calls", fmtFloat(c.FailureRateThreshold*100), window,
				fmtFloat(c.FailureRateConfidence*100), c.MinimumCalls)
			sizes := []int{c.MinimumCalls}
			if c.WindowType != breaker.WindowTime && c.WindowSize > c.MinimumCalls {
				sizes = append(sizes, c.WindowSize)
			}
			for i, n := range sizes {
				sep := ": "
				if i > 0 {
					sep = ", "
				}
				if k := breaker.FailuresToTrip(c, n); k > 0 {
					rate += fmt.Sprintf("%s%d of %d", sep, k, n)
				} else {
					rate += fmt.Sprintf("%snever at %d", sep, n)
				}
			}
			rate += ")"
		}
		trips = append(trips, rate)
	}
	if c.SlowCallDuration > 0 {
		trips = append(trips, fmt.Sprintf("%s%% calls slower than %s over %s", fmtFloat(c.SlowCallRateThreshold*100), c.SlowCallDuration, window))
	}
	open := c.RecoveryTimeout.String()
	if c.InitialRecoveryTimeout > 0 && c.InitialRecoveryTimeout < c.RecoveryTimeout {
		open = fmt.Sprintf("%s (x%s after each failed probe, up to %s)", c.InitialRecoveryTimeout, fmtFloat(c.RecoveryMultiplier), c.RecoveryTimeout)
	}
	return fmt.Sprintf("per %s; opens on %s; half-opens after %s with %s at once; %s",
		c.Scope, strings.Join(trips, " or "), open, plural(c.HalfOpenMaxCalls, "probe", "probes"), plural(c.SuccessThreshold, "success closes it", "successes close it"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func waitText(d time.Duration, what string) string {
	if d == 0 {
		return "fail fast"
	}
	return "wait up to " + d.String() + " for " + what
}

func orNone(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// timeline writes t as a table of steps, and what the limit does to it.
// timelines writes p's nominal worst case and, for a fitted schedule, its fitted timelines
// beside it: attempts failing at once (a brownout) and attempts running to their timeouts.
func timelines(ew *errWriter, ind string, p Policy) {
	fast, ok := p.Fitted(true)
	if !ok {
		timeline(ew, ind, "worst case", p.WorstCase())
		return
	}
	timeline(ew, ind, "worst case, nominal schedule", p.WorstCase())
	timeline(ew, ind, "fitted schedule (retry.fit_schedule), every attempt failing at once after the longest waits", fast)
	slow, _ := p.Fitted(false)
	timeline(ew, ind, "fitted schedule, every attempt running to its timeout", slow)
}

func sameTimelines(a, b Policy) bool {
	fa, oka := a.Fitted(true)
	fb, okb := b.Fitted(true)
	return sameTimeline(a.WorstCase(), b.WorstCase()) && oka == okb && sameTimeline(fa, fb)
}

func timeline(ew *errWriter, ind, title string, t Timeline) {
	switch {
	case t.Unbounded:
		ew.printf(ind+"%s: unbounded; %s ends the call\n", title, t.LimitName)
	case t.Over() > 0:
		ew.printf(ind+"%s: %s, over %s by %s\n", title, t.Total, t.LimitName, t.Over())
	default:
		ew.printf(ind+"%s: %s, within %s (%s to spare)\n", title, t.Total, t.LimitName, t.Limit-t.Total)
	}
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, s := range t.Steps {
		var what, span string
		switch {
		case s.Kind == StepSleep:
			what = fmt.Sprintf("sleep up to %s", s.End-s.Start)
		case s.Wait > 0:
			what = fmt.Sprintf("attempt %d (up to %s waiting, then %s)", s.Attempt, s.Wait, runText(s))
		default:
			what = fmt.Sprintf("attempt %d (%s)", s.Attempt, runText(s))
		}
		if s.Unbounded {
			span = s.Start.String() + " .. ?"
		} else {
			span = s.Start.String() + " .. " + s.End.String()
		}
		note := ""
		switch {
		case s.Start >= t.Limit:
			note = "never runs"
		case s.Unbounded || s.End > t.Limit:
			note = "<- cut at " + t.Limit.String()
		}
		fmt.Fprintf(tw, "%s  %s\t%s\t%s\n", ind, span, what, note)
	}
	if t.Unbounded {
		last := t.Steps[len(t.Steps)-1].Attempt
		if last < t.Attempts {
			fmt.Fprintf(tw, "%s  \t%s\t\n", ind, never(last+1, t.Attempts))
		}
	}
	_ = tw.Flush()
	for line := range strings.Lines(buf.String()) {
		ew.printf("%s\n", strings.TrimRight(line, " \n"))
	}
}

func runText(s Step) string {
	if s.Unbounded {
		return "no timeout"
	}
	if s.AtOnce {
		return "fails at once"
	}
	return "up to " + (s.End - s.Start - s.Wait).String()
}
