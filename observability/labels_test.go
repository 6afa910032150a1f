package observability_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/prometheus/client_golang/prometheus"
	grpccodes "google.golang.org/grpc/codes"
)

// levelFunc is an observe.LevelSource made of a function.
type levelFunc func(yield func(observe.Level) bool)

func (f levelFunc) Levels(yield func(observe.Level) bool) { f(yield) }

// promobsLabels returns the label names of each metric family promobs exposes, as a scrape
// shows them: a Metrics fed one event of every kind and read one level of every kind, then
// gathered. A histogram's family has "le" too, for its _bucket series.
func promobsLabels(t *testing.T) map[string]map[string]bool {
	t.Helper()
	labels, _ := promobsFamilies(t)
	return labels
}

// promobsFamilies returns, for each metric family promobs exposes, its label names (as
// promobsLabels) and its type as the scrape declares it: COUNTER, GAUGE, HISTOGRAM.
func promobsFamilies(t *testing.T) (labels map[string]map[string]bool, types map[string]string) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := promobs.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	const svc, method = "kyc.v1.OCRService", "/kyc.v1.OCRService/Extract"
	for k := observe.Kind(1); k.String() != "unknown"; k++ {
		m.Observe(observe.Event{
			Kind: k, Time: time.Unix(1, 0), Service: svc, Method: method, Policy: observe.PolicyBreaker,
			Attempt: 2, Code: grpccodes.Unavailable, Class: codes.Transient, Duration: time.Second,
			Delay: time.Second, Reason: "some_reason", From: "closed", To: "open", Value: 1,
		})
	}
	m.Scrape(levelFunc(func(yield func(observe.Level) bool) {
		for _, l := range []observe.Level{
			{Kind: observe.LevelBreakerState, Policy: observe.PolicyBreaker, Service: svc, Method: method, State: "open"},
			{Kind: observe.LevelInFlight, Policy: observe.PolicyBulkhead, Service: svc, Method: method, Value: 1},
			{Kind: observe.LevelCapacity, Policy: observe.PolicyBulkhead, Service: svc, Method: method, Value: 2},
			{Kind: observe.LevelCapacityFloor, Policy: observe.PolicyBulkhead, Service: svc, Method: method, Value: 1},
			{Kind: observe.LevelCapacityCeiling, Policy: observe.PolicyBulkhead, Service: svc, Method: method, Value: 4},
			{Kind: observe.LevelThrottleProbability, Policy: observe.PolicyAdaptiveThrottle, Service: svc, Method: method, Value: 0.5},
		} {
			if !yield(l) {
				return
			}
		}
	}))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	labels, types = map[string]map[string]bool{}, map[string]string{}
	for _, f := range fams {
		ls := map[string]bool{}
		for _, mt := range f.GetMetric() {
			for _, lp := range mt.GetLabel() {
				ls[lp.GetName()] = true
			}
		}
		types[f.GetName()] = f.GetType().String()
		if types[f.GetName()] == "HISTOGRAM" {
			ls["le"] = true
		}
		// The target labels Prometheus adds to every series it scrapes: a panel keeps the
		// process apart by them (the breaker state of each instance).
		ls["job"], ls["instance"] = true, true
		labels[f.GetName()] = ls
	}
	for _, name := range promobs.MetricNames() {
		if labels[name] == nil {
			t.Fatalf("promobs exposed no %s after an event and a level of every kind: the test feeds it too little", name)
		}
	}
	return labels, types
}

