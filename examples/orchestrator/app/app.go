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
	"io/fs"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/examples/internal/flagrule"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"github.com/bulwarkrpc/bulwark/examples/orchestrator/kyc"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit/redislimit"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/bulwarkrpc/bulwark/observe/promobs"
	"github.com/bulwarkrpc/bulwark/observe/zapobs"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// ErrInterrupted is returned after a batch that ctx cut short, once its (partial) summary is
// printed; the command exits 130.
var ErrInterrupted = errors.New("batch interrupted")

// ErrUsage marks a command-line error, already reported on stderr; the command exits 2.
var ErrUsage = errors.New("usage error")

// MaxBatch bounds -n: a batch holds every response until its summary (measured: about 2 kB
// of resident memory per verification against the embedded stubs), so a million stays near
// 2 GB, where a mistyped -n ran the process out of memory.
const MaxBatch = 1_000_000

// flags are the parsed command line.
type flags struct {
	configPath string
	external   []string // services the config may name that the binary does not link
	scPath     string   // -service-config: a gRPC service config JSON, in place of -config
	explain    bool
	logLevel   zapcore.Level
	metrics    string
	linger     time.Duration
	digest     time.Duration
	jsonOut    bool
	serve      string
	stopAfter  time.Duration

	addrs map[string]string // stub service name → external address

	batch  kyc.Batch
	faults stub.Faults
	seed   int64

	// outage: the embedded stubs of outageServices fail every call for outageFor, starting
	// outageAt after the batch (or the server) starts.
	outageFor, outageAt time.Duration
	outageServices      []string
	trace               string         // -trace: see tracing.go
	tls                 tlsflags.Flags // -tls-cert, -tls-key, -tls-ca: see tls.go
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	fs := flag.NewFlagSet("orchestrator", flag.ContinueOnError)
	// A bad flag gets one line and a hint, not the whole usage: the flag set writes nowhere,
	// and -h prints the usage below.
	fs.SetOutput(io.Discard)
	mild := stub.DefaultMildFaults()
	f := &flags{addrs: map[string]string{}, faults: mild, logLevel: zapcore.WarnLevel}
	fs.StringVar(&f.configPath, "config", "", "policy configuration `file` (YAML, merged over the built-in profiles; default: built-ins only)")
	fs.Func("external-service", "comma-separated full gRPC `names` of services the -config or -service-config may configure although this binary does not link their descriptors (other names are checked)", func(v string) error {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				f.external = append(f.external, name)
			}
		}
		return nil
	})
	fs.BoolVar(&f.explain, "explain", false, "print the resolved policies and their worst-case timelines, and the run the other flags would make (batch, deadlines, stub faults, outage), then exit")
	fs.Var(levelFlag{&f.logLevel}, "log-level", "log `level` on stderr: debug, info, warn, error")
	fs.DurationVar(&f.digest, "log-digest", 5*time.Second, "how often a warn line sums up each service's retries, local rejections, breaker openings and hedges since the last one, when there were some (0: never)")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus /metrics on this `address` (default: off)")
	fs.DurationVar(&f.linger, "metrics-linger", 0, "after a batch, keep -metrics up this long for a last scrape (Ctrl-C ends it early)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the batch summary as one JSON object")
	fs.StringVar(&f.serve, "serve", "", "serve kyc.v1.KYCService (with health and reflection) on this `address` instead of running a batch")
	fs.DurationVar(&f.stopAfter, "stop-timeout", 5*time.Second, "in -serve mode, how long a graceful stop may take before calls are cut")
	for _, svc := range stub.AllServices() {
		fs.Func(svc, "`address` of an external "+svc+" service (default: an embedded stub)", func(v string) error {
			if v == "" {
				return errors.New("empty address: " + flagrule.RuleDial + ", or a gRPC target such as dns:///host:port")
			}
			if problem := flagrule.DialPortProblem(v); problem != "" {
				return errors.New(problem)
			}
			f.addrs[svc] = v
			return nil
		})
	}
	flagrule.IntVar(fs, &f.batch.N, "n", 200, fmt.Sprintf("`number` of verifications in the batch (at most %d)", MaxBatch))
	flagrule.IntVar(fs, &f.batch.Concurrency, "concurrency", 16, "closed loop: `number` of verifications in flight at once (each starts the next when it ends)")
	fs.Float64Var(&f.batch.Rate, "rate", 0, "open loop: start this many verifications per second, -n in all, whether or not earlier ones ended (0: closed loop)")
	flagrule.IntVar(fs, &f.batch.MaxInFlight, "max-in-flight", 0, "open loop: `number` of verifications running at once past which an arrival is shed (0: rate × budget × 1.25)")
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
	flagrule.IntVar(fs, &f.faults.Capacity, "capacity", 0, "embedded stubs: `number` of requests served at full speed; past it latency grows in proportion to requests in service (0: no limit)")
	fs.DurationVar(&f.outageFor, "outage", 0, "embedded stubs: a full outage (every call Unavailable) this long (0: none)")
	fs.DurationVar(&f.outageAt, "outage-at", 0, "embedded stubs: start of the -outage, counted from the start of the batch or server")
	fs.Func("outage-service", "embedded stubs: `list` of services the -outage hits, liveness,facematch,ocr (default all)", func(v string) error {
		s, err := stub.ParseServices(v)
		f.outageServices = s
		return err
	})
	flagrule.Int64Var(fs, &f.seed, "seed", 1, "`seed` of the embedded stubs' faults and of the batch's applicants")
	fs.StringVar(&f.trace, "trace", "", traceUsage)
	f.tls.Register(fs)
	fs.StringVar(&f.scPath, "service-config", "", "gRPC service config `file` (JSON: methodConfig, retryThrottling) converted to bulwark profiles, in place of -config")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "Usage of orchestrator:")
			fs.PrintDefaults()
			return nil, err
		}
		err = flagrule.Explain(fs, err) // "parse error" says which rule
		fmt.Fprintf(stderr, "orchestrator: %v\nRun 'orchestrator -h' for the flags.\n", err)
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	outageExternal := "" // a service -outage-service names that has an external address
	for _, svc := range f.outageServices {
		if _, external := f.addrs[svc]; external && outageExternal == "" {
			outageExternal = svc
		}
	}
	stubFlag := "" // a flag that shapes the embedded stubs, when none will run
	if len(f.addrs) == len(stub.AllServices()) {
		for _, name := range []string{"fail", "latency", "spike-rate", "spike", "pushback", "capacity"} {
			if set[name] {
				stubFlag = name
				break
			}
		}
	}
	modeFlag := "" // a flag that the other mode (batch or -serve) alone reads
	if f.serve != "" {
		for _, name := range batchFlags {
			if set[name] {
				modeFlag = name
				break
			}
		}
	}
	problem := ""
	switch {
	case modeFlag != "":
		problem = "-" + modeFlag + " shapes a batch, and -serve runs none"
	case f.serve == "" && set["stop-timeout"]:
		problem = "-stop-timeout is the graceful stop of -serve; a batch does not read it"
	case stubFlag != "":
		problem = "-" + stubFlag + " shapes the embedded stubs only, and every service has an external address (use mlstub's flags there)"
	case outageExternal != "":
		problem = outageExternalProblem(f, outageExternal)
	case fs.NArg() > 0:
		problem = "unexpected arguments: " + strings.Join(fs.Args(), " ")
	case f.batch.N < 0:
		problem = fmt.Sprintf("-n %d is negative", f.batch.N)
	case f.batch.N > MaxBatch:
		problem = fmt.Sprintf("-n %d is above %d: a batch keeps every response for its summary (for a longer run use -serve)", f.batch.N, MaxBatch)
	case f.batch.Concurrency < 1:
		problem = fmt.Sprintf("-concurrency %d is below 1", f.batch.Concurrency)
	case !(f.batch.Rate >= 0) || math.IsInf(f.batch.Rate, 0):
		problem = fmt.Sprintf("-rate %v is not a rate: want verifications per second, 0 or more", f.batch.Rate)
	case f.batch.Rate > 0 && f.batch.Rate < kyc.MinRate:
		problem = fmt.Sprintf("-rate %v is below %v: want at least one verification every %v (0: closed loop)", f.batch.Rate, kyc.MinRate, time.Duration(float64(time.Second)/kyc.MinRate))
	case f.batch.MaxInFlight < 0:
		problem = fmt.Sprintf("-max-in-flight %d is negative", f.batch.MaxInFlight)
	case f.batch.MaxInFlight > 0 && f.batch.Rate == 0:
		problem = "-max-in-flight needs -rate (a closed loop's bound is -concurrency)"
	case set["concurrency"] && f.batch.Rate > 0:
		problem = "-concurrency is the closed loop's bound; with -rate use -max-in-flight"
	case f.outageFor < 0:
		problem = fmt.Sprintf("-outage %v is negative", f.outageFor)
	case f.outageAt < 0:
		problem = fmt.Sprintf("-outage-at %v is negative", f.outageAt)
	case f.configPath != "" && f.scPath != "":
		problem = "-config and -service-config exclude each other (-service-config replaces the configuration)"
	case f.outageFor == 0 && (set["outage-at"] || set["outage-service"]):
		problem = "-outage-at and -outage-service need -outage"
	case f.digest < 0:
		problem = fmt.Sprintf("-log-digest %v is negative", f.digest)
	case f.linger < 0:
		problem = fmt.Sprintf("-metrics-linger %v is negative", f.linger)
	case f.linger > 0 && f.metrics == "":
		problem = "-metrics-linger needs -metrics"
	case f.stopAfter < 0:
		problem = fmt.Sprintf("-stop-timeout %v is negative", f.stopAfter)
	case f.serve != "" && flagrule.ListenProblem("serve", f.serve) != "":
		problem = flagrule.ListenProblem("serve", f.serve)
	case f.metrics != "" && flagrule.ListenProblem("metrics", f.metrics) != "":
		problem = flagrule.ListenProblem("metrics", f.metrics)
	case badCaseRate(f) != "":
		problem = badCaseRate(f)
	case traceProblem(f.trace) != "":
		problem = traceProblem(f.trace)
	}
	if problem == "" {
		problem = f.faults.FlagProblem()
	}
	if problem == "" {
		problem = tlsProblem(f)
	}
	if problem != "" {
		return nil, usage(stderr, problem)
	}
	f.batch.Seed = f.seed
	if f.outageFor > 0 && len(f.outageServices) == 0 {
		for _, svc := range stub.AllServices() {
			if _, external := f.addrs[svc]; !external {
				f.outageServices = append(f.outageServices, svc)
			}
		}
		if len(f.outageServices) == 0 {
			return nil, usage(stderr, "-outage needs an embedded stub, and every service has an external address")
		}
	}
	return f, nil
}

