package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/internal/interrupt"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) {
	// TestSecondSIGINTExitsAtOnce runs this test binary as the command itself.
	if args, ok := os.LookupEnv("MLSTUB_TEST_MAIN"); ok {
		os.Args = append([]string{"mlstub"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// TestSecondSIGINTExitsAtOnce: the first SIGINT starts a graceful stop that waits for the
// request in service (here up to the 1m stop timeout); a second one was swallowed, so Ctrl-C
// could not cut a stop short. It now exits at once with status 130.
func TestSecondSIGINTExitsAtOnce(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MLSTUB_TEST_MAIN=-listen 127.0.0.1:0 -services ocr -latency 1m -stop-timeout 1m")
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed once cmd has exited and cmd.ProcessState is set
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	re := regexp.MustCompile(`"addr": "([^"]+)"`)
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no started line:\n%s", stderr.String())
		}
	}
	// The request is in service once its message is written: the server reads it before the
	// acknowledgement of the ping that a graceful stop waits for, so the stop waits for it.
	sent := &sentHandler{sent: make(chan struct{})}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithStatsHandler(sent))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	called := make(chan struct{})
	go func() {
		defer close(called)
		_, _ = kycv1.NewOCRServiceClient(conn).Extract(ctx, &kycv1.ExtractRequest{DocumentImage: stub.DocumentImage(1, false)})
	}()
	select {
	case <-sent.sent:
	case <-time.After(30 * time.Second):
		t.Fatalf("the request was not sent within 30s:\n%s", stderr.String())
	}
	_ = cmd.Process.Signal(os.Interrupt)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "mlstub stopping"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no stopping line after the first SIGINT:\n%s", stderr.String())
		}
	}
	select {
	case <-exited:
		t.Fatalf("exited (%v) after the first SIGINT with a request in service\n%s", cmd.ProcessState, stderr.String())
	default:
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after a second SIGINT:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != interrupt.ExitCode {
		t.Errorf("exit status %d after a second SIGINT, want %d\n%s", code, interrupt.ExitCode, stderr.String())
	}
	cancel()
	<-called
}

// sentHandler closes sent once the client has written a request's message.
type sentHandler struct {
	once sync.Once
	sent chan struct{}
}

