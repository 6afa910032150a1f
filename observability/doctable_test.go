package observability_test

import (
	"os"
	"regexp"
	"testing"
)

// TestDocAlertsTable: the package documentation's alerts table lists every alert of
// alerts.yml with its for and severity.
func TestDocAlertsTable(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^//\t\| (Bulwark[A-Za-z]+) +\|.*\| (\S+) +\| (\S+) +\|$`)
	doc := map[string][2]string{}
	for _, m := range row.FindAllStringSubmatch(string(src), -1) {
		doc[m[1]] = [2]string{m[2], m[3]}
	}
	var rf ruleFile
	readYAML(t, "alerts.yml", &rf)
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			want, ok := doc[r.Alert]
			delete(doc, r.Alert)
			got := [2]string{r.For, r.Labels["severity"]}
			switch {
			case !ok:
				t.Errorf("doc.go's alerts table leaves out %s", r.Alert)
			case got != want:
				t.Errorf("doc.go's alerts table: %s for %s, severity %s; alerts.yml says for %s, severity %s", r.Alert, want[0], want[1], got[0], got[1])
			}
		}
	}
	for name := range doc {
		t.Errorf("doc.go's alerts table names %s, which alerts.yml does not define", name)
	}
}