// outageExternalProblem says that -outage-service names svc, which has an external address,
// and which services an outage can take down: those of the embedded stubs.
func outageExternalProblem(f *flags, svc string) string {
	var embedded []string
	for _, s := range stub.AllServices() {
		if _, external := f.addrs[s]; !external {
			embedded = append(embedded, s)
		}
	}
	can := "and every service has an external address"
	if len(embedded) > 0 {
		can = "here " + strings.Join(embedded, ", ")
	}
	return fmt.Sprintf("-outage-service %q names %s, which -%s gives an external address (%s): only embedded stubs can be taken down, %s",
		strings.Join(f.outageServices, ","), svc, svc, f.addrs[svc], can)
}

// batchFlags are the flags only a batch reads: given with -serve they would do nothing.
var batchFlags = []string{"n", "concurrency", "rate", "max-in-flight", "json", "metrics-linger",
	"unreadable-rate", "spoof-rate", "mismatch-rate", "expired-rate"}

// levelFlag is -log-level: zap's level, whose own error ("unrecognized level") does not say
// which levels there are.
type levelFlag struct{ l *zapcore.Level }

func (v levelFlag) String() string {
	if v.l == nil {
		return ""
	}
	return v.l.String()
}

func (v levelFlag) Set(s string) error {
	if s == "" || v.l.Set(s) != nil || *v.l < zapcore.DebugLevel || *v.l > zapcore.ErrorLevel {
		return errors.New("want debug, info, warn or error")
	}
	return nil
}