var (
	selectorRef = regexp.MustCompile(`\b(bulwark_[a-z0-9_]+)\{([^}]*)\}`)
	matcherRef  = regexp.MustCompile(`(\w+)\s*(?:=~|!~|!=|=)\s*"([^"]*)"`)
	groupingRef = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	grafanaRef  = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`) // a legend's {{label}}
	templateRef = regexp.MustCompile(`\$labels\.(\w+)`)     // a rule annotation's $labels.label
)

// submatches returns the first group of every match of re in s.
func submatches(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// family returns the metric family of a series name: a histogram's _bucket, _sum and _count
// series are the histogram's.
func family(name string, known map[string]map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && known[base] != nil {
			return base
		}
	}
	return name
}

// closingParen returns the index of the parenthesis that closes the one at open.
func closingParen(q string, open int) int {
	depth := 0
	for i := open; i < len(q); i++ {
		switch q[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(q)
}

// refusingPolicies are the values of bulwark_rejections_total's policy label: the policies
// that refuse attempts (promobs' doc).
var refusingPolicies = []string{
	observe.PolicyBreaker, observe.PolicyBulkhead, observe.PolicyRateLimit, observe.PolicyAdaptiveThrottle,
}

// labelProblems returns what query q asks of promobs' labels that no series of it has: a
// matcher on a label its metric lacks, or a value of state, class or policy no series takes; a
// grouping (by, on, ...) on a label one of the metrics it groups lacks (for by and without,
// the metrics of the aggregated expression; for on and ignoring, every metric of q). The
// labels its legend shows (Grafana's {{label}}, a rule's $labels.label) must be labels of the
// query's metrics.
func labelProblems(q string, shown []string, labels map[string]map[string]bool) []string {
	var problems []string
	metricsIn := func(s string) []string {
		var out []string
		for _, n := range metricRef.FindAllString(s, -1) {
			out = append(out, family(n, labels))
		}
		return out
	}
	states := promobs.BreakerStates()
	var classes []string
	for _, c := range codes.Classes() {
		classes = append(classes, c.String())
	}
	for _, m := range selectorRef.FindAllStringSubmatch(q, -1) {
		fam := family(m[1], labels)
		have := labels[fam]
		for _, mm := range matcherRef.FindAllStringSubmatch(m[2], -1) {
			name, value := mm[1], mm[2]
			if name == "le" && !strings.HasSuffix(m[1], "_bucket") || !have[name] {
				problems = append(problems, m[1]+" has no label "+name)
				continue
			}
			var allowed []string
			switch name {
			case "state":
				allowed = states
			case "class":
				allowed = classes
			case "policy":
				allowed = refusingPolicies
			}
			if allowed == nil || strings.HasPrefix(value, "$") {
				continue
			}
			for _, v := range strings.Split(value, "|") {
				if !slices.Contains(allowed, v) {
					problems = append(problems, m[1]+"'s "+name+" is never "+v+" (values: "+strings.Join(allowed, ", ")+")")
				}
			}
		}
	}
	for _, loc := range groupingRef.FindAllStringSubmatchIndex(q, -1) {
		clause, list := q[loc[2]:loc[3]], q[loc[4]:loc[5]]
		scope := q
		if clause == "by" || clause == "without" {
			// sum by (a) (expr): the expression in the parentheses that follow.
			rest := q[loc[1]:]
			if open := strings.IndexByte(rest, '('); open >= 0 && strings.TrimSpace(rest[:open]) == "" {
				scope = rest[open : closingParen(rest, open)+1]
			}
		}
		for _, l := range strings.Split(list, ",") {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			for _, fam := range metricsIn(scope) {
				if !labels[fam][l] && (l != "le" || !strings.Contains(scope, fam+"_bucket")) {
					problems = append(problems, clause+" ("+list+"): "+fam+" has no label "+l)
				}
			}
		}
	}
	all := map[string]bool{}
	for _, fam := range metricsIn(q) {
		for l := range labels[fam] {
			all[l] = true
		}
	}
	for _, l := range shown {
		if !all[l] {
			problems = append(problems, "the legend names "+l+", which none of "+strings.Join(metricsIn(q), ", ")+" has")
		}
	}
	return problems
}

// The dashboard's queries and the alert rules ask only for labels, and breaker states and
// classes, that promobs' series have: a query grouping by a label its metric lacks still
// parses and runs, and shows one unlabelled line or fires no alert.
func TestReferencedLabelsExist(t *testing.T) {
	labels := promobsLabels(t)
	d := readDashboard(t)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, problem := range labelProblems(tg.Expr, submatches(grafanaRef, tg.LegendFormat), labels) {
				t.Errorf("dashboard.json panel %q query %s: %s", p.Title, tg.RefID, problem)
			}
		}
	}
	// A variable's label_values(selector, label) lists values of a label its metric has.
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("dashboard.json variable %s: definition %q is not label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		for _, problem := range labelProblems(m[1], []string{m[2]}, labels) {
			t.Errorf("dashboard.json variable %s: %s", v.Name, problem)
		}
	}
	var rf ruleFile
	readYAML(t, "alerts.yml", &rf)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			var shown []string
			for _, a := range r.Annotations {
				shown = append(shown, submatches(templateRef, a)...)
			}
			for _, problem := range labelProblems(r.Expr, shown, labels) {
				t.Errorf("alerts.yml %s: %s", r.Alert, problem)
			}
		}
	}
}

// enclosingCall returns the name of the function whose parentheses enclose position i of q
// ("" for plain parentheses, an aggregation's grouping, or none).
func enclosingCall(q string, i int) string {
	depth := 0
	for j := i - 1; j >= 0; j-- {
		switch q[j] {
		case ')':
			depth++
		case '(':
			if depth > 0 {
				depth--
				continue
			}
			k := j
			for k > 0 && q[k-1] == ' ' {
				k--
			}
			end := k
			for k > 0 && (q[k-1] == '_' || q[k-1] >= 'a' && q[k-1] <= 'z') {
				k--
			}
			return q[k:end]
		}
	}
	return ""
}

var (
	counterFuncs = []string{"rate", "irate", "increase"}
	byRef        = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
)

// typeProblems returns where query q uses a metric against its type: a counter (or a
// histogram's _bucket, _sum or _count series) read other than through rate, irate or
// increase, whose raw value only says how long the process has run; a gauge given to one of
// them, which reads its falls as counter resets; a histogram named without a series suffix;
// a histogram_quantile not over _bucket series aggregated by le. A counter's last value less
// its last value one step ($__interval) before counts its changes in the step, as increase does.
func typeProblems(q string, labels map[string]map[string]bool, types map[string]string) []string {
	var problems []string
	for _, loc := range metricRef.FindAllStringIndex(q, -1) {
		name := q[loc[0]:loc[1]]
		fam := family(name, labels)
		fn := enclosingCall(q, loc[0])
		switch typ := types[fam]; {
		case typ == "HISTOGRAM" && name == fam:
			problems = append(problems, name+" is a histogram: name its _bucket, _sum or _count series")
		case typ == "COUNTER" || typ == "HISTOGRAM":
			// last_over_time counts when the query takes its value a step before from it (the
			// breaker transitions panel: whole changes per step, which increase extrapolates).
			stepDiff := fn == "last_over_time" && strings.Contains(q, "offset $__interval")
			// A value as is counts since the series was made: it counts recent changes in a
			// query that keeps only series made within its window, those missing from a
			// successful scrape (up) of the window before, or of a process younger than it
			// (BulwarkBreakerTripping, for a series that first shows up above 0).
			sinceMade := slices.Contains([]string{"", "max_over_time", "timestamp"}, fn) &&
				strings.Contains(q, "unless") && strings.Contains(q, "offset") && strings.Contains(q, "up[") &&
				strings.Contains(q, "process_start_time_seconds")
			if !slices.Contains(counterFuncs, fn) && !stepDiff && !sinceMade {
				problems = append(problems, name+" counts up: read it through rate or increase, not "+strings.TrimSpace("as is "+fn))
			}
		case typ == "GAUGE":
			if slices.Contains(counterFuncs, fn) {
				problems = append(problems, name+" is a gauge: "+fn+" reads its falls as counter resets")
			}
		}
	}
	const hq = "histogram_quantile("
	for i := strings.Index(q, hq); i >= 0; {
		open := i + len(hq) - 1
		arg := q[open : closingParen(q, open)+1]
		byLE := false
		for _, m := range byRef.FindAllStringSubmatch(arg, -1) {
			for _, l := range strings.Split(m[1], ",") {
				byLE = byLE || strings.TrimSpace(l) == "le"
			}
		}
		if !strings.Contains(arg, "_bucket") || !byLE {
			problems = append(problems, "histogram_quantile"+arg+" is not over _bucket series summed by le")
		}
		next := strings.Index(q[open:], hq)
		if next < 0 {
			break
		}
		i = open + next
	}
	return problems
}

// The rules and the panels use each metric as its type allows: counters and histogram series
// through rate or increase, gauges as they are, quantiles over buckets summed by le. A query
// that rates a gauge or shows a raw counter still parses and runs, and draws nonsense.
func TestQueriesFitMetricTypes(t *testing.T) {
	labels, types := promobsFamilies(t)
	d := readDashboard(t)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, problem := range typeProblems(tg.Expr, labels, types) {
				t.Errorf("dashboard.json panel %q query %s: %s", p.Title, tg.RefID, problem)
			}
		}
	}
	for _, q := range alertQueries(t) {
		for _, problem := range typeProblems(q, labels, types) {
			t.Errorf("alerts.yml: %s", problem)
		}
	}
	// The check itself: each of these is caught.
	for _, bad := range []string{
		`sum by (service) (bulwark_calls_total)`,
		`last_over_time(bulwark_calls_total[5m])`,
		`max_over_time(bulwark_breaker_transitions_total[10m]) > 0 unless bulwark_breaker_transitions_total offset 10m`,
		`rate(bulwark_bulkhead_in_flight[5m])`,
		`histogram_quantile(0.9, sum by (service) (rate(bulwark_call_duration_seconds_bucket[5m])))`,
		`histogram_quantile(0.9, rate(bulwark_call_duration_seconds[5m]))`,
	} {
		if len(typeProblems(bad, labels, types)) == 0 {
			t.Errorf("typeProblems(%s) found nothing", bad)
		}
	}
}

// wholeServiceLevels are the families whose series have an empty method for an object of the
// whole service (a service-scoped breaker, a service's bulkhead or throttle) and the full
// method for a method's own: a panel narrowed to a method still shows its service's.
var wholeServiceLevels = []string{
	promobs.NameBreakerState, promobs.NameBreakerTransitions, promobs.NameBulkheadInFlight,
	promobs.NameBulkheadCapacity, promobs.NameBulkheadCapacityFloor, promobs.NameBulkheadCapacityCeiling,
	promobs.NameThrottleProbability,
}

// methodFilterProblems returns what is wrong with how the panel's queries use the $method
// variable: a panel whose metrics all carry method must narrow every selector to $method (and,
// for wholeServiceLevels, to the empty method as well); a panel one of whose metrics lacks
// method stays per service, and none of its queries may use $method, as a ratio or a
// comparison of a method's series with a whole service's would mislead.
func methodFilterProblems(exprs []string, labels map[string]map[string]bool) []string {
	allHave := true
	for _, q := range exprs {
		for _, n := range metricRef.FindAllString(q, -1) {
			allHave = allHave && labels[family(n, labels)]["method"]
		}
	}
	var problems []string
	for _, q := range exprs {
		if !allHave {
			if strings.Contains(q, "$method") {
				problems = append(problems, "uses $method, but a metric of the panel has no method label: "+q)
			}
			continue
		}
		for _, m := range selectorRef.FindAllStringSubmatch(q, -1) {
			want := []string{`$method`}
			if slices.Contains(wholeServiceLevels, family(m[1], labels)) {
				want = []string{`$method|`, `|$method`}
			}
			got := methodMatcher.FindStringSubmatch(m[2])
			if got == nil || !slices.Contains(want, got[1]) {
				problems = append(problems, m[1]+" ignores $method: want method=~\""+want[0]+"\"")
			}
		}
		if !selectorRef.MatchString(q) {
			problems = append(problems, "no selector to narrow to $method: "+q)
		}
	}
	return problems
}

var methodMatcher = regexp.MustCompile(`\bmethod=~"([^"]*)"`)

