// Command footprint counts, under valgrind's cachegrind, the instructions a chain's call runs
// and the cache lines of data and of code it fetches when it starts cold, per call:
// BenchmarkSuiteOwnCold's calls (each after 2 MB of other memory was read, as a gRPC round trip
// leaves the caches), simulated on the caches of the report's machine for data (L1 32 KB, 512
// KB L2, 64-byte lines). A simulation counts the same on a busy machine as on a quiet one: it
// tells a change of the suite's footprint by a few cache lines, which the timed cold benchmark
// cannot tell from its noise. It does not price them: a miss's cost depends on what the core
// overlaps it with.
//
// Data: the lines a call misses in the data L1, whose contents the evictor's reads empty as a
// round trip's work does. Code: the evictor runs a small loop, which would leave a simulated
// instruction cache of the machine's 32 KB holding the suite's whole path from one call to the
// next, where on the machine grpc's client, transport and server code between two calls takes
// it out. The simulated instruction cache is therefore cut to 128 lines (8 KB), fully
// associative, least recently used: a call's path longer than that misses each code line it
// runs through once per call, as a cold path does, and the count is about the distinct code
// lines a call runs. It counts from above: a line the call runs again after 128 other lines
// counts again (the suite's path reads ~12 % less with 256 lines than with 64). A path of
// fewer than 128 lines, with the evictor's loop, stays cached and reads about 0 (raw's).
//
// Each chain runs twice, n and 3n calls, and what grows between the two runs, divided by 2n,
// is one call's: the set-up (the server, the connections, the first calls) cancels out. The
// runtime's own work (scheduler, collector: runtime.* but for the helpers a call runs, such as
// ifaceeq or memequal) and the evictor are left out of the totals.
//
//	go run ./cmd/footprint                  # raw and the suite ladder
//	go run ./cmd/footprint -chains raw,suite -fn suite   # and suite's functions, by lines
//
// It needs valgrind (Debian: apt-get install valgrind). valgrind 3.19 does not decode RDTSCP,
// which the Go runtime's cputicks executes on CPUs that have it; the command runs a copy of
// the test binary in which that one instruction, in runtime.cputicks only, reads RDTSC
// instead (the same counter, without RDTSCP's ordering, which the runtime only uses for its
// own statistics).
package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

func main() {
	chains := flag.String("chains", "raw,suite_retry,suite_nosink,suite", "chains of BenchmarkSuiteOwnCold, comma-separated")
	n := flag.Int("n", 1000, "calls of the shorter run (the longer makes 3n)")
	fn := flag.String("fn", "", "a chain whose per-function figures to print too")
	dir := flag.String("dir", "", "where to keep the test binary and cachegrind's files (default: a temporary directory)")
	flag.Parse()
	if err := run(os.Stdout, strings.Split(*chains, ","), *n, *fn, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, chains []string, n int, fn, dir string) error {
	if n < 1 {
		return fmt.Errorf("-n %d: must be at least 1", n)
	}
	if _, err := exec.LookPath("valgrind"); err != nil {
		return errors.New("valgrind not found (Debian: apt-get install valgrind)")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "footprint")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(d) }()
		dir = d
	}
	bin := filepath.Join(dir, "benchmarks.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the benchmarks' test binary: %w", err)
	}
	if err := patchRDTSCP(bin); err != nil {
		return err
	}
	var rows []row
	var detail map[string]Counts
	for _, c := range chains {
		var runs [2]map[string]Counts
		for i, calls := range []int{n, 3 * n} {
			out := filepath.Join(dir, fmt.Sprintf("%s.%d.cg", c, calls))
			if err := cachegrind(bin, c, calls, out); err != nil {
				return err
			}
			f, err := os.Open(out)
			if err != nil {
				return err
			}
			runs[i], err = Parse(f)
			_ = f.Close() // read only
			if err != nil {
				return fmt.Errorf("%s: %w", out, err)
			}
		}
		per := PerCall(runs[0], runs[1], 2*n)
		rows = append(rows, row{c, Path(per)})
		if c == fn {
			detail = per
		}
	}
	if err := print(w, rows); err != nil {
		return err
	}
	if detail != nil {
		return printFunctions(w, fn, detail)
	}
	return nil
}