// tlsProblem names what is wrong with the TLS flags on the command line, or returns "": they
// go together and name files (tlsflags.Flags.Validate), TLS needs external services, the
// embedded stubs serving plaintext (see setupTLS), and -serve over TLS needs a certificate. What the files hold is setupTLS's to read.
func tlsProblem(f *flags) string {
	if err := f.tls.Validate(); err != nil {
		return err.Error()
	}
	if f.tls.Enabled() {
		for _, svc := range stub.AllServices() {
			if f.addrs[svc] == "" {
				return errTLSEmbedded.Error()
			}
		}
		if f.serve != "" && f.tls.Cert == "" {
			return "-serve with TLS needs -tls-cert and -tls-key: a TLS server presents a certificate (-tls-ca alone is TLS to the services only)"
		}
	}
	return ""
}

// usage reports problem, a bad command line, on stderr as a flag the flag set refuses is: one
// line and the hint to run orchestrator -h. It returns the error wrapping ErrUsage.
func usage(stderr io.Writer, problem string) error {
	fmt.Fprintf(stderr, "orchestrator: %s\nRun 'orchestrator -h' for the flags.\n", problem)
	return fmt.Errorf("%w: %s", ErrUsage, problem)
}

func rate(r float64) bool { return r >= 0 && r <= 1 }

