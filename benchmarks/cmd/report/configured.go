package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// configuredFile names a configuration's file (scripts/report.sh writes one per kind and size).
var configuredFile = regexp.MustCompile(`^methods_([a-z]+)_([0-9]+)\.out$`)

// configuredRow is one configuration's paired figures.
type configuredRow struct {
	kind           string
	size           int
	rawNs, suiteNs float64
	time, cpu, aa  estimate
	allocs, bytes  float64 // the suite's over raw
	suite          bool    // the file holds suite samples (suiteNs, allocs and bytes are figures)
}

// configuredRows reads the configured-size files in dir (methods_<kind>_<size>.out), by kind,
// then by size. A file without samples (its process cut short) has no row; one that cannot be
// read is an error, as any output of scripts/report.sh is (main).
func configuredRows(dir string) ([]configuredRow, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var rows []configuredRow
	var errs []error
	for _, e := range entries {
		m := configuredFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		size, err := strconv.Atoi(m[2])
		if err != nil {
			continue
		}
		ss, err := parse(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(dir, e.Name()), err))
			continue
		}
		if len(ss) == 0 {
			continue
		}
		rows = append(rows, configuredRowOf(m[1], size, ss))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(rows, func(a, b configuredRow) int {
		return cmp.Or(strings.Compare(a.kind, b.kind), cmp.Compare(a.size, b.size))
	})
	return rows, nil
}

// configuredRowOf is the row of one configuration's paired samples (raw, raw2, suite).
func configuredRowOf(kind string, size int, ss []sample) configuredRow {
	raw := filter(ss, pairedBench, 0, map[string]string{"chain": "raw"})
	su := filter(ss, pairedBench, 0, map[string]string{"chain": "suite"})
	return configuredRow{
		kind: kind, size: size,
		rawNs: median(values(raw, "ns/op")), suiteNs: median(values(su, "ns/op")),
		time:   pairedRatio(ss, "suite", "ns/op").ci(),
		cpu:    pairedRatio(ss, "suite", "cpu-ns/op").ci(),
		aa:     pairedRatio(ss, controlChain, "ns/op").ci(),
		allocs: median(values(su, "allocs/op")) - median(values(raw, "allocs/op")),
		bytes:  median(values(su, "B/op")) - median(values(raw, "B/op")),
		suite:  len(su) > 0,
	}
}

// configured prints the cost against the configuration's size: the table of rows and, for
// each kind, whether the largest size's interval overlaps the smallest's.
func (r *report) configured(rows []configuredRow) {
	r.printf("\n## Cost against the number of configured methods and services\n\n")
	r.printf("The suite (BenchConfig + promobs, dialed with its service config) calling\n")
	r.printf("FaceMatchService.Compare while 1, 100 or 10 000 methods of its service (each with a retry\n")
	r.printf("override, so each has a chain and a retry policy of its own) or 1, 100 or 10 000 services\n")
	r.printf("are configured, every one of them called once first (the measured method before them, so\n")
	r.printf("that it keeps a method label of its own: promobs labels the first 1 000 method names it\n")
	r.printf("sees). Each configuration in a process of its own (`cmd/paired -configured <kind> -size\n")
	r.printf("<n>`), in the paired layout of the headline with raw, raw2 and the suite: the suite's time\n")
	r.printf("over raw per round, median [95 %% CI]. With 10 000 of either the live heap is hundreds of\n")
	r.printf("megabytes and a collection's marking runs through many blocks, which makes their rounds\n")
	r.printf("noisier; raw and the suite share that heap and its collections, as the dithered phase\n")
	r.printf("before each block shares them fairly. B/op, the same at every size, is what the collector's\n")
	r.printf("cost per call follows.\n\n")
	if len(rows) == 0 {
		r.printf("Not measured.\n")
		return
	}
	r.printf("| configured | n | raw ns/op | suite ns/op | suite × raw (median [95 %% CI]) | CPU × raw | raw2 ÷ raw (A/A) | suite allocs over raw | suite B/op over raw |\n")
	r.printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, c := range rows {
		// Without suite samples (a process cut short) the suite's columns are no figures.
		suiteNs, allocs, bytes := "—", "—", "—"
		if c.suite {
			suiteNs, allocs, bytes = fmt.Sprintf("%.0f", c.suiteNs), fmt.Sprintf("%+.0f", c.allocs), fmt.Sprintf("%+.0f", c.bytes)
		}
		r.printf("| %s | %d | %.0f | %s | %s | %s | %s | %s | %s |\n", c.kind, c.size,
			c.rawNs, suiteNs, c.time, c.cpu, c.aa, allocs, bytes)
	}
	if v := configuredVerdict(rows); v != "" {
		r.printf("\n%s\n", v)
	}
}