// cachegrind runs BenchmarkSuiteOwnCold's chain for calls calls under cachegrind, its
// figures written to out.
func cachegrind(bin, chain string, calls int, out string) error {
	cmd := exec.Command("valgrind", "--tool=cachegrind", "--cache-sim=yes",
		"--I1=8192,128,64", "--D1=32768,8,64", "--LL=524288,8,64",
		"--cachegrind-out-file="+out,
		bin, "-test.run", "^$", "-test.bench", "^BenchmarkSuiteOwnCold$/^chain="+chain+"$",
		"-test.benchtime", strconv.Itoa(calls)+"x")
	// One P, no collection, no preemption signals: the runtime's own work stays small and
	// steady, so that the difference of two runs is the calls'.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GOGC=off", "GODEBUG=asyncpreemptoff=1")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, io.Discard
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cachegrind of chain %s: %w\n%s", chain, err, stdout.String())
	}
	if !bytes.Contains(stdout.Bytes(), []byte("chain="+chain)) {
		return fmt.Errorf("chain %s: BenchmarkSuiteOwnCold ran no such chain:\n%s", chain, stdout.String())
	}
	return nil
}

// patchRDTSCP rewrites the RDTSCP instructions (0F 01 F9) of runtime.cputicks in the
// executable at path to RDTSC; NOP (0F 31 90), which valgrind decodes.
func patchRDTSCP(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	syms, err := f.Symbols()
	if err != nil {
		_ = f.Close() // read only
		return err
	}
	var off, size uint64
	for _, s := range syms {
		if s.Name != "runtime.cputicks.abi0" && s.Name != "runtime.cputicks" {
			continue
		}
		sec := f.Sections[s.Section]
		off, size = s.Value-sec.Addr+sec.Offset, s.Size
		break
	}
	_ = f.Close() // read only
	if size == 0 {
		return errors.New("runtime.cputicks not found in the test binary")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := PatchRDTSCP(b[off : off+size])
	if n == 0 {
		return nil // a runtime without RDTSCP in cputicks: nothing to do
	}
	return os.WriteFile(path, b, 0o755)
}

// PatchRDTSCP rewrites every RDTSCP in code to RDTSC; NOP and returns how many it rewrote.
func PatchRDTSCP(code []byte) int {
	n := 0
	for i := 0; i+3 <= len(code); i++ {
		if code[i] == 0x0f && code[i+1] == 0x01 && code[i+2] == 0xf9 {
			code[i], code[i+1], code[i+2] = 0x0f, 0x31, 0x90
			n++
		}
	}
	return n
}

// Counts are cachegrind's counts of one function: instructions, first-level instruction
// misses (the code lines fetched, with the instruction cache the package doc describes), data
// reads and their first-level misses, data writes and their first-level misses.
type Counts struct {
	Ir, I1mr, Dr, D1mr, Dw, D1mw float64
}

// misses is the data lines missed: reads and writes.
func (c Counts) misses() float64 { return c.D1mr + c.D1mw }

// lines is the cache lines fetched, of data and code (see the package doc).
func (c Counts) lines() float64 { return c.misses() + c.I1mr }

// Parse reads a cachegrind output file into counts per function (its fn= name).
func Parse(r io.Reader) (map[string]Counts, error) {
	out := map[string]Counts{}
	var idx map[string]int
	fn := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "events: "):
			idx = map[string]int{}
			for i, e := range strings.Fields(strings.TrimPrefix(l, "events: ")) {
				idx[e] = i
			}
			for _, e := range []string{"Ir", "I1mr", "Dr", "D1mr", "Dw", "D1mw"} {
				if _, ok := idx[e]; !ok {
					return nil, fmt.Errorf("events line %q has no %s (run with --cache-sim=yes)", l, e)
				}
			}
		case strings.HasPrefix(l, "fn="):
			fn = strings.TrimPrefix(l, "fn=")
		case l == "" || l[0] < '0' || l[0] > '9':
		default:
			if idx == nil || fn == "" {
				return nil, fmt.Errorf("counts %q before the events line or a function", l)
			}
			f := strings.Fields(l)[1:] // the line number first
			get := func(e string) float64 {
				i := idx[e]
				if i >= len(f) {
					return 0 // cachegrind leaves out trailing zeros
				}
				v, _ := strconv.ParseFloat(f[i], 64)
				return v
			}
			c := out[fn]
			c.Ir += get("Ir")
			c.I1mr += get("I1mr")
			c.Dr += get("Dr")
			c.D1mr += get("D1mr")
			c.Dw += get("Dw")
			c.D1mw += get("D1mw")
			out[fn] = c
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if idx == nil {
		return nil, errors.New("no events line: not a cachegrind output file")
	}
	return out, nil
}