// badCaseRate names the case-rate flag out of [0,1], or the sum over 1, or returns "".
func badCaseRate(f *flags) string {
	rates := []struct {
		flag string
		v    float64
	}{
		{"-unreadable-rate", f.batch.UnreadableRate}, {"-spoof-rate", f.batch.SpoofRate},
		{"-mismatch-rate", f.batch.MismatchRate}, {"-expired-rate", f.batch.ExpiredRate},
	}
	sum := 0.0
	for _, r := range rates {
		if !rate(r.v) {
			return fmt.Sprintf("%s %v is outside [0,1]", r.flag, r.v)
		}
		sum += r.v
	}
	if sum > 1+1e-9 {
		return fmt.Sprintf("-unreadable-rate + -spoof-rate + -mismatch-rate + -expired-rate = %v, more than 1", sum)
	}
	return ""
}

// Run runs the orchestrator command with args (without the program name). It writes results
// on stdout and logs, warnings and progress on stderr. It returns flag.ErrHelp for -h, an
// error wrapping ErrUsage for a bad command line, ErrInterrupted after a batch ctx cut short
// (its summary printed), and nil after a batch, however many verifications failed.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, warnings, err := loadConfig(f.configPath)
	flagName := "-config"
	if f.scPath != "" && err == nil {
		cfg, warnings, err = importServiceConfig(f.scPath, stderr)
		flagName = "-service-config"
	}
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		// The file could not be read: the flag names a file that is not there (or not a
		// file), a bad command line as much as a bad value is.
		return usage(stderr, flagName+": "+err.Error())
	}
	if err != nil {
		return err
	}
	tlsc, err := setupTLS(f, cfg)
	if err != nil {
		// The TLS flags name files that do not load (a key that is not the certificate's, a
		// CA file without a certificate): a bad command line, as an unreadable -config is,
		// and as mlstub reports the same flags.
		return usage(stderr, err.Error())
	}
	if f.configPath != "" {
		if err := cfg.CheckNames(f.configPath, linkedServices(), f.external); err != nil {
			return fmt.Errorf("%w\n(a service this binary does not link may be named with -external-service)", err)
		}
	}
	if f.scPath != "" {
		// The methodConfig names, converted into services and methods, checked as -config's.
		if err := cfg.CheckNames(f.scPath, linkedServices(), f.external); err != nil {
			return fmt.Errorf("-service-config: %w\n(a service this binary does not link may be named with -external-service)", err)
		}
	}
	if f.explain {
		if err := config.Explain(stdout, cfg); err != nil {
			return err
		}
		return explainRun(stdout, f, cfg)
	}
	showWarnings(stderr, warnings, f.configPath != "", f.logLevel)

	// On a terminal the batch draws a progress bar; logs go through it, so that a log line
	// clears the bar, prints whole, and the bar is redrawn below it.
	var bar *progress
	if f.serve == "" {
		bar = newProgress(stderr)
	}
	logOut := stderr
	if bar != nil {
		logOut = bar
	}
	log := zap.New(zapcore.NewCore(
		zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.Lock(zapcore.AddSync(logOut)), f.logLevel))
	defer func() { _ = log.Sync() }()

	reg := prometheus.NewRegistry()
	metrics, err := promobs.New(reg)
	if err != nil {
		return err
	}
	decisions, err := kyc.NewMetrics(reg)
	if err != nil {
		return err
	}
	counters := kyc.NewCounters()
	tr, err := startTracing(ctx, f.trace, stderr)
	if err != nil {
		return err
	}
	defer tr.shutdown()
	observers := observe.Multi(metrics, zapobs.New(log, quietEvents...), counters)
	if tr != nil {
		observers = observe.Multi(observers, tr.tracer)
	}
	// A registry of our own: breaker.DefaultRegistry would hand a second Run in the same
	// process (a test) the breakers of the first, still reporting to the first one's sinks.
	breakers := new(breaker.Registry)
	suite, err := interceptors.New(cfg,
		interceptors.WithObserver(observers),
		interceptors.WithBreakerRegistry(breakers),
		// A rate_limit.redis section in -config dials its own Redis client.
		interceptors.WithRemoteLimiter(redislimit.Factory(nil)))
	if err != nil {
		return err
	}
	defer func() { _ = suite.Close() }()
	// grpc keeps each attempt's deadline where nothing on the way can wait (see
	// Suite.ServiceConfig): one context and timer fewer per call.
	serviceConfig, err := suite.ServiceConfigOption("")
	if err != nil {
		return err
	}
	// Breaker states, bulkhead levels and throttle probabilities are read from the suite's
	// live objects at each scrape, so a reload or a method built on its first call shows.
	metrics.Scrape(suite)

	metricsAddr := ""
	if f.metrics != "" {
		addr, stopMetrics, err := serveMetrics(ctx, f.metrics, reg, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
		metricsAddr = addr
	}

	addrs, stubs, stopStubs, err := startStubs(ctx, f, log)
	if err != nil {
		return err
	}
	defer stopStubs()

	checkReachable(ctx, f.addrs, stderr)
	classifier := classifiers(suite)
	deps := newDepErrors(addrs, classifier, log)
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
		opts = append(opts, serviceConfig)
		opts = append(opts, deps.dialOptions()...) // innermost: sees only attempts that left the client
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
	v.Classifier = classifier

	if f.serve != "" {
		defer scheduleOutage(f, stubs, log)()
		defer startDigest(counters, f.digest, log)()
		return serve(ctx, f, kyc.NewServer(v, decisions, 0), breakers, stderr, log, tlsc.server...)
	}
	// runBatch stops the digest before the summary, so that its last line shows above it.
	stopDigest := sync.OnceFunc(startDigest(counters, f.digest, log))
	err = runBatch(ctx, f, v, stubs, stopStubs, stopDigest, counters, deps, decisions, bar, stdout, logOut, log)
	stopDigest()
	if err == nil && f.linger > 0 {
		fmt.Fprintf(stderr, "orchestrator: metrics stay up on http://%s/metrics for %v (Ctrl-C ends it)\n", metricsAddr, f.linger)
		t := time.NewTimer(f.linger)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return err
}

// loadConfig reads the configuration file, or takes the built-ins.
func loadConfig(path string) (*config.Config, []config.Warning, error) {
	if path == "" {
		cfg := config.Builtin()
		return cfg, cfg.Warnings(), nil
	}
	return config.Load(path)
}

// linkedServices lists the gRPC services whose descriptors this binary links, with their
// methods: the names a -config may use without -external-service.
func linkedServices() config.KnownNames {
	known := config.KnownNames{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		svcs := fd.Services()
		for i := range svcs.Len() {
			sd := svcs.Get(i)
			var methods []string
			for j := range sd.Methods().Len() {
				methods = append(methods, string(sd.Methods().Get(j).Name()))
			}
			known[string(sd.FullName())] = methods
		}
		return true
	})
	return known
}

