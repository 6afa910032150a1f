// Package orchrun builds the example orchestrator once and runs it as a subprocess with -json,
// for the commands that print BENCHMARKS.md's tables from its flags and summary alone (tail,
// brownout).
package orchrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Summary is the part of the orchestrator's -json summary the tables read.
type Summary struct {
	Total         int                `json:"total"`
	Approved      int                `json:"approved"`
	Rejected      int                `json:"rejected"`
	Failed        int                `json:"failed"`
	Shed          int                `json:"shed"`
	DecidedPct    float64            `json:"decided_pct"`
	FailedReasons map[string]int     `json:"failed_reasons"`
	P50           float64            `json:"p50_ms"`
	P99           float64            `json:"p99_ms"`
	Max           float64            `json:"max_ms"`
	ElapsedMs     float64            `json:"elapsed_ms"`
	ArrivalsLostS float64            `json:"arrivals_lost_s"`
	BreakerOpens  int                `json:"breaker_opens"`
	Services      map[string]Service `json:"services"`
}

// Service is one service's counts in a Summary.
type Service struct {
	Calls      int `json:"calls"`
	Attempts   int `json:"attempts"`
	Retries    int `json:"retries"`
	Hedges     int `json:"hedges"`
	Rejections int `json:"rejections"`
	// Reached counts the attempts that reached the (embedded) stub.
	Reached int `json:"reached"`
}

// AttemptsPerCall is every attempt the clients made (locally refused ones included) per call,
// over the services.
func (s Summary) AttemptsPerCall() float64 {
	return s.ratio(func(v Service) int { return v.Attempts })
}

// ReachedPerCall is the attempts that reached the stubs per call, over the services: the load
// the services saw.
func (s Summary) ReachedPerCall() float64 {
	return s.ratio(func(v Service) int { return v.Reached })
}

func (s Summary) ratio(num func(Service) int) float64 {
	calls, n := 0, 0
	for _, v := range s.Services {
		calls += v.Calls
		n += num(v)
	}
	if calls == 0 {
		return 0
	}
	return float64(n) / float64(calls)
}

// Orchestrator is a built orchestrator binary in a temporary directory.
type Orchestrator struct {
	dir, bin string
}

// Build builds ./examples/orchestrator of the repository at repo into a temporary directory.
// Close removes it.
func Build(repo string) (*Orchestrator, error) {
	dir, err := os.MkdirTemp("", "bulwark-orchestrator")
	if err != nil {
		return nil, err
	}
	o := &Orchestrator{dir: dir, bin: filepath.Join(dir, "orchestrator")}
	build := exec.Command("go", "build", "-o", o.bin, "./examples/orchestrator")
	build.Dir, build.Stderr = repo, os.Stderr
	if err := build.Run(); err != nil {
		o.Close()
		return nil, fmt.Errorf("building the orchestrator: %w", err)
	}
	return o, nil
}

// Close removes the binary and the files WriteConfig wrote.
func (o *Orchestrator) Close() { _ = os.RemoveAll(o.dir) }

// WriteConfig writes a -config file named name next to the binary and returns its path.
func (o *Orchestrator) WriteConfig(name, yaml string) (string, error) {
	path := filepath.Join(o.dir, name)
	return path, os.WriteFile(path, []byte(yaml), 0o600)
}

// Run runs the orchestrator with -json and args and decodes its summary.
func (o *Orchestrator) Run(args ...string) (Summary, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(o.bin, append([]string{"-json"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Summary{}, fmt.Errorf("orchestrator %s: %w: %s", strings.Join(args, " "), err, lastLine(stderr.String()))
	}
	var s Summary
	if err := json.Unmarshal(out, &s); err != nil {
		return Summary{}, fmt.Errorf("orchestrator %s: %w", strings.Join(args, " "), err)
	}
	return s, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