// PerCall returns, per function, what grew from run a to run b, divided by calls, the calls b
// made more than a.
func PerCall(a, b map[string]Counts, calls int) map[string]Counts {
	out := map[string]Counts{}
	k := float64(calls)
	for fn, y := range b {
		x := a[fn]
		out[fn] = Counts{(y.Ir - x.Ir) / k, (y.I1mr - x.I1mr) / k, (y.Dr - x.Dr) / k, (y.D1mr - x.D1mr) / k, (y.Dw - x.Dw) / k, (y.D1mw - x.D1mw) / k}
	}
	for fn, x := range a {
		if _, ok := b[fn]; !ok {
			out[fn] = Counts{-x.Ir / k, -x.I1mr / k, -x.Dr / k, -x.D1mr / k, -x.Dw / k, -x.D1mw / k}
		}
	}
	return out
}

// callHelpers are the runtime functions a call runs itself (compiler helpers), kept in the
// totals; the runtime's other functions are its own work (scheduler, collector, timers).
var callHelpers = []string{
	"runtime.ifaceeq", "runtime.efaceeq", "runtime.interequal", "runtime.nilinterequal",
	"runtime.memequal", "runtime.memmove", "runtime.typedslicecopy", "runtime.typeAssert",
	"runtime.assertE2I", "runtime.getitab", "runtime.procPin", "runtime.procUnpin",
	"runtime.nanotime", "runtime.walltime", "runtime.deferreturn", "runtime.deferprocStack",
	"runtime.mallocgc", "runtime.newobject", "runtime.growslice",
}

// evictorReads is more data reads per call than any call makes: the evictor's (2 MB, a
// read per 64-byte line), left out.
const evictorReads = 10000

// Path sums per's functions that a call runs: the runtime's own work and the evictor left out.
func Path(per map[string]Counts) Counts {
	var t Counts
	for fn, c := range per {
		if !OnPath(fn, c) {
			continue
		}
		t.Ir += c.Ir
		t.I1mr += c.I1mr
		t.Dr += c.Dr
		t.D1mr += c.D1mr
		t.Dw += c.Dw
		t.D1mw += c.D1mw
	}
	return t
}

// OnPath reports whether fn, with its per-call counts c, is a call's.
func OnPath(fn string, c Counts) bool {
	if c.Dr > evictorReads {
		return false
	}
	if strings.HasPrefix(fn, "runtime.") {
		return slices.ContainsFunc(callHelpers, func(h string) bool { return strings.HasPrefix(fn, h) })
	}
	return true
}

type row struct {
	chain string
	c     Counts
}

func print(w io.Writer, rows []row) error {
	var raw *Counts
	for i := range rows {
		if rows[i].chain == "raw" {
			raw = &rows[i].c
		}
	}
	fmt.Fprintln(w, "Per call, cold (cachegrind, BenchmarkSuiteOwnCold; data: L1 32 KB, L2 512 KB; code: 128 lines, see the doc): cache lines fetched, and instructions run")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "chain\tinstructions\tD1 read misses\tD1 write misses\tdata lines\tover raw\tcode lines\tover raw\tall lines\tover raw\t")
	for _, r := range rows {
		over := func(f func(Counts) float64) string {
			if raw == nil || r.chain == "raw" {
				return "—"
			}
			return fmt.Sprintf("%+.1f", f(r.c)-f(*raw))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t%.1f\t%s\t%.1f\t%s\t%.1f\t%s\t\n", r.chain, r.c.Ir, r.c.D1mr, r.c.D1mw,
			r.c.misses(), over(Counts.misses), r.c.I1mr, over(func(c Counts) float64 { return c.I1mr }), r.c.lines(), over(Counts.lines))
	}
	return tw.Flush()
}

func printFunctions(w io.Writer, chain string, per map[string]Counts) error {
	type f struct {
		name string
		c    Counts
	}
	var fs []f
	for name, c := range per {
		if OnPath(name, c) && (c.lines() >= 0.5 || c.Ir >= 20) {
			fs = append(fs, f{name, c})
		}
	}
	slices.SortFunc(fs, func(a, b f) int {
		if d := b.c.lines() - a.c.lines(); d != 0 {
			if d > 0 {
				return 1
			}
			return -1
		}
		return strings.Compare(a.name, b.name)
	})
	fmt.Fprintf(w, "\n%s, per function (cache lines fetched, of data and code, then instructions):\n\n", chain)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "all lines\tdata lines\tD1 read\tD1 write\tcode lines\tinstructions\tfunction")
	for _, x := range fs {
		fmt.Fprintf(tw, "%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t%s\n", x.c.lines(), x.c.misses(), x.c.D1mr, x.c.D1mw, x.c.I1mr, x.c.Ir, x.name)
	}
	return tw.Flush()
}