// showWarnings writes the configuration's warnings on stderr, one line each. Warnings about
// the user's own file (ownFile) always show; those about the built-in profiles are the same on
// every run, so they show from level info on (-explain, which returns before, shows the same
// in its timelines).
func showWarnings(stderr io.Writer, warnings []config.Warning, ownFile bool, level zapcore.Level) {
	if !ownFile && level > zapcore.InfoLevel {
		return
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "orchestrator: warning:", oneLine(w.String()))
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// startStubs starts one embedded stub per service that has no external address (so that an
// outage can hit one service), and returns the address of each service and the stubs by service.
func startStubs(ctx context.Context, f *flags, log *zap.Logger) (map[string]string, map[string]*stub.Stub, func(), error) {
	addrs := map[string]string{}
	stubs := map[string]*stub.Stub{}
	stopAll := func() {
		var wg sync.WaitGroup
		for _, s := range stubs {
			wg.Add(1)
			go func() { defer wg.Done(); s.Stop() }()
		}
		wg.Wait()
	}
	for i, svc := range stub.AllServices() {
		if a, ok := f.addrs[svc]; ok {
			addrs[svc] = a
			continue
		}
		s, err := stub.Start(ctx, stub.Config{
			Listen: "127.0.0.1:0", Services: []string{svc}, Faults: f.faults, Seed: stubSeed(f.seed, i), StopTimeout: time.Second,
		}, stub.WithLogger(log.Named("mlstub."+svc)))
		if err != nil {
			stopAll()
			return nil, nil, nil, fmt.Errorf("embedded stubs: %w", err)
		}
		stubs[svc] = s
		addrs[svc] = s.Addr()
	}
	return addrs, stubs, stopAll, nil
}

// stubSeed is the seed of the embedded stub of the i-th of stub.AllServices in a run of seed:
// seed × the number of services + i, so that no two stubs of any two runs share a seed (with
// seed + i, the face match stub of seed 1 drew the faults of the liveness stub of seed 2, and
// runs of adjacent seeds were not independent).
func stubSeed(seed int64, i int) int64 {
	return seed*int64(len(stub.AllServices())) + int64(i)
}

// stubMethods maps a service to the method its stub counts.
var stubMethods = map[string]string{
	stub.ServiceLiveness: stub.MethodCheck, stub.ServiceFaceMatch: stub.MethodCompare, stub.ServiceOCR: stub.MethodExtract,
}

// reachedAtStubs counts, per summary key, the requests each embedded stub received.
func reachedAtStubs(stubs map[string]*stub.Stub) map[string]int64 {
	out := map[string]int64{}
	for svc, s := range stubs {
		n := 0
		for c := grpccodes.OK; c <= grpccodes.Unauthenticated; c++ {
			n += s.Requests(stubMethods[svc], c)
		}
		out[svc] = int64(n) // the stub's service names are the summary's keys
	}
	return out
}

// outageReport is the summary's account of the -outage: the requests each stub it took down
// refused, read once the stubs are stopped.
func outageReport(f *flags, stubs map[string]*stub.Stub, started bool) *kyc.OutageReport {
	o := &kyc.OutageReport{AtMs: durationMs(f.outageAt), ForMs: durationMs(f.outageFor), Started: started, Refused: map[string]int64{}}
	for _, svc := range f.outageServices {
		o.Services = append(o.Services, svc) // the stub's service names are the summary's keys
		if s := stubs[svc]; s != nil {
			o.Refused[svc] = int64(s.OutageRefused())
		}
	}
	return o
}

func durationMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// scheduleOutage starts the -outage on its stubs after -outage-at; the returned func cancels
// it if it has not started, returns once a start under way is over, and reports whether the
// outage started (false without -outage). An outage at 0 is in force when scheduleOutage
// returns, before the batch's first call: a timer's goroutine, on a busy machine, could let
// the first calls through.
func scheduleOutage(f *flags, stubs map[string]*stub.Stub, log *zap.Logger) func() bool {
	if f.outageFor <= 0 {
		return func() bool { return false }
	}
	start := func() {
		for _, svc := range f.outageServices {
			if s := stubs[svc]; s != nil {
				s.OutageFor(f.outageFor)
			}
		}
		// A state change: shown at the default level (warn), as the README says.
		log.Warn("outage started", zap.Strings("services", f.outageServices), zap.Duration("for", f.outageFor))
	}
	if f.outageAt <= 0 {
		start()
		return func() bool { return true }
	}
	// Stop waits for a start its timer already fired: else the outage could start on stubs
	// being stopped, and its line show after the batch's summary.
	started := make(chan struct{})
	t := time.AfterFunc(f.outageAt, func() { defer close(started); start() })
	return sync.OnceValue(func() bool {
		if t.Stop() {
			return false
		}
		<-started
		return true
	})
}

func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *zap.Logger) (string, func(), error) {
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("-metrics: %w", err) // named by its flag, as -config's file is
	}
	// A scrape that fails to gather (a collector's error) answers 500 and is logged; the
	// server's own errors (a client's malformed request, a failed accept) are logged too,
	// through the orchestrator's logger rather than Go's standard one.
	gatherLog, _ := zap.NewStdLogAt(log, zapcore.ErrorLevel) // fails on an invalid level only
	serverLog, _ := zap.NewStdLogAt(log, zapcore.WarnLevel)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: gatherLog}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: serverLog}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", zap.Error(err))
		}
	}()
	log.Info("metrics", zap.String("addr", lis.Addr().String()))
	return lis.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}

