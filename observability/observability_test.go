package observability_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := execPromtool(t, args...)
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// execPromtool runs promtool with args and returns its output and its error.
func execPromtool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	return string(out), err
}

func TestPromtoolCheckRules(t *testing.T) {
	out := runPromtool(t, "check", "rules", "alerts.yml")
	if want := "SUCCESS: 12 rules found"; !strings.Contains(out, want) {
		t.Errorf("promtool check rules:\n%s\nwant %q", out, want)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	out := runPromtool(t, "test", "rules", "alerts_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
}

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is the part of a promtool test file the tests read.
type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string           `yaml:"eval_time"`
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Definition string          `json:"definition"`
			Query      json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos     struct{ H, W, X, Y int } `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit       string `json:"unit"`
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
			Custom struct {
				ThresholdsStyle struct {
					Mode string `json:"mode"`
				} `json:"thresholdsStyle"`
			} `json:"custom"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

// dashboardQueries returns every PromQL query of the dashboard: panel targets and template
// variable definitions.
func dashboardQueries(t *testing.T, d dashboard) []string {
	t.Helper()
	var qs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			qs = append(qs, v.Definition)
		}
	}
	return qs
}

func alertQueries(t *testing.T) []string {
	t.Helper()
	var rf ruleFile
	readYAML(t, "alerts.yml", &rf)
	var qs []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			qs = append(qs, r.Expr)
		}
	}
	return qs
}

var metricRef = regexp.MustCompile(`\bbulwark_[a-z0-9_]+`)

// referencedMetrics returns the metric families the queries name: a histogram's _bucket, _sum
// and _count series count as the histogram.
func referencedMetrics(qs []string) map[string]bool {
	known := map[string]bool{}
	for _, n := range promobs.MetricNames() {
		known[n] = true
	}
	out := map[string]bool{}
	for _, q := range qs {
		for _, name := range metricRef.FindAllString(q, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
					name = base
				}
			}
			out[name] = true
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The rules and the dashboard query only metrics promobs exposes, and the dashboard shows
// every one of them.
func TestReferencedMetricsExist(t *testing.T) {
	known := map[string]bool{}
	for _, n := range promobs.MetricNames() {
		known[n] = true
	}
	d := readDashboard(t)
	tests := []struct {
		name        string
		queries     []string
		wantAll     bool // every promobs metric is referenced
		wantAtLeast []string
	}{
		{name: "alerts.yml", queries: alertQueries(t), wantAtLeast: []string{
			promobs.NameRetries, promobs.NameCalls, promobs.NameBreakerState, promobs.NameBulkheadInFlight,
			promobs.NameBulkheadCapacity, promobs.NameRetriesExhausted, promobs.NameLimiterDegraded}},
		{name: "dashboard.json", queries: dashboardQueries(t, d), wantAll: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs := referencedMetrics(tt.queries)
			if len(refs) == 0 {
				t.Fatal("no bulwark metric referenced")
			}
			for _, name := range sortedKeys(refs) {
				if !known[name] {
					t.Errorf("queries %s, which promobs does not expose", name)
				}
			}
			want := tt.wantAtLeast
			if tt.wantAll {
				want = promobs.MetricNames()
			}
			for _, name := range want {
				if !refs[name] {
					t.Errorf("does not query %s", name)
				}
			}
		})
	}
}

func TestDashboardShape(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q; want both set", d.UID, d.Title)
	}
	ids := map[int]string{}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	if want := []string{"datasource", "service", "method"}; !slices.Equal(vars, want) {
		t.Errorf("template variables = %v; want %v", vars, want)
	}
	for _, p := range d.Panels {
		if other, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("panel %q: id %d is zero or also %q's", p.Title, p.ID, other)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v out of the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v; want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, `service=~"$service"`) {
				t.Errorf("panel %q query %s: want it filtered by the service variable", p.Title, tg.RefID)
			}
		}
	}
}

