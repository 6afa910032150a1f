// Command mlstub serves fake liveness, face-match and OCR services with fault injection.
//
//	go run ./examples/mlstub -listen 127.0.0.1:50051 -metrics 127.0.0.1:9464 \
//	    -fail unavailable=0.2,deadline_exceeded=0.05 -latency 20ms -spike-rate 0.05 -spike 2s
//
// See package stub for the behaviour, the metadata that scripts faults per request, and the
// admin endpoint (GET/PUT /faults, POST /outage?for=5s, POST /down, POST /up) served with
// /metrics on the -metrics address. With -tls-cert and -tls-key both addresses serve TLS only
// (HTTPS on -metrics), with the same certificate; with -tls-ca both require client
// certificates.
//
// The first SIGINT (Ctrl-C) or SIGTERM stops the stub gracefully: requests in service get up to
// -stop-timeout to finish, and a line on stderr says the signal was taken ("mlstub: SIGINT
// received; stopping gracefully (a second SIGINT or SIGTERM exits at once, status 130)"). A
// second one exits at once with status 130.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/bulwarkrpc/bulwark/examples/internal/flagrule"
	"github.com/bulwarkrpc/bulwark/examples/internal/interrupt"
	"github.com/bulwarkrpc/bulwark/examples/internal/tlsflags"
	"github.com/bulwarkrpc/bulwark/examples/mlstub/stub"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

func main() {
	// The first signal stops gracefully, waiting up to -stop-timeout for the requests in
	// service; a second one is the operator saying not to wait.
	ctx, stop := interrupt.Context("mlstub", os.Stderr)
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "mlstub:", err)
		os.Exit(1)
	}
}

// errUsage marks a command-line error, already reported on stderr: one line after "mlstub: ",
// then a hint to run mlstub -h.
var errUsage = errors.New("usage error")

// parseFlags reads the command line into a stub configuration; each extra function registers
// more flags (the TLS flags) on the flag set.
func parseFlags(args []string, stderr io.Writer, extra ...func(*flag.FlagSet)) (stub.Config, bool, error) {
	fs := flag.NewFlagSet("mlstub", flag.ContinueOnError)
	// A bad flag gets one line and a hint, not the whole usage; -h prints the usage.
	fs.SetOutput(io.Discard)
	cfg := stub.Config{Services: stub.AllServices()}
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:50051", "gRPC listen `address`")
	fs.StringVar(&cfg.MetricsListen, "metrics", "", "HTTP listen `address` for /metrics and the admin endpoints (empty: none); HTTPS with the -tls-* flags")
	fs.Func("services", "comma-separated `list` of services to serve: liveness,facematch,ocr (default all)", func(v string) error {
		s, err := stub.ParseServices(v)
		cfg.Services = s
		return err
	})
	fs.Func("fail", "error rate per gRPC code, `CODE=RATE[,CODE=RATE...]` with snake_case codes, e.g. unavailable=0.2,deadline_exceeded=0.05", func(v string) error {
		m, err := stub.ParseFailSpec(v)
		cfg.Faults.Fail = m
		return err
	})
	fs.DurationVar(&cfg.Faults.Latency, "latency", 0, "latency added to every request")
	fs.Float64Var(&cfg.Faults.SpikeRate, "spike-rate", 0, "fraction of requests, in [0,1], delayed by -spike on top of -latency")
	fs.DurationVar(&cfg.Faults.Spike, "spike", 0, "extra delay of a latency spike")
	fs.DurationVar(&cfg.Faults.Pushback, "pushback", 0, "RetryInfo delay carried by injected resource_exhausted errors")
	flagrule.IntVar(fs, &cfg.Faults.Capacity, "capacity", 0, "`number` of requests served at full speed; past it latency grows in proportion to requests in service (0: no limit)")
	fs.DurationVar(&cfg.Outage.After, "outage-after", 0, "start of a full outage, counted from start (needs -outage-for)")
	fs.DurationVar(&cfg.Outage.For, "outage-for", 0, "length of the full outage")
	flagrule.Int64Var(fs, &cfg.Seed, "seed", 1, "`seed` of the random fault decisions")
	fs.DurationVar(&cfg.StopTimeout, "stop-timeout", 5*time.Second, "how long a graceful stop may take before calls are cut")
	verbose := fs.Bool("v", false, "log every request (method, code, latency)")
	for _, f := range extra {
		f(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "Usage of mlstub:")
			fs.PrintDefaults()
			return cfg, false, err
		}
		err = flagrule.Explain(fs, err) // "parse error" says which rule
		fmt.Fprintf(stderr, "mlstub: %v\nRun 'mlstub -h' for the flags.\n", err)
		return cfg, false, fmt.Errorf("%w: %w", errUsage, err)
	}
	problem := flagProblem(cfg)
	if p := flagrule.ListenProblem("listen", cfg.Listen); p != "" {
		problem = p
	} else if cfg.MetricsListen != "" {
		if p := flagrule.ListenProblem("metrics", cfg.MetricsListen); p != "" {
			problem = p
		}
	}
	if fs.NArg() > 0 {
		problem = "unexpected arguments: " + strings.Join(fs.Args(), " ")
	}
	if problem == "" {
		if err := cfg.Validate(); err != nil {
			problem = err.Error()
		}
	}
	if problem != "" {
		fmt.Fprintf(stderr, "mlstub: %s\nRun 'mlstub -h' for the flags.\n", problem)
		return cfg, false, fmt.Errorf("%w: %s", errUsage, problem)
	}
	return cfg, *verbose, nil
}