// runBatch runs the batch and prints its summary. It calls stopDigest before the summary: the
// digest's last line, written when it stops, would otherwise come after it.
func runBatch(ctx context.Context, f *flags, v *kyc.Verifier, stubs map[string]*stub.Stub, stopStubs, stopDigest func(), counters *kyc.Counters, deps *depErrors, decisions *kyc.Metrics, bar *progress,
	stdout, stderr io.Writer, log *zap.Logger) error {
	b := f.batch
	if b.Rate > 0 && b.MaxInFlight == 0 {
		budget := v.Budget
		if budget <= 0 {
			budget = kyc.DefaultBudget
		}
		b.MaxInFlight = kyc.DefaultInFlightLimit(b.Rate, budget)
	}
	if bar != nil {
		b.Progress = bar.update
	}
	// Counted as they end, so that a scrape of -metrics during the batch sees them.
	b.Decided = decisions.Observe
	stopOutage := scheduleOutage(f, stubs, log)
	res := b.RunResult(ctx, v)
	if res.Interrupted {
		fmt.Fprintln(stderr, "orchestrator: interrupted; in-flight verifications cancelled")
	}
	outageStarted := stopOutage()
	if !outageStarted && f.outageFor > 0 && !res.Interrupted {
		// The batch ended before -outage-at: a run that tested no outage must not read as one
		// that did.
		fmt.Fprintf(stderr, "orchestrator: warning: the batch ended after %v, before -outage-at %v: the -outage never started (-outage-at counts from the start of the batch)\n",
			res.Elapsed.Round(time.Millisecond), f.outageAt)
	}
	stopDigest()
	if bar != nil {
		bar.finish()
	}
	sum := kyc.SummarizeResult(res, counters)
	// A stub counts a request when its handler returns, which for a stream may come after the
	// client has its answer: stop them (gracefully) before reading their counts.
	stopStubs()
	sum.SetReached(reachedAtStubs(stubs), deps.sent())
	sum.SetLastErrors(deps.snapshot())
	if f.outageFor > 0 {
		sum.Outage = outageReport(f, stubs, outageStarted)
		if unmet := sum.Outage.Unmet(); outageStarted && len(unmet) > 0 {
			// Its start was logged, yet no call met it: the batch's calls to the service had
			// ended (a few slow verifications kept the batch running), or never reached it. A
			// summary with no failure must not read as one that rode out the outage.
			stubsOf := "its stub"
			if len(unmet) > 1 {
				stubsOf = "their stubs"
			}
			fmt.Fprintf(stderr, "orchestrator: warning: the -outage started %v into the batch, but no request to %s met it (%s refused none): the batch ended after %v, and this run tested no outage of %s\n",
				f.outageAt, strings.Join(unmet, ", "), stubsOf, res.Elapsed.Round(time.Millisecond), strings.Join(unmet, ", "))
		}
	}
	write := sum.WriteTable
	if f.jsonOut {
		write = sum.WriteJSON
	}
	if err := write(stdout); err != nil {
		return err
	}
	if sum.Interrupted {
		return ErrInterrupted
	}
	return nil
}

