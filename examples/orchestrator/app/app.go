// Package app is the orchestrator command: flags, wiring of the bulwark suite, embedded stubs,
// batch and server modes. The command's main only calls Run, so tests run the whole command
// in-process.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// ErrUsage marks a command-line error, already reported on stderr; the command exits 2.
var ErrUsage = errors.New("usage error")

// flags are the parsed command line.
type flags struct {
	configPath string
	scPath     string // -service-config: a gRPC service config JSON, in place of -config
	explain    bool
	logLevel   zapcore.Level
	metrics    string
	jsonOut    bool
	serve      string
	stopAfter  time.Duration

	addrs map[string]string // stub service name → external address

	batch  kyc.Batch
	faults stub.Faults
	seed   int64
	trace  string         // -trace: see tracing.go
	tls    tlsflags.Flags // -tls-cert, -tls-key, -tls-ca: see tls.go
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	fs := flag.NewFlagSet("orchestrator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mild := stub.DefaultMildFaults()
	f := &flags{addrs: map[string]string{}, faults: mild, logLevel: zapcore.WarnLevel}
	fs.StringVar(&f.configPath, "config", "", "policy configuration `file` (YAML, merged over the built-in profiles; default: built-ins only)")
	fs.BoolVar(&f.explain, "explain", false, "print the resolved policies and their worst-case timelines, then exit")
	fs.Var(&f.logLevel, "log-level", "log `level` on stderr: debug, info, warn, error")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus /metrics on this `address` (default: off)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the batch summary as one JSON object")
	fs.StringVar(&f.serve, "serve", "", "serve kyc.v1.KYCService (with health and reflection) on this `address` instead of running a batch")
	fs.DurationVar(&f.stopAfter, "stop-timeout", 5*time.Second, "in -serve mode, how long a graceful stop may take before calls are cut")
	for _, svc := range stub.AllServices() {
		fs.Func(svc, "`address` of an external "+svc+" service (default: an embedded stub)", func(v string) error {
			if v == "" {
				return errors.New("empty address")
			}
			f.addrs[svc] = v
			return nil
		})
	}
	fs.IntVar(&f.batch.N, "n", 200, "verifications in the batch")
	fs.IntVar(&f.batch.Concurrency, "concurrency", 16, "verifications in flight at once")
	fs.Float64Var(&f.batch.UnreadableRate, "unreadable-rate", 0.05, "share of applicants with an unreadable document")
	fs.Float64Var(&f.batch.SpoofRate, "spoof-rate", 0.02, "share of applicants failing liveness (spoofs)")
	fs.Float64Var(&f.batch.MismatchRate, "mismatch-rate", 0.02, "share of applicants whose selfie does not match the document")
	fs.Float64Var(&f.batch.ExpiredRate, "expired-rate", 0.01, "share of applicants with an expired document")
	fs.Func("fail", "embedded stubs: error rate per gRPC code, `CODE=RATE[,...]` in snake_case (default \""+stub.FormatFailSpec(mild.Fail)+"\")", func(v string) error {
		m, err := stub.ParseFailSpec(v)
		f.faults.Fail = m
		return err
	})
	fs.DurationVar(&f.faults.Latency, "latency", mild.Latency, "embedded stubs: latency added to every request")
	fs.Float64Var(&f.faults.SpikeRate, "spike-rate", mild.SpikeRate, "embedded stubs: fraction of requests delayed by -spike")
	fs.DurationVar(&f.faults.Spike, "spike", mild.Spike, "embedded stubs: extra delay of a latency spike")
	fs.DurationVar(&f.faults.Pushback, "pushback", mild.Pushback, "embedded stubs: RetryInfo delay of injected resource_exhausted errors")
	fs.IntVar(&f.faults.Capacity, "capacity", 0, "embedded stubs: requests served at full speed; past it latency grows in proportion to requests in service (0: no limit)")
	fs.Int64Var(&f.seed, "seed", 1, "seed of the embedded stubs' faults and of the batch's applicants")
	fs.StringVar(&f.trace, "trace", "", traceUsage)
	f.tls.Register(fs)
	fs.StringVar(&f.scPath, "service-config", "", "gRPC service config `file` (JSON: methodConfig, retryThrottling) converted to bulwark profiles, in place of -config")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	problem := ""
	switch {
	case fs.NArg() > 0:
		problem = "unexpected arguments: " + strings.Join(fs.Args(), " ")
	case f.batch.N < 0:
		problem = fmt.Sprintf("-n %d is negative", f.batch.N)
	case f.batch.Concurrency < 1:
		problem = fmt.Sprintf("-concurrency %d is below 1", f.batch.Concurrency)
	case !rate(f.batch.UnreadableRate) || !rate(f.batch.SpoofRate) || !rate(f.batch.MismatchRate) || !rate(f.batch.ExpiredRate):
		problem = "case rates must lie in [0,1]"
	case f.batch.UnreadableRate+f.batch.SpoofRate+f.batch.MismatchRate+f.batch.ExpiredRate > 1+1e-9:
		problem = "case rates add up to more than 1"
	}
	if problem == "" {
		if err := f.faults.Validate(); err != nil {
			problem = err.Error()
		}
	}
	if problem != "" {
		fmt.Fprintln(stderr, "orchestrator:", problem)
		return nil, fmt.Errorf("%w: %s", ErrUsage, problem)
	}
	f.batch.Seed = f.seed
	return f, nil
}

func rate(r float64) bool { return r >= 0 && r <= 1 }

// Run runs the orchestrator command with args (without the program name). It writes results
// on stdout and logs, warnings and progress on stderr. It returns flag.ErrHelp for -h, an
// error wrapping ErrUsage for a bad command line, and nil after a batch, however many
// verifications failed.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, warnings, err := loadConfig(f.configPath)
	if f.scPath != "" && err == nil {
		cfg, warnings, err = importServiceConfig(f.scPath, stderr)
	}
	if err != nil {
		return err
	}
	tlsc, err := setupTLS(f, cfg)
	if err != nil {
		return err
	}
	if f.explain {
		return config.Explain(stdout, cfg)
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "orchestrator: warning:", oneLine(w.String()))
	}

	log := zap.New(zapcore.NewCore(
		zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.Lock(zapcore.AddSync(stderr)), f.logLevel))
	defer func() { _ = log.Sync() }()

	reg := prometheus.NewRegistry()
	metrics, err := promobs.New(reg)
	if err != nil {
		return err
	}
	counters := kyc.NewCounters()
	tr, err := startTracing(ctx, f.trace, stderr)
	if err != nil {
		return err
	}
	defer tr.shutdown()
	observers := observe.Multi(metrics, zapobs.New(log), counters)
	if tr != nil {
		observers = observe.Multi(observers, tr.tracer)
	}
	// A registry of our own: breaker.DefaultRegistry would hand a second Run in the same
	// process (a test) the breakers of the first, still reporting to the first one's sinks.
	suite, err := interceptors.New(cfg,
		interceptors.WithObserver(observers),
		interceptors.WithBreakerRegistry(new(breaker.Registry)))
	if err != nil {
		return err
	}
	defer func() { _ = suite.Close() }()
	suite.Breakers().Each(func(name string, b *breaker.Breaker) {
		metrics.TrackBreaker(name, func() string { return b.State().String() })
	})
	for name, b := range suite.Bulkheads() {
		metrics.TrackBulkhead(name, b)
	}
	for name, t := range suite.Throttles() {
		metrics.TrackThrottle(name, t.Probability)
	}

	if f.metrics != "" {
		stopMetrics, err := serveMetrics(ctx, f.metrics, reg, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	addrs, stopStubs, err := startStubs(ctx, f, log)
	if err != nil {
		return err
	}
	defer stopStubs()

	conns := map[string]*grpc.ClientConn{}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	dial := func(addr string) (*grpc.ClientConn, error) {
		if c, ok := conns[addr]; ok {
			return c, nil
		}
		opts := append(append(append(slices.Clip(tlsc.creds), tr.dialOptions()...), suite.DialOptions()...), tlsc.inner...)
		c, err := grpc.NewClient(addr, opts...)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		conns[addr] = c
		return c, nil
	}
	var cc [3]*grpc.ClientConn
	for i, svc := range stub.AllServices() {
		if cc[i], err = dial(addrs[svc]); err != nil {
			return err
		}
	}
	v := kyc.NewVerifier(cc[0], cc[1], cc[2])
	v.Budget = cfg.Budget

	if f.serve != "" {
		return serve(ctx, f, v, stderr, log, tlsc.server...)
	}
	return runBatch(ctx, f, v, counters, stdout, stderr)
}

// loadConfig reads the configuration file, or takes the built-ins.
func loadConfig(path string) (*config.Config, []config.Warning, error) {
	if path == "" {
		cfg := config.Builtin()
		return cfg, cfg.Warnings(), nil
	}
	return config.Load(path)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// startStubs starts one embedded stub serving the services that have no external address,
// and returns the address of each service.
func startStubs(ctx context.Context, f *flags, log *zap.Logger) (map[string]string, func(), error) {
	addrs := map[string]string{}
	var embedded []string
	for _, svc := range stub.AllServices() {
		if a, ok := f.addrs[svc]; ok {
			addrs[svc] = a
		} else {
			embedded = append(embedded, svc)
		}
	}
	if len(embedded) == 0 {
		return addrs, func() {}, nil
	}
	s, err := stub.Start(ctx, stub.Config{
		Listen: "127.0.0.1:0", Services: embedded, Faults: f.faults, Seed: f.seed, StopTimeout: time.Second,
	}, stub.WithLogger(log.Named("mlstub")))
	if err != nil {
		return nil, nil, fmt.Errorf("embedded stubs: %w", err)
	}
	for _, svc := range embedded {
		addrs[svc] = s.Addr()
	}
	return addrs, s.Stop, nil
}

func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *zap.Logger) (func(), error) {
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", zap.Error(err))
		}
	}()
	log.Info("metrics", zap.String("addr", lis.Addr().String()))
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}

