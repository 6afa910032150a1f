package config

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/codename"
	"github.com/bulwarkrpc/bulwark/section"
)

// Explain writes, for an operator checking a configuration against the SLO, the budget, each
// profile's resolved policies with its worst-case timeline, and each service (and method with
// an entry of its own) with its profile and the sections in which its settings differ from
// that profile's. A method's block is counted against the profile its header names (the
// method's own, or its service's), not against its service's block: a method may run on a
// profile of its own, with its service's overrides on top (Method.Profile), so its service's
// settings are no base for it; its "overriding" list then holds its service's overrides as
// well as its own, and the block with its profile's gives every setting in force for the
// method. Under a method whose classifier differs from its service's, it names each object
// the method shares with its service that classifies outcomes (an adaptive bulkhead, a
// breaker, an adaptive throttle: each judges the method's calls by the method's classifier).
// What Warnings says of a hedge that is never sent, of a per-attempt timeout that cuts no
// attempt, and of a field an override keeps from what it overrides but leaves unused ends the
// line of that section, in the block it is warned about; a rate limit's shared bucket is named
// with the services and methods that draw on it. A nil cfg is Builtin(), as for
// interceptors.New.
func Explain(w io.Writer, cfg *Config) error {
	if cfg == nil {
		cfg = Builtin()
	}
	ew := &errWriter{w: w}
	budget := cfg.Budget
	if budget == 0 {
		budget = DefaultBudget
	}
	ew.printf("budget %s\n", budget)
	pols := cfg.Policies()
	drawers := bucketDrawers(pols)
	profiles := map[string]Policy{}
	for _, name := range cfg.ProfileNames() {
		pol := Policy{ProfileName: name, Budget: budget, Profile: cfg.Profiles[name].withDefaults()}
		profiles[name] = pol
		ew.printf("\nprofile %s\n", name)
		describe(ew, "  ", pol, Sections(), nil, drawers, nil)
		timelines(ew, "  ", pol)
	}
	if len(pols) > 0 {
		ew.printf("\n")
	}
	for _, pol := range pols {
		ind := "  "
		var notes []note
		if pol.Method != "" {
			ind = "    "
			notes = serviceClassified(pol, cfg.ResolveService(pol.Service))
		}
		unused := unusedBySection(cfg.unusedWarnings(pol.Service, pol.Method))
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
			describe(ew, ind, pol, Sections(), notes, drawers, unused)
			timelines(ew, ind, pol)
			continue
		}
		if pol.Method != "" {
			ew.printf(" (%s)", pol.FullMethod())
		}
		changed := pol.Profile.Changed(base.Profile)
		if len(changed) == 0 {
			// An override whose section behaves as the profile's may still keep fields it
			// leaves unused (a method's aimd over its service's gradient with a tolerance, on a
			// profile's aimd): their section's line says so, and the header that overrides
			// were written, to no effect.
			if len(unused) > 0 {
				ew.printf(": profile %s, no overrides in effect\n", pol.ProfileName)
			} else {
				ew.printf(": profile %s, no overrides\n", pol.ProfileName)
			}
			describe(ew, ind, pol, withUnused(nil, unused), notes, drawers, unused)
			continue
		}
		ew.printf(": profile %s, overriding %s\n", pol.ProfileName, joinSections(changed))
		describe(ew, ind, pol, withUnused(shown(changed, pol, base), unused), notes, drawers, unused)
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

// describe writes one line per section of pol in only, in plain words, then one per note;
// drawers are bucketDrawers' of the configuration, unused is what Warnings says of pol's
// unused fields, by section (unusedBySection).
func describe(ew *errWriter, ind string, pol Policy, only []Section, notes []note, drawers map[string][]string, unused map[Section][]string) {
	if len(only)+len(notes) == 0 {
		return
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, s := range only {
		text := sectionText(pol.Profile, s)
		switch s {
		case SectionRetry:
			text = warned(budgetCuts(text, pol), pol.timeoutWarning())
		case SectionHedge:
			text = warned(text, pol.hedgeWarning())
		case SectionRateLimit:
			text = sharedWith(text, pol, drawers)
		case SectionDeadline:
			text = deadlineCuts(text, pol)
		}
		for _, msg := range unused[s] {
			text = warned(text, msg)
		}
		fmt.Fprintf(tw, "%s%s\t%s\n", ind, s, text)
	}
	for _, n := range notes {
		fmt.Fprintf(tw, "%s%s\t%s\n", ind, n.s, n.text)
	}
	_ = tw.Flush()
}

// warned returns text, a section's line, followed by msg, what Warnings says of the section
// (Policy.timeoutWarning of retry, Policy.hedgeWarning of hedge, Config.unusedWarnings of any
// section), if any: where the section is described, an operator reads that it does not work
// as its numbers suggest.
func warned(text, msg string) string {
	if msg == "" {
		return text
	}
	return text + "; warning: " + msg
}

// unusedBySection returns msgs, what Config.unusedWarnings says of a service or method, by
// the section each concerns (the first key of the field's path), in their order.
func unusedBySection(msgs []string) map[Section][]string {
	if len(msgs) == 0 {
		return nil
	}
	out := map[Section][]string{}
	for _, msg := range msgs {
		key, _, _ := strings.Cut(msg, ".")
		out[Section(key)] = append(out[Section(key)], msg)
	}
	return out
}

// withUnused returns only, the sections of a block, with those that unused (unusedBySection)
// has warnings of, in the order of Sections.
func withUnused(only []Section, unused map[Section][]string) []Section {
	var out []Section
	for _, s := range Sections() {
		if len(unused[s]) > 0 || slices.Contains(only, s) {
			out = append(out, s)
		}
	}
	return out
}

// bucketOf returns the key of the bucket that a limiter of c shares with the others of the
// same key, or "" when c names no shared bucket: a shared name is one bucket in the suite's
// registry, or, fleet-wide, one key (key_prefix and the name) on one Redis server.
func bucketOf(c *ratelimit.Config) string {
	if c == nil || c.Shared == "" {
		return ""
	}
	n := ratelimit.Normalize(*c)
	if n.Redis == nil {
		return "local\x00" + n.Shared
	}
	return "redis\x00" + n.Redis.Addr + "\x00" + n.Redis.KeyPrefix + n.Shared
}

// bucketDrawers returns, by bucketOf key, the services and methods of pols (Config.Policies)
// whose rate limits draw on a shared bucket: a service by its name, a method by its full
// name when its service does not draw on the same bucket (else its service's name says it).
func bucketDrawers(pols []Policy) map[string][]string {
	out := map[string][]string{}
	service := map[string]string{} // service name → its bucket key
	for _, pol := range pols {
		key := bucketOf(pol.RateLimit)
		if pol.Method == "" {
			service[pol.Service] = key
		}
		if key == "" || pol.Method != "" && service[pol.Service] == key {
			continue
		}
		name := pol.Service
		if pol.Method != "" {
			name = pol.FullMethod()
		}
		out[key] = append(out[key], name)
	}
	return out
}

// sharedWith returns text, pol's rate limit line, saying with whom its shared bucket is shared:
// 'shared bucket "geo" with acme.v1.Maps', or for a profile, which services and methods draw
// on it: 'shared bucket "geo", drawn on by acme.v1.Geo, acme.v1.Maps'.
func sharedWith(text string, pol Policy, drawers map[string][]string) string {
	key := bucketOf(pol.RateLimit)
	if key == "" {
		return text
	}
	at := fmt.Sprintf("; shared bucket %q", pol.RateLimit.Shared)
	var with string
	if pol.Service == "" {
		with = ", drawn on by no service or method"
		if d := drawers[key]; len(d) > 0 {
			with = ", drawn on by " + strings.Join(d, ", ")
		}
	} else {
		var others []string
		for _, d := range drawers[key] {
			if d != pol.Service && d != pol.FullMethod() {
				others = append(others, d)
			}
		}
		with = " with no other service or method"
		if len(others) > 0 {
			with = " with " + strings.Join(others, ", ")
		}
	}
	return strings.Replace(text, at, at+with, 1)
}

// budgetCuts returns text, pol's retry line, saying the per-attempt timeout and the time
// budget that run where the call budget cuts the ones configured (retry.AttemptTimeout,
// retry.TimeBudget): "per attempt 10s (cut to 8s by the budget)", "time budget 12s (cut to 8s
// by the budget)".
func budgetCuts(text string, pol Policy) string {
	r := pol.Retry
	if r == nil || pol.Budget <= 0 {
		return text
	}
	cut := func(text, label string, configured, runs time.Duration) string {
		if configured <= 0 || runs >= configured {
			return text
		}
		at := "; " + label + " " + configured.String()
		return strings.Replace(text, at, at+" (cut to "+runs.String()+" by the budget)", 1)
	}
	text = cut(text, "per attempt", r.PerAttemptTimeout, retry.AttemptTimeout(*r, pol.Budget))
	return cut(text, "time budget", r.Budget, retry.TimeBudget(*r, pol.Budget))
}

// deadlineCuts returns text, pol's deadline line, saying the default and the max that run
// where the call budget cuts the ones configured (a suite's deadline step caps both at the
// budget): "default 10s (cut to 8s by the budget), max 20s (cut to 8s by the budget)".
func deadlineCuts(text string, pol Policy) string {
	d := pol.Deadline
	if d == nil || pol.Budget <= 0 {
		return text
	}
	cut := func(text, label string, configured time.Duration) string {
		if configured <= pol.Budget {
			return text
		}
		at := label + " " + configured.String()
		return strings.Replace(text, at, at+" (cut to "+pol.Budget.String()+" by the budget)", 1)
	}
	return cut(cut(text, "default", d.Default), "max", d.Max)
}

// note is a line about section s of a method that its overrides do not show.
type note struct {
	s    Section
	text string
}

// serviceClassified returns a note for each section of a method (policy pol) whose object it
// shares with its service (policy sp) although its classifier differs from the service's
// (Policy.ServiceClassified, as a suite decides): a section with section.Spec.ForClassifier
// (an adaptive bulkhead, a breaker, an adaptive throttle) judges the method's calls by the
// method's classifier, but its object is the service's, which the method's classifier line
// alone would have an operator doubt; one without it judges them by the service's classifier,
// not the method's, which that line alone would have an operator expect. A section that does
// not classify outcomes (a fixed bulkhead) needs no note.
func serviceClassified(pol, sp Policy) []note {
	if pol.SameSection(sp.Profile, SectionClassifier) {
		return nil
	}
	var out []note
	for _, sl := range slots() {
		v := sl.get(&pol.Profile)
		if v == nil || sl.sec.Uses(v)&section.UsesClassifier == 0 || !pol.ServiceClassified(sp, sl.key) {
			continue
		}
		text := "the service's, which judges this method's calls by the service's classifier, not this method's"
		if sl.sec.ForClassifier() != nil {
			text = "the service's, which counts this method's calls as this method's classifier judges them"
		}
		out = append(out, note{Section(sl.key), text})
	}
	return out
}

// sectionText describes section s of p: the section's own Explain text, or off.
func sectionText(p Profile, s Section) string {
	if s == SectionClassifier {
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(p.Classifier.Codes)) {
			parts = append(parts, codename.Name(c)+"="+p.Classifier.Codes[c].String())
		}
		for _, r := range slices.Sorted(maps.Keys(p.Classifier.Reasons)) {
			parts = append(parts, r+"="+p.Classifier.Reasons[r].String())
		}
		if len(parts) == 0 {
			return "defaults"
		}
		return strings.Join(parts, ", ")
	}
	if sl, ok := slotOf(section.Key(s)); ok {
		if v := sl.get(&p); v != nil {
			text := sl.sec.Explain(v)
			if s == SectionHedge {
				// The hedge's own text says both cases: the profile tells which it is. Without
				// a budget (retry.Policy.Budget is nil) its hedges draw on nothing.
				if hasRetryBudget(p) {
					text = strings.Replace(text, hedge.ExplainBudget, hedgeDraws, 1)
				} else {
					text = strings.Replace(text, hedge.ExplainBudget, hedgeDrawsNothing, 1)
				}
			}
			return text
		}
	}
	return "off"
}

const (
	hedgeDraws        = "; draws on the retry budget"
	hedgeDrawsNothing = "; no retry budget to draw on (retry or retry.throttle is off): bounded by max_attempts and the allowance of losing hedges alone"
)

// hasRetryBudget reports whether p's retry step has a retry budget for its hedges to draw on,
// as retry.Policy.Budget decides.
func hasRetryBudget(p Profile) bool {
	return p.Retry != nil && (p.Retry.Throttle.MaxTokens > 0 || p.Retry.Throttle.Ratio > 0)
}

// shown returns changed, the sections by which pol's overrides differ from its profile (policy
// base), with the sections whose line says something else for pol than for base although
// their settings are the profile's: the hedge when the override gives or takes away the retry
// budget that pol's hedges draw on, retry and hedge when what Warnings says of them differs
// (an override of deadline.max or of the per-attempt timeout), so that each line says what
// holds for pol rather than for its profile. In the order of Sections.
func shown(changed []Section, pol, base Policy) []Section {
	extra := map[Section]bool{
		SectionHedge: pol.Hedge != nil && slices.Contains(changed, SectionRetry) && hasRetryBudget(pol.Profile) != hasRetryBudget(base.Profile) ||
			pol.hedgeWarning() != base.hedgeWarning(),
		SectionRetry: pol.timeoutWarning() != base.timeoutWarning(),
	}
	if !extra[SectionHedge] && !extra[SectionRetry] {
		return changed
	}
	var out []Section
	for _, s := range Sections() {
		if extra[s] || slices.Contains(changed, s) {
			out = append(out, s)
		}
	}
	return out
}

// timelines writes p's nominal worst case and, for a fitted schedule, its fitted timelines
// beside it: attempts failing at once (a brownout) and, with a per-attempt timeout, attempts
// running to their timeouts (without one, the worst case already shows an attempt that hangs
// running until the call ends).
func timelines(ew *errWriter, ind string, p Policy) {
	defer func() {
		if msg := p.withoutDeadlineWarning(); msg != "" && p.checked().warning() == "" {
			ew.printf("%s%s\n", ind, msg)
		}
	}()
	fast, ok := p.Fitted(true)
	if !ok {
		timeline(ew, ind, "worst case", p.WorstCase())
		return
	}
	timeline(ew, ind, "worst case, nominal schedule", p.WorstCase())
	timeline(ew, ind, "fitted schedule (retry.fit_schedule), every attempt failing at once after the longest waits", fast)
	if p.Retry.PerAttemptTimeout > 0 {
		slow, _ := p.Fitted(false)
		timeline(ew, ind, "fitted schedule, every attempt running to its timeout", slow)
		if p.Retry.PerAttemptCut == retry.CutOvertaken {
			ew.printf("%s  (retry.per_attempt_cut overtaken: so cut only where the service answered a later attempt first; an attempt of a service slow for every caller runs on to the call's end instead)\n", ind)
		}
	}
}

func sameTimelines(a, b Policy) bool {
	fa, oka := a.Fitted(true)
	fb, okb := b.Fitted(true)
	da, dka := a.checkedWithoutDeadline()
	db, dkb := b.checkedWithoutDeadline()
	return sameTimeline(a.WorstCase(), b.WorstCase()) && oka == okb && sameTimeline(fa, fb) && dka == dkb && sameTimeline(da, db)
}

// timeline writes t as a table of steps, and what the limit does to it.
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
	neverRun := t.firstNeverRun()
	for _, s := range t.Steps {
		var what, span string
		switch {
		case s.Kind == StepSleep:
			what = fmt.Sprintf("sleep up to %s", s.End-s.Start)
		case s.Wait > 0 && t.perAttempt > 0 && !s.AtOnce:
			what = fmt.Sprintf("attempt %d (up to %s waiting, all within its %s timeout)", s.Attempt, s.Wait, t.perAttempt)
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
		case neverRun > 0 && s.Attempt == neverRun && s.Kind == StepSleep && s.End <= t.Limit:
			note = "not slept: less than " + retry.MinAttemptTime.String() + " would be left (retry.MinAttemptTime)"
		case neverRun > 0 && (s.Attempt > neverRun || s.Attempt == neverRun && s.Kind == StepAttempt):
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