// The levels and transitions of the policy objects a method can have of its own (a breaker, a
// bulkhead, an adaptive throttle: method-scoped, or a method with settings of its own) are
// labelled by service and method: a panel that aggregates them by service alone adds a
// method's bulkhead to its service's, or a method breaker's transitions to its service
// breaker's, or shows the fullest without saying whose. Every aggregation of them keeps method.
func TestLevelPanelsKeepTheMethod(t *testing.T) {
	d := readDashboard(t)
	byRE := regexp.MustCompile(`\b(?:sum|max|min|avg) by \(([^)]*)\)`)
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, "bulwark_bulkhead_") && !strings.Contains(tg.Expr, "bulwark_breaker_") &&
				!strings.Contains(tg.Expr, "bulwark_adaptive_throttle_probability") {
				continue
			}
			for _, m := range byRE.FindAllStringSubmatch(tg.Expr, -1) {
				n++
				if !slices.Contains(strings.Split(strings.ReplaceAll(m[1], " ", ""), ","), "method") {
					t.Errorf("panel %q query %s aggregates by (%s): want method kept", p.Title, tg.RefID, m[1])
				}
			}
			if !strings.Contains(tg.LegendFormat, "{{method}}") {
				t.Errorf("panel %q query %s: legend %q does not name the method", p.Title, tg.RefID, tg.LegendFormat)
			}
		}
	}
	if n == 0 {
		t.Fatal("no panel aggregates the bulkhead or throttle levels")
	}
}

// grafanaVars replaces the dashboard's variables by values PromQL accepts.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$service", ".*", "$method", ".*")

// Every dashboard query is valid PromQL: promtool checks them as recording rules.
func TestDashboardQueriesParse(t *testing.T) {
	promtool(t)
	d := readDashboard(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			n++
			q, err := json.Marshal(grafanaVars.Replace(tg.Expr)) // a JSON string is a YAML string
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "      - record: dashboard:panel_%d_%s:query\n        expr: %s\n", p.ID, tg.RefID, q)
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := runPromtool(t, "check", "rules", path)
	if want := fmt.Sprintf("SUCCESS: %d rules found", n); !strings.Contains(out, want) {
		t.Errorf("promtool check rules:\n%s\nwant %q", out, want)
	}
}

// Every alert is tested firing and not firing, and every test names an alert of the file.
func TestEveryAlertTested(t *testing.T) {
	var rf ruleFile
	readYAML(t, "alerts.yml", &rf)
	var rt ruleTests
	readYAML(t, "alerts_test.yml", &rt)
	if !slices.Equal(rt.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("rule_files = %v; want [alerts.yml]", rt.RuleFiles)
	}
	type seen struct{ firing, quiet bool }
	alerts := map[string]*seen{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = &seen{}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: want a severity label and summary and description annotations", r.Alert)
			}
		}
	}
	for _, tc := range rt.Tests {
		for _, a := range tc.AlertRuleTest {
			s, ok := alerts[a.Alertname]
			if !ok {
				t.Errorf("test %q checks %s, which alerts.yml does not define", tc.Name, a.Alertname)
				continue
			}
			if len(a.ExpAlerts) > 0 {
				s.firing = true
			} else {
				s.quiet = true
			}
		}
	}
	for name, s := range alerts {
		if !s.firing || !s.quiet {
			t.Errorf("alert %s: tested firing %v, not firing %v; want both", name, s.firing, s.quiet)
		}
	}
}

// The scenario the retry-rate alert exists for: at some evaluation it fires while the breaker
// alert does not.
func TestRetryAlertWarnsBeforeBreaker(t *testing.T) {
	var rt ruleTests
	readYAML(t, "alerts_test.yml", &rt)
	for _, tc := range rt.Tests {
		firing := map[string]map[string]bool{} // eval time → alert → firing
		for _, a := range tc.AlertRuleTest {
			if firing[a.EvalTime] == nil {
				firing[a.EvalTime] = map[string]bool{}
			}
			firing[a.EvalTime][a.Alertname] = len(a.ExpAlerts) > 0
		}
		for _, at := range firing {
			if retry, ok := at["BulwarkRetryRateHigh"]; ok && retry {
				if breaker, ok := at["BulwarkBreakerOpen"]; ok && !breaker {
					return
				}
			}
		}
	}
	t.Error("no test evaluates BulwarkRetryRateHigh firing and BulwarkBreakerOpen not firing at the same time")
}

// The alert table of the package documentation lists every alert of alerts.yml, with its for:
// duration and severity.
func TestDocTableMatchesAlerts(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^//\s+\|\s*(Bulwark\w+)\s*\|[^|]*\|\s*([^|\s]*)\s*\|\s*(\w+)\s*\|$`)
	type entry struct{ forDur, severity string }
	doc := map[string]entry{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		doc[m[1]] = entry{m[2], m[3]}
	}
	var rf ruleFile
	readYAML(t, "alerts.yml", &rf)
	rules := map[string]entry{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				rules[r.Alert] = entry{r.For, r.Labels["severity"]}
			}
		}
	}
	for name, r := range rules {
		d, ok := doc[name]
		switch {
		case !ok:
			t.Errorf("doc.go's alert table does not list %s", name)
		case d != r:
			t.Errorf("doc.go lists %s with for %q, severity %q; alerts.yml has %q, %q", name, d.forDur, d.severity, r.forDur, r.severity)
		}
	}
	for name := range doc {
		if _, ok := rules[name]; !ok {
			t.Errorf("doc.go lists %s, which alerts.yml does not define", name)
		}
	}
}