// A panel whose metrics all carry a method label follows the method variable; one that mixes
// in a metric without it stays per service.
func TestPanelsFollowMethodVariable(t *testing.T) {
	labels := promobsLabels(t)
	d := readDashboard(t)
	narrowed := 0
	for _, p := range d.Panels {
		var exprs []string
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
		for _, problem := range methodFilterProblems(exprs, labels) {
			t.Errorf("dashboard.json panel %q: %s", p.Title, problem)
		}
		if len(exprs) > 0 && strings.Contains(exprs[0], "$method") {
			narrowed++
		}
	}
	if narrowed == 0 {
		t.Error("no panel follows $method")
	}
	// The check itself: each of these is caught.
	for _, bad := range [][]string{
		{`sum by (service) (rate(bulwark_calls_total{service=~"$service"}[5m]))`},
		{`sum(bulwark_bulkhead_in_flight{service=~"$service",method=~"$method"})`},
		{`sum(rate(bulwark_retries_total{service=~"$service"}[5m])) / sum(rate(bulwark_calls_total{service=~"$service",method=~"$method"}[5m]))`},
		{`sum(rate(bulwark_hedges_total{service=~"$service"}[5m]))`, `sum(rate(bulwark_hedge_wins_total{service=~"$service",method=~"$method"}[5m]))`},
	} {
		if len(methodFilterProblems(bad, labels)) == 0 {
			t.Errorf("methodFilterProblems(%q) found nothing", bad)
		}
	}
}
