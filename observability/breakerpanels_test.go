package observability_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// panelQuery returns the query of the panel titled title, which must have one.
func panelQuery(t *testing.T, title string) string {
	t.Helper()
	for _, p := range readDashboard(t).Panels {
		if p.Title == title {
			if len(p.Targets) != 1 {
				t.Fatalf("panel %q has %d queries, want 1", title, len(p.Targets))
			}
			return p.Targets[0].Expr
		}
	}
	t.Fatalf("no panel %q", title)
	return ""
}

// atStep replaces the dashboard's variables as Grafana does for a graph whose step is 1m,
// scraped every 15s: $__interval is the step, $__rate_interval max(step + scrape, 4 scrapes).
var atStep = strings.NewReplacer("$__rate_interval", "75s", "$__interval", "1m", "$service", ".*", "$method", ".*")

// promtoolTest runs promtool's unit tests of body (the tests: list of a test file, no rules).
func promtoolTest(t *testing.T, body string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "none.yml"), []byte("groups: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "test.yml")
	if err := os.WriteFile(path, []byte("rule_files:\n  - none.yml\nevaluation_interval: 1m\ntests:\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := execPromtool(t, "test", "rules", path)
	return out, err
}

// The transitions panel's points add up to the transitions over the range: each is the change
// over its own step, and steps do not overlap. A breaker changing state 4 times a minute for
// 10 minutes shows 40 changes over the graph's ten 1m steps (a $__rate_interval window, 75s at
// a 15s scrape, counted each change of the overlap twice: 49).
func TestBreakerTransitionsAddUp(t *testing.T) {
	promtool(t)
	q := atStep.Replace(panelQuery(t, "Breaker transitions"))
	const labels = `service="kyc.v1.OCRService",method="/kyc.v1.OCRService/Extract",from="closed",to="open"`
	body := fmt.Sprintf(`  - interval: 15s
    input_series:
      - series: 'bulwark_breaker_transitions_total{%s,job="app",instance="a:9090"}'
        values: '0+1x40'
    promql_expr_test:
      - expr: 'sum_over_time((%s)[10m:1m])'
        eval_time: 10m
        exp_samples:
          - labels: '{%s}'
            value: 40
`, labels, strings.ReplaceAll(q, "'", "''"), labels)
	if out, err := promtoolTest(t, body); err != nil {
		t.Errorf("the transitions panel's points over 10m of 4 changes a minute, at a 1m step: want 40 in all\n%s", out)
	}
}

// The breaker state panel shows each instance's breaker: two processes with breakers of the
// same name, one open and the other disabled, show as two rows, open (2) and disabled (4); a
// max over instances showed disabled alone, hiding the open one.
func TestBreakerStatePerInstance(t *testing.T) {
	promtool(t)
	q := atStep.Replace(panelQuery(t, "Breaker state"))
	var series strings.Builder
	for _, inst := range []struct{ name, state string }{{"a:9090", "open"}, {"b:9090", "disabled"}} {
		for _, st := range []string{"closed", "half_open", "open", "forced_open", "disabled"} {
			v := "0x4"
			if st == inst.state {
				v = "1x4"
			}
			fmt.Fprintf(&series, "      - series: 'bulwark_breaker_state{service=\"kyc.v1.OCRService\",method=\"/kyc.v1.OCRService/Extract\",state=%q,job=\"app\",instance=%q}'\n        values: '%s'\n", st, inst.name, v)
		}
	}
	body := fmt.Sprintf(`  - interval: 15s
    input_series:
%s    promql_expr_test:
      - expr: '%s'
        eval_time: 30s
        exp_samples:
          - labels: '{service="kyc.v1.OCRService",method="/kyc.v1.OCRService/Extract",job="app",instance="a:9090"}'
            value: 2
          - labels: '{service="kyc.v1.OCRService",method="/kyc.v1.OCRService/Extract",job="app",instance="b:9090"}'
            value: 4
`, series.String(), strings.ReplaceAll(q, "'", "''"))
	if out, err := promtoolTest(t, body); err != nil {
		t.Errorf("the breaker state panel, one instance open and one disabled: want a row of each\n%s", out)
	}
}

// transitionsCase is one breaker's transitions counter, scraped every 15s from 0s to 360s
// ("_" for a scrape without the series), and the transitions panel's point at each 1m step
// from 1m to 6m ("" for no point).
type transitionsCase struct {
	from, to, values string
	want             [6]string
}

// The transitions panel counts each transition once, in whole numbers, in the step whose
// window (t-1m, t] holds the first scrape that shows it, whether the change falls between two
// scrapes of a window or between a window's last scrape and the next one's first (Prometheus 3
// leaves a range's start out, so increase over the step lost those and extrapolated the rest
// to fractions), whether the process restarted in the step, and whether it is the first
// transition of its kind (promobs makes the series at its first transition, with value 1:
// increase, which needs two samples, never counted it).
func TestBreakerTransitionsCountEachOnce(t *testing.T) {
	promtool(t)
	q := atStep.Replace(panelQuery(t, "Breaker transitions"))
	cases := []transitionsCase{
		// Changes at 75s (between the 60s and 75s scrapes: the step at 2m's boundary), 135s,
		// 210s (inside a step) and two at 315s and 330s.
		{"closed", "open", "0 0 0 0 0 1 1 1 1 2 2 2 2 2 3 3 3 3 3 3 3 4 5 5 5", [6]string{"0", "1", "1", "1", "0", "2"}},
		// One change at 45s; the process restarts at 90s and its breaker changes once.
		{"open", "half_open", "1 1 1 2 2 2 _ 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", [6]string{"1", "1", "0", "0", "0", "0"}},
		// The first such change at 90s, the next at 210s.
		{"half_open", "closed", "_ _ _ _ _ _ 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 2 2", [6]string{"", "1", "0", "1", "0", "0"}},
	}
	const svc = `service="kyc.v1.OCRService",method="/kyc.v1.OCRService/Extract"`
	var series, evals strings.Builder
	for _, c := range cases {
		fmt.Fprintf(&series, "      - series: 'bulwark_breaker_transitions_total{%s,from=%q,to=%q,job=\"app\",instance=\"a:9090\"}'\n        values: '%s'\n", svc, c.from, c.to, c.values)
	}
	for step := range 6 {
		fmt.Fprintf(&evals, "      - expr: '%s'\n        eval_time: %dm\n        exp_samples:\n", strings.ReplaceAll(q, "'", "''"), step+1)
		for _, c := range cases {
			if c.want[step] != "" {
				fmt.Fprintf(&evals, "          - labels: '{%s,from=%q,to=%q}'\n            value: %s\n", svc, c.from, c.to, c.want[step])
			}
		}
	}
	body := "  - interval: 15s\n    input_series:\n" + series.String() + "    promql_expr_test:\n" + evals.String()
	if out, err := promtoolTest(t, body); err != nil {
		t.Errorf("the transitions panel's points at a 1m step: want each transition once, in its step\n%s", out)
	}
}
