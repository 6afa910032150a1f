package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// summary is what BENCHMARKS.md shows of the report: the headline chains' allocations and time
// over raw in both caller-deadline layouts, and the goal verdicts. The report's sections fill it
// as they are written, so that the short form never holds a figure the report does not.
type summary struct {
	paired, shared map[string]ratioAllocs
	slow           map[string]ratioAllocs // the server answering after 1 ms
	rounds, procs  int                    // the paired headline's rounds and processes
	goals          []goalRow
	notes          []string // reading aids below the goals (the timeout floor, the calibration)
}

// goalRow is one goal verdict; measured is the short form, without the per-process figures.
type goalRow struct{ goal, measured, verdict string }

// The markers around the block -summary rewrites.
const (
	summaryBegin = "<!-- BEGIN report summary: written by `make -C benchmarks report` (cmd/report -summary); do not edit by hand -->"
	summaryEnd   = "<!-- END report summary -->"
)

// summaryChains are the chains the short table shows, in its order.
var summaryChains = []string{"suite", "suite_nosink", "suite_ownctx", "suite_builtin", "failsafe", "grpcmw_retry", "grpc_timeout", "timeout", "spin1us", "offpath", "raw2"}

// write prints the block (markers included) for a report of the machine and commit in env.
func (s *summary) write(w io.Writer, env map[string]string) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("%s\n\n", summaryBegin)
	p("From [results/report.md](benchmarks/results/report.md), commit %s, %s (%s × %s, load %s before, %s after).\n",
		orDash(env["commit"]), orDash(env["date"]), orDash(env["cpu"]), orDash(env["nproc"]),
		orDash(firstField(env["load before (1, 5, 15 min)"])), orDash(firstField(env["load after (1, 5, 15 min)"])))
	goals := "Issue 20's goals (the report gives the rule and the per-process figures):"
	if s.paired == nil {
		// No paired headline: no table of its figures, and the goals are the per-process
		// layout's, which the report falls back to.
		p("%s (paired.out holds no round of raw): no paired figures.\n", pairedEmpty)
		goals = "Issue 20's goals, judged on the per-process layout (the report gives the rule):"
	} else {
		p("Unary `FaceMatchService.Compare` over bufconn, paired layout (%d rounds in %d processes), every call\n", s.rounds, s.procs)
		p("with a fresh 10 s caller deadline; over the raw call of the same rounds, median [95 %% CI]. The\n")
		p("last columns are the same layout, shorter: with one caller deadline shared by 500 calls, and\n")
		p("with the server answering each call after 1 ms (the ML services' regime).\n\n")
		p("| chain | what | allocs over raw | time over raw | with a shared caller deadline | on a 1 ms call |\n| --- | --- | ---: | ---: | ---: | ---: |\n")
		for _, c := range summaryChains {
			g, ok := s.paired[c]
			if !ok {
				continue
			}
			p("| %s | %s | %+.2f | %s | %s | %s |\n", c, chainText[c], g.allocs, pctOf(g.r.ci(), c), ciOf(s.shared, c), ciOf(s.slow, c))
		}
	}
	if len(s.goals) > 0 {
		p("\n%s\n\n", goals)
		p("| goal | measured | verdict |\n| --- | --- | --- |\n")
		for _, g := range s.goals {
			p("| %s | %s | %s |\n", g.goal, g.measured, g.verdict)
		}
	}
	for _, n := range s.notes {
		p("\n%s\n", n)
	}
	p("\n%s\n", summaryEnd)
}

// ciOf returns chain c's time over raw in m, or a dash.
func ciOf(m map[string]ratioAllocs, c string) string {
	if v, ok := m[c]; ok {
		return pctOf(v.r.ci(), c)
	}
	return "—"
}

// pctOf prints chain c's time over raw, e, as the summary's table gives it: to one decimal
// (pctCI), as the report's table gives it to three decimals of the ratio; the goals' verdicts
// are judged in the goals table below it, whose figures carry the digits their verdicts rest
// on. The A/A control's row (raw2) is judged where it stands, by whether its interval holds
// 0 % (the report's note when it does not, its table's figures printed by ratioAt), so its
// figures are printed with the digits that tell (pctAgainstOne): -0.04 %, not -0.0 %.
func pctOf(e estimate, c string) string {
	if c == controlChain {
		return e.pctAgainstOne()
	}
	return pctCI(e)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// errNoMarkers says the file has no block to rewrite.
var errNoMarkers = errors.New("no report summary block: put the BEGIN and END marker lines where it goes")

// splice returns doc with the text from the line holding summaryBegin to the line holding
// summaryEnd (both included) replaced by block.
func splice(doc, block []byte) ([]byte, error) {
	i := bytes.Index(doc, []byte(summaryBegin))
	j := bytes.Index(doc, []byte(summaryEnd))
	if i < 0 || j < 0 || j < i {
		return nil, errNoMarkers
	}
	if bytes.Contains(doc[j+len(summaryEnd):], []byte(summaryBegin)) {
		return nil, errors.New("more than one report summary block")
	}
	end := j + len(summaryEnd)
	if end < len(doc) && doc[end] == '\n' {
		end++
	}
	out := append([]byte(nil), doc[:i]...)
	out = append(out, block...)
	return append(out, doc[end:]...), nil
}

// updateSummary rewrites the summary block of the file at path.
func updateSummary(path string, s *summary, env map[string]string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var block bytes.Buffer
	s.write(&block, env)
	out, err := splice(doc, block.Bytes())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}