func (h *sentHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (h *sentHandler) HandleRPC(_ context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.OutPayload); ok {
		h.once.Do(func() { close(h.sent) })
	}
}
func (h *sentHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (h *sentHandler) HandleConn(context.Context, stats.ConnStats)                       {}

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestParseFlags(t *testing.T) {
	cfg, verbose, err := parseFlags([]string{
		"-listen", "127.0.0.1:50051", "-metrics", "127.0.0.1:9464", "-services", "liveness,ocr",
		"-fail", "unavailable=0.2,deadline_exceeded=0.05", "-latency", "20ms", "-spike-rate", "0.05", "-spike", "2s",
		"-pushback", "500ms", "-outage-after", "1m", "-outage-for", "10s", "-seed", "9", "-stop-timeout", "1s", "-v",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := stub.Config{
		Listen:        "127.0.0.1:50051",
		MetricsListen: "127.0.0.1:9464",
		Services:      []string{"liveness", "ocr"},
		Faults: stub.Faults{
			Fail:      map[grpccodes.Code]float64{grpccodes.Unavailable: 0.2, grpccodes.DeadlineExceeded: 0.05},
			Latency:   20 * time.Millisecond,
			SpikeRate: 0.05,
			Spike:     2 * time.Second,
			Pushback:  500 * time.Millisecond,
		},
		Outage:      stub.OutageWindow{After: time.Minute, For: 10 * time.Second},
		Seed:        9,
		StopTimeout: time.Second,
	}
	if !configEqual(cfg, want) || !verbose {
		t.Errorf("parseFlags = %+v, %v\nwant %+v, true", cfg, verbose, want)
	}

	defaults, verbose, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	wantDefaults := stub.Config{Listen: "127.0.0.1:50051", Services: stub.AllServices(), Seed: 1, StopTimeout: 5 * time.Second}
	if !configEqual(defaults, wantDefaults) || verbose {
		t.Errorf("defaults = %+v, %v\nwant %+v, false", defaults, verbose, wantDefaults)
	}
}

func configEqual(a, b stub.Config) bool { return reflect.DeepEqual(a, b) }

func TestParseFlagsErrors(t *testing.T) {
	tests := []struct {
		args       []string
		wantStderr string
	}{
		{[]string{"-fail", "bogus=0.1"}, `invalid value "bogus=0.1" for flag -fail: fail spec entry "bogus=0.1": unknown code "bogus" (want a gRPC code in snake_case, such as unavailable or deadline_exceeded)`},
		{[]string{"-fail", "unavailable=1.5"}, `invalid value "unavailable=1.5" for flag -fail: fail spec entry "unavailable=1.5": rate 1.5 is outside [0,1]`},
		{[]string{"-services", "ocr,kyc"}, `invalid value "ocr,kyc" for flag -services: unknown service "kyc" (want one of liveness, facematch, ocr)`},
		// A value flag cannot parse says what the flag wants, not flag's bare "parse error".
		{[]string{"-latency", "soon"}, `invalid value "soon" for flag -latency: want a duration with a unit, such as 300ms, 2s or 1m30s`},
		{[]string{"-outage-for", "5"}, `invalid value "5" for flag -outage-for: want a duration with a unit, such as 300ms, 2s or 1m30s`},
		{[]string{"-seed", "x"}, `invalid value "x" for flag -seed: want a whole number`},
		{[]string{"-spike-rate", "often"}, `invalid value "often" for flag -spike-rate: want a number`},
		{[]string{"-v=maybe"}, `invalid boolean value "maybe" for -v: want true or false`},
		// Values each flag parses but the stub refuses are named by their flag, as the user
		// wrote it, not by the configuration's field.
		{[]string{"-spike-rate", "2"}, `-spike-rate 2 is outside [0,1]`},
		{[]string{"-latency", "-1s"}, `-latency -1s is negative`},
		{[]string{"-spike", "-1s"}, `-spike -1s is negative`},
		{[]string{"-pushback", "-1s"}, `-pushback -1s is negative`},
		{[]string{"-capacity", "-3"}, `-capacity -3 is negative`},
		{[]string{"-outage-after", "-1m", "-outage-for", "1m"}, `-outage-after -1m0s is negative`},
		{[]string{"-outage-for", "-1m"}, `-outage-for -1m0s is negative`},
		{[]string{"-outage-after", "1m"}, `-outage-after needs -outage-for`},
		{[]string{"-stop-timeout", "-1s"}, `-stop-timeout -1s is negative`},
		// 0 is the stub's "default": it stopped within 5s, not at once, as the flag's 0 read.
		{[]string{"-stop-timeout", "0"}, `-stop-timeout 0s is not positive`},
		{[]string{"-tls-cert", "cert.pem"}, `-tls-cert and -tls-key go together`},
		// An address without a port, or with one that is none: it was found only when
		// listening failed, exit status 1 as for an address in use.
		{[]string{"-listen", "nonsense"}, `-listen "nonsense": want HOST:PORT`},
		{[]string{"-listen", "127.0.0.1:99999"}, `-listen "127.0.0.1:99999": want HOST:PORT`},
		{[]string{"-metrics", "127.0.0.1"}, `-metrics "127.0.0.1": want HOST:PORT`},
		{[]string{"-nope"}, `flag provided but not defined: -nope`},
		{[]string{"extra"}, `unexpected arguments: extra`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stderr, nil)
			if !errors.Is(err, errUsage) {
				t.Fatalf("run(%q) = %v, want a usage error", tt.args, err)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, stderr.String())
			}
			// As the README says: one line naming the entry, after the command's name, then
			// the hint.
			if first, _, _ := strings.Cut(stderr.String(), "\n"); !strings.HasPrefix(first, "mlstub: ") || !strings.Contains(first, tt.wantStderr) {
				t.Errorf("first line %q, want %q after \"mlstub: \"", first, tt.wantStderr)
			}
			if !strings.Contains(stderr.String(), "Run 'mlstub -h' for the flags.") {
				t.Errorf("stderr lacks the hint to run mlstub -h:\n%s", stderr.String())
			}
			// One line and a hint, not the whole usage (issue 19 item 7).
			if n := strings.Count(stderr.String(), "\n"); n > 2 || strings.Contains(stderr.String(), "-spike-rate float") {
				t.Errorf("%d lines on stderr, want the error and a hint:\n%s", n, stderr.String())
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &stderr, nil); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run -h = %v, want flag.ErrHelp", err)
	}
	for _, name := range []string{"-fail", "-latency", "-spike-rate", "-spike", "-outage-after", "-outage-for", "-pushback", "-seed", "-services", "-metrics", "-listen"} {
		if !strings.Contains(stderr.String(), "  "+name+" ") && !strings.Contains(stderr.String(), "  "+name+"\n") {
			t.Errorf("usage lacks %s", name)
		}
	}
}

func TestRunServesAndStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan *stub.Stub, 1)
	errc := make(chan error, 1)
	stderr := &lockedBuffer{}
	go func() {
		errc <- run(ctx, []string{"-listen", "127.0.0.1:0", "-metrics", "127.0.0.1:0", "-services", "ocr",
			"-fail", "unavailable=1", "-v"}, stderr, func(s *stub.Stub) { started <- s })
	}()
	var s *stub.Stub
	select {
	case s = <-started:
	case err := <-errc:
		t.Fatalf("run ended before serving: %v", err)
	}

	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = kycv1.NewOCRServiceClient(conn).Extract(context.Background(), &kycv1.ExtractRequest{DocumentImage: stub.DocumentImage(1, false)})
	if status.Code(err) != grpccodes.Unavailable {
		t.Errorf("Extract with -fail unavailable=1: %v", err)
	}
	_ = conn.Close()

	resp, err := http.Get("http://" + s.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if line := `mlstub_requests_total{code="Unavailable",method="/kyc.v1.OCRService/Extract"} 1`; !strings.Contains(string(body), line) {
		t.Errorf("scrape lacks %s:\n%s", line, body)
	}

	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
	logs := stderr.String()
	for _, want := range []string{"mlstub started", "method", "/kyc.v1.OCRService/Extract", "Unavailable", "mlstub stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestRunFailsOnBusyAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan *stub.Stub, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-listen", "127.0.0.1:0"}, io.Discard, func(s *stub.Stub) { started <- s })
	}()
	s := <-started
	err := run(context.Background(), []string{"-listen", s.Addr()}, io.Discard, nil)
	if err == nil || errors.Is(err, errUsage) {
		t.Errorf("run on a busy address = %v, want a listen error", err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestREADMEListsEveryFlag: the README's flag table names every flag -h prints.
func TestREADMEListsEveryFlag(t *testing.T) {
	var stderr bytes.Buffer
	_ = run(context.Background(), []string{"-h"}, &stderr, nil)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	flags := regexp.MustCompile(`(?m)^  (-[a-z-]+)`).FindAllStringSubmatch(stderr.String(), -1)
	if len(flags) < 10 {
		t.Fatalf("only %d flags in -h:\n%s", len(flags), stderr.String())
	}
	for _, m := range flags {
		if !regexp.MustCompile("`" + m[1] + "[ `,]").Match(readme) {
			t.Errorf("README.md does not list %s", m[1])
		}
	}
}

// TestListenErrorNamesFlag: an address that cannot be listened on is named by its flag. Both
// -listen and -metrics failed with the same bare "listen tcp: address ...", which did not say
// which of the two was wrong.
func TestListenErrorNamesFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		flag string
	}{
		// 192.0.2.1 (TEST-NET-1) is no address of this host: a well-formed address that
		// cannot be listened on. One without a port is a usage error (TestParseFlagsErrors).
		{[]string{"-listen", "192.0.2.1:0"}, "-listen"},
		{[]string{"-listen", "127.0.0.1:0", "-metrics", "192.0.2.1:0"}, "-metrics"},
	} {
		err := run(context.Background(), tt.args, io.Discard, nil)
		if err == nil || errors.Is(err, errUsage) || !strings.HasPrefix(err.Error(), tt.flag+" 192.0.2.1:0: ") {
			t.Errorf("run %v = %v, want a listen error starting %q", tt.args, err, tt.flag+" 192.0.2.1:0: ")
		}
	}
}