// runBatch runs the batch and prints its summary.
func runBatch(ctx context.Context, f *flags, v *kyc.Verifier, counters *kyc.Counters, stdout, stderr io.Writer) error {
	b := f.batch
	bar := newProgress(stderr)
	if bar != nil {
		b.Progress = bar.update
	}
	start := time.Now()
	resps := b.Run(ctx, v)
	elapsed := time.Since(start)
	if bar != nil {
		bar.finish()
	}
	sum := kyc.Summarize(resps, elapsed, counters)
	if f.jsonOut {
		return sum.WriteJSON(stdout)
	}
	return sum.WriteTable(stdout)
}

// serve serves KYCService until ctx is done, then stops gracefully.
func serve(ctx context.Context, f *flags, v *kyc.Verifier, stderr io.Writer, log *zap.Logger, opts ...grpc.ServerOption) error {
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", f.serve)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv := grpc.NewServer(opts...)
	kycv1.RegisterKYCServiceServer(srv, v)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(kycv1.KYCService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	fmt.Fprintf(stderr, "orchestrator: serving %s on %s\n", kycv1.KYCService_ServiceDesc.ServiceName, lis.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	hs.Shutdown()
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	t := time.NewTimer(f.stopAfter)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		log.Warn("graceful stop timed out; cutting calls")
		srv.Stop()
		<-stopped
	}
	// Serve returns nil after GracefulStop or Stop; anything else is a real failure.
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// progress draws a progress bar on a terminal.
type progress struct {
	w    io.Writer
	mu   sync.Mutex
	last time.Time
}

// newProgress returns a bar drawing on w when w is a terminal, else nil.
func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progress{w: w}
}

func (p *progress) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if done < total && now.Sub(p.last) < 50*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), done, total)
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K")
}
