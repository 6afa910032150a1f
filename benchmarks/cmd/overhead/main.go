// Command overhead reads `go test -bench` output (several -count runs welcome) and prints, for
// every benchmark whose sub-benchmarks are named chain=<name>/mode=<mode>, a markdown table of
// each chain's medians and their ratio to chain=raw of the same benchmark and mode, then how
// the suite's overhead over raw compares with failsafe-go's.
//
//	go run ./cmd/overhead bench.out
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// line matches "BenchmarkUnary/chain=raw/mode=serial-2   1234   31076 ns/op   8746 B/op   148 allocs/op".
var line = regexp.MustCompile(`^Benchmark(\w+)/chain=([\w.-]+)/mode=(\w+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) B/op\s+([\d.]+) allocs/op`)

type key struct{ bench, mode string }

type samples struct{ ns, bytes, allocs []float64 }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// canonical is the order of benchmarks.AllChains; other names go last.
var canonical = []string{"raw", "retry", "breaker", "bulkhead", "ratelimit", "deadline",
	"suite", "suite_nosink", "suite_builtin", "failsafe", "grpcmw_retry"}

func rank(name string) int {
	if i := slices.Index(canonical, name); i >= 0 {
		return i
	}
	return len(canonical)
}

func main() {
	var in io.Reader = os.Stdin
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "overhead:", err)
			os.Exit(1)
		}
		defer func() { _ = f.Close() }()
		in = f
	}
	data := map[key]map[string]*samples{}
	var keys []key
	order := map[key][]string{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		m := line.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		k := key{m[1], m[3]}
		if data[k] == nil {
			data[k] = map[string]*samples{}
			keys = append(keys, k)
		}
		s := data[k][m[2]]
		if s == nil {
			s = &samples{}
			data[k][m[2]] = s
			order[k] = append(order[k], m[2])
		}
		ns, _ := strconv.ParseFloat(m[4], 64)
		b, _ := strconv.ParseFloat(m[5], 64)
		a, _ := strconv.ParseFloat(m[6], 64)
		s.ns, s.bytes, s.allocs = append(s.ns, ns), append(s.bytes, b), append(s.allocs, a)
	}
	for _, k := range keys {
		// Rows in the canonical order, whatever order the rounds measured the chains in.
		slices.SortStableFunc(order[k], func(a, b string) int { return rank(a) - rank(b) })
		raw, ok := data[k]["raw"]
		if !ok {
			continue
		}
		rns, rb, ra := median(raw.ns), median(raw.bytes), median(raw.allocs)
		fmt.Printf("\n#### %s, %s (medians of %d runs)\n\n", k.bench, k.mode, len(raw.ns))
		fmt.Println("| chain | ns/op | × raw | ns over raw | B/op | allocs/op | allocs over raw |")
		fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, c := range order[k] {
			s := data[k][c]
			ns, b, a := median(s.ns), median(s.bytes), median(s.allocs)
			fmt.Printf("| %s | %.0f | %.3f | %+.0f | %.0f | %.0f | %+.0f |\n", c, ns, ns/rns, ns-rns, b, a, a-ra)
		}
		suite, sok := data[k]["suite"]
		fs, fok := data[k]["failsafe"]
		if sok && fok {
			dns, dfs := median(suite.ns)-rns, median(fs.ns)-rns
			das, daf := median(suite.allocs)-ra, median(fs.allocs)-ra
			dbs, dbf := median(suite.bytes)-rb, median(fs.bytes)-rb
			fmt.Printf("\nsuite over raw: %+.0f ns, %+.0f allocs, %+.0f B; failsafe over raw: %+.0f ns, %+.0f allocs, %+.0f B",
				dns, das, dbs, dfs, daf, dbf)
			if dfs > 0 && daf > 0 {
				fmt.Printf("; suite/failsafe overhead: %.2f (ns), %.2f (allocs)", dns/dfs, das/daf)
			}
			fmt.Println()
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
}