// flagProblem names, by its flag, a value the flags parsed that the stub refuses
// (stub.Config.Validate, which names configuration fields), or returns "".
func flagProblem(cfg stub.Config) string {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"-outage-after", cfg.Outage.After}, {"-outage-for", cfg.Outage.For}, {"-stop-timeout", cfg.StopTimeout}} {
		if d.v < 0 {
			return fmt.Sprintf("%s %v is negative", d.flag, d.v)
		}
	}
	if cfg.StopTimeout == 0 {
		// stub.Config reads 0 as its default (5s): "-stop-timeout 0" would not cut at once.
		return "-stop-timeout 0s is not positive: give the time a graceful stop may take, such as 1ms"
	}
	if cfg.Outage.After > 0 && cfg.Outage.For == 0 {
		return "-outage-after needs -outage-for"
	}
	return cfg.Faults.FlagProblem()
}

// run serves until ctx is done, then stops gracefully. started, when not nil, is called once
// the stub serves.
func run(ctx context.Context, args []string, stderr io.Writer, started func(*stub.Stub)) error {
	var tf tlsflags.Flags
	cfg, verbose, err := parseFlags(args, stderr, tf.Register)
	if err != nil {
		return err
	}
	tlsCfg, err := tf.ServerConfig()
	if err != nil {
		fmt.Fprintf(stderr, "mlstub: %v\nRun 'mlstub -h' for the flags.\n", err)
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	level := zapcore.InfoLevel
	if verbose {
		level = zapcore.DebugLevel
	}
	log := zap.New(zapcore.NewCore(
		zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(stderr), level))
	defer func() { _ = log.Sync() }()

	// The listeners are made here, so that an address that cannot be listened on is named by
	// its flag: the stub's own error would not say whether -listen or -metrics was wrong.
	lc := &net.ListenConfig{}
	lis, err := lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("-listen %s: %w", cfg.Listen, err)
	}
	opts := []stub.Option{stub.WithLogger(log), stub.WithListener(lis)}
	if tlsCfg != nil {
		opts = append(opts, stub.WithServerOptions(grpc.Creds(credentials.NewTLS(tlsCfg))))
	}
	var metricsLis net.Listener
	if cfg.MetricsListen != "" {
		if metricsLis, err = lc.Listen(ctx, "tcp", cfg.MetricsListen); err != nil {
			_ = lis.Close()
			return fmt.Errorf("-metrics %s: %w", cfg.MetricsListen, err)
		}
		if tlsCfg != nil {
			// The admin endpoint changes the faults and takes the services down: it is
			// no less guarded than the services.
			metricsLis = tls.NewListener(metricsLis, tlsCfg)
		}
		opts = append(opts, stub.WithMetricsListener(metricsLis))
	}
	s, err := stub.Start(ctx, cfg, opts...)
	if err != nil {
		_ = lis.Close()
		if metricsLis != nil {
			_ = metricsLis.Close()
		}
		return err
	}
	log.Info("faults", append(cfg.Faults.LogFields(), zap.Int64("seed", cfg.Seed))...)
	if started != nil {
		started(s)
	}
	<-ctx.Done()
	s.Stop()
	return nil
}