// serve serves KYCService until ctx is done, then stops gracefully.
//
// Health: "" and kyc.v1.KYCService report SERVING for as long as the server accepts calls,
// whatever its dependencies do. An orchestrator whose OCR is down can still answer (an
// undecided verification is a retryable Unavailable), and every replica shares the same
// dependencies: taking replicas out of a load balancer because a dependency failed would only
// turn a partial outage into a full one. Each dependency has its own entry (kyc.v1.OCRService,
// ...), NOT_SERVING while its circuit breaker is open, for operators and dashboards.
func serve(ctx context.Context, f *flags, srvImpl kycv1.KYCServiceServer, breakers *breaker.Registry, stderr io.Writer, log *zap.Logger, opts ...grpc.ServerOption) error {
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", f.serve)
	if err != nil {
		return fmt.Errorf("-serve: %w", err) // named by its flag, as -config's file is
	}
	srv := grpc.NewServer(opts...)
	kycv1.RegisterKYCServiceServer(srv, srvImpl)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(kycv1.KYCService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	stopping, stopWatches := context.WithCancel(context.Background())
	defer stopWatches()
	healthpb.RegisterHealthServer(srv, watchEnding{Server: hs, stopping: stopping})
	reflection.Register(srv)
	stopHealth := watchDependencies(hs, breakers)
	defer stopHealth()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	fmt.Fprintf(stderr, "orchestrator: serving %s on %s\n", kycv1.KYCService_ServiceDesc.ServiceName, lis.Addr())

	select {
	case err := <-served:
		srv.Stop() // Serve failed (its listener's Accept did): close what it had accepted
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	hs.Shutdown()
	stopWatches() // after NOT_SERVING is set: a watch may see it before it ends
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

// watchEnding is the health service whose Watch streams end once stopping is done: NOT_SERVING
// (unless the watch saw it already), then Unavailable. A watch lasts as long as its client wants (gRPC's client-side health checking keeps
// one open per connection): left open, it held every graceful stop of -serve until
// -stop-timeout, which then cut the calls in flight.
type watchEnding struct {
	*health.Server
	stopping context.Context
}

func (h watchEnding) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(h.stopping, cancel)()
	ws := &watchStream{Health_WatchServer: stream, ctx: ctx, last: -1}
	err := h.Server.Watch(req, ws)
	if h.stopping.Err() == nil {
		return err
	}
	// The health server's Watch may take the end of its context before the NOT_SERVING that
	// came just before it: the last word is said here.
	if ws.last != healthpb.HealthCheckResponse_NOT_SERVING {
		_ = stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING})
	}
	return status.Error(grpccodes.Unavailable, "orchestrator: stopping")
}

