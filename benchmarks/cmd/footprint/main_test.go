package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A cachegrind output file of two functions, the second with trailing zeros left out.
const sample = `desc: I1 cache:         32768 B, 64 B, 8-way associative
cmd: ./benchmarks.test
events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw
fl=a.go
fn=pkg.f
10 100 2 2 40 4 4 20 1 1
11 50 1 1 10 1 1
fn=runtime.findRunnable
3 1000 5 5 300 7 7 100 3 3
fn=runtime.ifaceeq
4 30 1 1 5 2 2
summary: 1180 9 9 355 14 14 120 4 4
`

func TestParseSumsEachFunctionsLines(t *testing.T) {
	got, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Ir: 150, I1mr: 3, Dr: 50, D1mr: 5, Dw: 20, D1mw: 1}
	if got["pkg.f"] != want {
		t.Fatalf("pkg.f = %+v, want %+v", got["pkg.f"], want)
	}
	if got["runtime.ifaceeq"].D1mw != 0 || got["runtime.ifaceeq"].D1mr != 2 {
		t.Fatalf("runtime.ifaceeq = %+v, want D1mr 2 and the left-out D1mw 0", got["runtime.ifaceeq"])
	}
}

func TestParseRefusesWhatIsNoCacheSimulation(t *testing.T) {
	for name, in := range map[string]string{
		"no events line":     "fn=x\n1 2 3\n",
		"no cache counts":    "events: Ir\nfn=x\n1 2\n",
		"counts before a fn": "events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw\n1 2 3\n",
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestPerCallAndPath: what grew between the runs, per call; the runtime's own work and the
// evictor out of the total, the helpers a call runs in it.
func TestPerCallAndPath(t *testing.T) {
	a := map[string]Counts{
		"pkg.f":                {Ir: 100, I1mr: 10, Dr: 10, D1mr: 4},
		"runtime.findRunnable": {Ir: 1000},
		"ownWork.func2":        {Dr: 1e6, D1mr: 1e6},
		"gone":                 {Ir: 40},
	}
	b := map[string]Counts{
		"pkg.f":                {Ir: 300, I1mr: 30, Dr: 30, D1mr: 24},
		"runtime.findRunnable": {Ir: 9000, D1mr: 80},
		"runtime.ifaceeq":      {Ir: 20, D1mr: 10},
		"ownWork.func2":        {Dr: 5e6, D1mr: 5e6},
	}
	per := PerCall(a, b, 2)
	if got := per["pkg.f"]; got != (Counts{Ir: 100, I1mr: 10, Dr: 10, D1mr: 10}) {
		t.Fatalf("pkg.f per call = %+v", got)
	}
	if got := per["gone"]; got.Ir != -20 {
		t.Fatalf("a function of the first run only: %+v, want Ir -20", got)
	}
	got := Path(per)
	want := Counts{Ir: 100 + 10 - 20, I1mr: 10, Dr: 10, D1mr: 10 + 5}
	if got != want {
		t.Fatalf("Path = %+v, want %+v (pkg.f, runtime.ifaceeq and gone; not findRunnable, not the evictor)", got, want)
	}
	if math.Abs(got.misses()-15) > 1e-9 {
		t.Fatalf("misses = %v, want 15 (the data lines)", got.misses())
	}
}

func TestPatchRDTSCP(t *testing.T) {
	code := []byte{0x90, 0x0f, 0x01, 0xf9, 0x48, 0x0f, 0x01, 0xf8, 0x0f, 0x01, 0xf9}
	if n := PatchRDTSCP(code); n != 2 {
		t.Fatalf("rewrote %d, want 2", n)
	}
	want := []byte{0x90, 0x0f, 0x31, 0x90, 0x48, 0x0f, 0x01, 0xf8, 0x0f, 0x31, 0x90}
	if !bytes.Equal(code, want) {
		t.Fatalf("code = % x, want % x (0f 01 f8, SWAPGS, left alone)", code, want)
	}
}

func TestPrintPutsEachChainAgainstRaw(t *testing.T) {
	var b bytes.Buffer
	if err := print(&b, []row{{"raw", Counts{Ir: 300, I1mr: 1, D1mr: 17, D1mw: 5}}, {"suite", Counts{Ir: 4000, I1mr: 370, D1mr: 97, D1mw: 43}}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for what, want := range map[string]string{
		"data lines over raw (140 - 22)":          "+118.0",
		"code lines over raw (370 - 1)":           "+369.0",
		"all lines over raw (510 - 23)":           "+487.0",
		"the suite's lines of data, code and all": "140.0    +118.0       370.0    +369.0      510.0    +487.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: %q not in:\n%s", what, want, out)
		}
	}
}