// configuredVerdict says, for each kind, whether the largest size's interval of the suite's
// time over raw overlaps the smallest size's: no growth measured, or growth.
func configuredVerdict(rows []configuredRow) string {
	var out []string
	for i := 0; i < len(rows); {
		// rows are sorted by kind, then size: the kind's rows run from i to j.
		j := i
		for j < len(rows) && rows[j].kind == rows[i].kind {
			j++
		}
		kind := slices.DeleteFunc(slices.Clone(rows[i:j]), func(c configuredRow) bool { return !c.time.ok })
		i = j
		if len(kind) < 2 {
			continue
		}
		first, last := kind[0], kind[len(kind)-1]
		a, b := first.time, last.time
		verb := "overlaps"
		// The facing bounds of intervals that miss each other are printed with the digits
		// that show the gap (pctAt), where one decimal may print them equal.
		bt, at := pctCI(b), pctCI(a)
		switch {
		case b.lo > a.hi:
			verb = "does not overlap"
			below, above := gapBounds(a.hi, b.lo)
			bt, at = pctCIBounds(b, above, ""), pctCIBounds(a, "", below)
		case b.hi < a.lo:
			verb = "does not overlap"
			below, above := gapBounds(b.hi, a.lo)
			bt, at = pctCIBounds(b, "", below), pctCIBounds(a, above, "")
		}
		out = append(out, fmt.Sprintf("With %d %s configured the suite's time over raw, %s, %s the interval with %d, %s.",
			last.size, last.kind, bt, verb, first.size, at))
	}
	return strings.Join(out, " ")
}

// gapBounds prints the facing bounds of two intervals that miss each other, the upper bound hi
// of the lower one and the lower bound lo (> hi) of the upper one, as percentages over raw that
// show the gap: each on its side of the other's value (pctAt) and, printed, apart. Each printed
// on its side of the other's exact value may still print equal (1.0506 and 1.0512 both read
// +5.1); then both are printed to the fewest decimals that tell them apart (+5.06, +5.12).
func gapBounds(hi, lo float64) (hiText, loText string) {
	hiText, loText = pctAt(hi, lo), pctAt(lo, hi)
	h, err1 := strconv.ParseFloat(hiText, 64)
	l, err2 := strconv.ParseFloat(loText, 64)
	if err1 != nil || err2 != nil || l > h {
		return hiText, loText
	}
	for d := 1; d <= 6; d++ {
		hiText, loText = fmt.Sprintf("%+.*f", d, (hi-1)*100), fmt.Sprintf("%+.*f", d, (lo-1)*100)
		h, _ = strconv.ParseFloat(hiText, 64)
		l, _ = strconv.ParseFloat(loText, 64)
		if l > h {
			break
		}
	}
	return hiText, loText
}

// pctCIBounds is pctCI of e (which has an interval) with its bounds printed as lo and hi
// when given ("" for pctCI's own).
func pctCIBounds(e estimate, lo, hi string) string {
	if lo == "" {
		lo = fmt.Sprintf("%+.1f", (e.lo-1)*100)
	}
	if hi == "" {
		hi = fmt.Sprintf("%+.1f", (e.hi-1)*100)
	}
	return fmt.Sprintf("%+.1f %% [%s – %s %%]", (e.med-1)*100, lo, hi)
}