// varRef is a reference to a Grafana variable: $name or ${name} (${name:format} too).
var varRef = regexp.MustCompile(`\$\{?([A-Za-z_]\w*)`)

// Every variable the dashboard refers to (in a query, a data source, another variable's
// query) is one of its template variables, defined before a variable whose query uses it, or
// one of Grafana's own ($__rate_interval, ...): Grafana leaves an unknown $name as it is, and
// a query then matches nothing.
func TestDashboardVariablesExist(t *testing.T) {
	b, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	d := readDashboard(t)
	defined := map[string]bool{}
	for _, v := range d.Templating.List {
		for _, ref := range submatches(varRef, v.Definition+string(v.Query)) {
			if !defined[ref] && !strings.HasPrefix(ref, "__") {
				t.Errorf("variable %s's query refers to $%s, which is not defined before it", v.Name, ref)
			}
		}
		defined[v.Name] = true
	}
	refs := map[string]bool{}
	for _, ref := range submatches(varRef, string(b)) {
		refs[ref] = true
		if !defined[ref] && !strings.HasPrefix(ref, "__") {
			t.Errorf("dashboard.json refers to $%s, which is no template variable", ref)
		}
	}
	for name := range defined {
		if !refs[name] {
			t.Errorf("template variable %s is used nowhere", name)
		}
	}
}

// The panel that shows what an alert compares with its threshold draws that threshold as a
// line, so that on-call sees how near the alert a service is: the alert's expression holds
// the comparison, the panel a threshold step at its value, drawn.
func TestPanelsDrawAlertThresholds(t *testing.T) {
	var rf ruleFile
	readYAML(t, "alerts.yml", &rf)
	exprs := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			exprs[r.Alert] = r.Expr
		}
	}
	panels := map[string]panel{}
	for _, p := range readDashboard(t).Panels {
		panels[p.Title] = p
	}
	for _, tt := range []struct {
		alert, comparison, panel string
		threshold                float64
	}{
		{"BulwarkRetryRateHigh", ") > 0.2", "Retry ratio", 0.2},
		{"BulwarkBulkheadSaturated", ">= 0.9", "Bulkhead utilisation", 0.9},
		{"BulwarkAdaptiveThrottleRejecting", ") > 0.5", "Adaptive throttle rejection probability", 0.5},
	} {
		if !strings.Contains(exprs[tt.alert], tt.comparison) {
			t.Errorf("alert %s: expression %q does not compare %q", tt.alert, exprs[tt.alert], tt.comparison)
		}
		p, ok := panels[tt.panel]
		if !ok {
			t.Errorf("no panel %q", tt.panel)
			continue
		}
		d := p.FieldConfig.Defaults
		drawn := false
		for _, st := range d.Thresholds.Steps {
			drawn = drawn || st.Value != nil && *st.Value == tt.threshold
		}
		if !drawn || d.Custom.ThresholdsStyle.Mode == "" || d.Custom.ThresholdsStyle.Mode == "off" {
			t.Errorf("panel %q: thresholds %+v drawn as %q; want a step at %v, %s's threshold, drawn",
				tt.panel, d.Thresholds.Steps, d.Custom.ThresholdsStyle.Mode, tt.threshold, tt.alert)
		}
	}
}

// Every panel keeps the service apart: the service variable selects all services by default,
// and a line summed over them says that some service fails, not which. Every aggregation keeps
// service, and every legend names it (a full method names its service).
func TestPanelsKeepTheService(t *testing.T) {
	d := readDashboard(t)
	byRE := regexp.MustCompile(`\b(?:sum|max|min|avg|count) by \(([^)]*)\)`)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range byRE.FindAllStringSubmatch(tg.Expr, -1) {
				if !slices.Contains(strings.Split(strings.ReplaceAll(m[1], " ", ""), ","), "service") {
					t.Errorf("panel %q query %s aggregates by (%s): want service kept", p.Title, tg.RefID, m[1])
				}
			}
			if !strings.Contains(tg.LegendFormat, "{{service}}") && !strings.Contains(tg.LegendFormat, "{{method}}") {
				t.Errorf("panel %q query %s: legend %q names neither the service nor the method", p.Title, tg.RefID, tg.LegendFormat)
			}
		}
	}
}
