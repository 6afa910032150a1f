package app

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
)

// runOutage runs a quiet -json batch with args and returns its stderr and the summary's
// "outage" object.
func runOutage(t *testing.T, args ...string) (string, map[string]any) {
	t.Helper()
	quiet := []string{"-latency", "0s", "-spike-rate", "0", "-fail", "", "-log-digest", "0", "-json"}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), append(quiet, args...), &stdout, &stderr); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, stderr.String())
	}
	var sum map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not the summary: %v\n%s", err, stdout.String())
	}
	o, _ := sum["outage"].(map[string]any)
	return stderr.String(), o
}

// refused is the summary's count of the requests the outage refused at svc, -1 when absent.
func refused(o map[string]any, svc string) float64 {
	r, _ := o["refused"].(map[string]any)
	n, ok := r[svc].(float64)
	if !ok {
		return -1
	}
	return n
}

const unmetWarning = "orchestrator: warning: the -outage started "

// TestOutageThatMetNoCallIsNamed: an -outage of OCR that starts once the batch's OCR calls
// have ended, while a slow liveness step keeps the batch running, logged "outage started" and
// left a summary with no failure that read as one that had ridden the outage out. The
// summary now counts the requests the outage refused at each stub (none here), and stderr
// says that the run tested no outage of OCR.
func TestOutageThatMetNoCallIsNamed(t *testing.T) {
	// Liveness external and slow: its answer comes 2.5s after the batch starts, long after
	// OCR has answered (in milliseconds; the outage's 1s leaves a busy machine a margin) and
	// the outage, at 1s, has started.
	slow, err := stub.Start(context.Background(), stub.Config{Listen: "127.0.0.1:0", Services: []string{stub.ServiceLiveness},
		Faults: stub.Faults{Latency: 2500 * time.Millisecond}, StopTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Stop()
	stderr, o := runOutage(t, "-n", "1", "-liveness", slow.Addr(), "-outage", "1m", "-outage-at", "1s", "-outage-service", "ocr")
	if !strings.Contains(stderr, "outage started") {
		t.Fatalf("the outage did not start during the batch:\n%s", stderr)
	}
	want := "1s into the batch, but no request to ocr met it (its stub refused none): the batch ended after "
	if i := strings.Index(stderr, unmetWarning); i < 0 || !strings.Contains(stderr[i:], want) {
		t.Errorf("stderr of a batch whose outage met no call:\n%s\nwant a line %q...%q", stderr, unmetWarning, want)
	}
	if o == nil || o["started"] != true || refused(o, "ocr") != 0 {
		t.Errorf("summary's outage %v, want started, ocr refused 0", o)
	}
}

// TestOutageOfAServiceNeverCalledIsNamed: an outage in force from the start of a batch that
// calls no service (-n 0) met no call, and says so (of two services, "their stubs", not "its
// stub"); one that refused requests says how many, and gets no warning.
func TestOutageOfAServiceNeverCalledIsNamed(t *testing.T) {
	stderr, o := runOutage(t, "-n", "0", "-outage", "1m", "-outage-service", "ocr,facematch")
	want := "0s into the batch, but no request to ocr, facematch met it (their stubs refused none)"
	if i := strings.Index(stderr, unmetWarning); i < 0 || !strings.Contains(stderr[i:], want) {
		t.Errorf("stderr of a batch that called no service:\n%s\nwant a line %q...%q", stderr, unmetWarning, want)
	}
	if o == nil || refused(o, "ocr") != 0 || refused(o, "facematch") != 0 {
		t.Errorf("summary's outage %v, want ocr and facematch refused 0", o)
	}

	stderr, o = runOutage(t, "-n", "2", "-outage", "1m", "-outage-service", "ocr")
	if strings.Contains(stderr, unmetWarning) {
		t.Errorf("stderr of a batch whose outage refused calls:\n%s\nwant no warning that it met none", stderr)
	}
	if n := refused(o, "ocr"); n < 2 {
		t.Errorf("summary's outage %v: ocr refused %v, want at least 2 (one per verification)", o, n)
	}
}
