package depcheck

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	fuzzFunc = regexp.MustCompile(`(?m)^func (Fuzz\w*)\(`)
	// makeFuzz is a line of the Makefile's fuzz target: an optional cd into a module, then
	// go test of one package with -fuzz '^Name$$'.
	makeFuzz = regexp.MustCompile(`(?:cd (\S+) && )?\$\(GO\) test (\S+) .*-fuzz '\^(Fuzz\w*)\$\$'`)
)

// TestMakeFuzzRunsEveryTarget: `make fuzz` runs every fuzz target of the repository (the
// README says so), each in the package that declares it, so that a new target is not left
// out of it.
func TestMakeFuzzRunsEveryTarget(t *testing.T) {
	root := filepath.Join("..", "..")
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	// target → the directories make fuzz runs it in: two packages may each have a target of
	// one name (FuzzParseFlags: the orchestrator's and mlstub's).
	run := map[string][]string{}
	for _, m := range makeFuzz.FindAllStringSubmatch(string(mk), -1) {
		run[m[3]] = append(run[m[3]], path.Join(m[1], m[2]))
	}
	found := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(rel)
		for _, m := range fuzzFunc.FindAllStringSubmatch(string(b), -1) {
			found++
			switch got, ok := run[m[1]]; {
			case !ok:
				t.Errorf("%s (%s) is not run by make fuzz", m[1], filepath.ToSlash(p[len(root)+1:]))
			case !slices.Contains(got, dir):
				t.Errorf("make fuzz runs %s in %s; it is declared in %s", m[1], strings.Join(got, ", "), dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no fuzz target found in the repository")
	}
}