// watchStream is a health watch stream with the context of watchEnding.Watch, that remembers
// the last status it sent.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx  context.Context
	last healthpb.HealthCheckResponse_ServingStatus // written by Send, read once Watch returned
}

func (w *watchStream) Context() context.Context { return w.ctx }

func (w *watchStream) Send(r *healthpb.HealthCheckResponse) error {
	w.last = r.GetStatus()
	return w.Health_WatchServer.Send(r)
}

// watchDependencies sets a health entry per dependency from its breaker's state, every 250 ms.
func watchDependencies(hs *health.Server, breakers *breaker.Registry) func() {
	update := func() {
		for name := range kyc.ServiceKeys {
			st := healthpb.HealthCheckResponse_SERVING
			breakers.Each(func(bname string, b *breaker.Breaker) {
				if s := b.State(); strings.Contains(bname, name) && (s == breaker.Open || s == breaker.ForcedOpen) {
					st = healthpb.HealthCheckResponse_NOT_SERVING
				}
			})
			hs.SetServingStatus(name, st)
		}
	}
	update()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				update()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// progress draws a progress bar on a terminal, and is the writer of the logs while it is up:
// a log line clears the bar, is written whole, and the bar is redrawn below it.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	last  time.Time
	line  string // Guarded by mu: the bar as last drawn, "" when none is on screen.
	ended bool   // Guarded by mu: finish was called.
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
	if p.ended || (done < total && now.Sub(p.last) < 50*time.Millisecond) {
		return
	}
	p.last = now
	p.line = barLine(done, total)
	fmt.Fprint(p.w, "\r"+p.line)
}

// barLine draws the bar of done out of total.
func barLine(done, total int) string {
	const width = 30
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	return fmt.Sprintf("[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), done, total)
}

// Write writes a log line above the bar.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line != "" {
		fmt.Fprint(p.w, "\r\033[K")
	}
	n, err := p.w.Write(b)
	if p.line != "" && !p.ended {
		fmt.Fprint(p.w, "\r"+p.line)
	}
	return n, err
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = true
	if p.line != "" {
		fmt.Fprint(p.w, "\r\033[K")
		p.line = ""
	}
}
