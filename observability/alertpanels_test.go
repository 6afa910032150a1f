package observability_test

import (
	"regexp"
	"testing"
)

// panelRef is how an alert's description sends the operator to a panel of the dashboard:
// "the dashboard's <title> panel", the title as dashboard.json spells it.
var panelRef = regexp.MustCompile(`the dashboard's ([A-Z][a-z]*(?: [a-z]+)*) panel`)

// Every alert's description names a panel of the dashboard to open next, by a title the
// dashboard has, so that the operator paged goes from the alert to the evidence (and a renamed
// panel is not left behind in the rules).
func TestAlertsPointAtPanels(t *testing.T) {
	titles := map[string]bool{}
	for _, p := range readDashboard(t).Panels {
		if p.Type != "row" {
			titles[p.Title] = true
		}
	}
	var rf ruleFile
	readYAML(t, "alerts.yml", &rf)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			refs := panelRef.FindAllStringSubmatch(r.Annotations["description"], -1)
			if len(refs) == 0 {
				t.Errorf("alert %s: its description names no dashboard panel (\"the dashboard's <title> panel\")", r.Alert)
			}
			for _, ref := range refs {
				if !titles[ref[1]] {
					t.Errorf("alert %s: its description names the panel %q, which dashboard.json does not have", r.Alert, ref[1])
				}
			}
		}
	}
}
