package stub

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Full method names of the stub's methods: the method label of mlstub_requests_total and the
// method argument of Requests.
const (
	MethodCheck   = kycv1.LivenessService_Check_FullMethodName
	MethodCompare = kycv1.FaceMatchService_Compare_FullMethodName
	MethodExtract = kycv1.OCRService_Extract_FullMethodName
)

// MetricRequests is the name of the stub's only metric, a counter labelled method (full gRPC
// method name) and code (grpc codes.Code.String() form: "OK", "Unavailable", "ResourceExhausted").
const MetricRequests = "mlstub_requests_total"

// serviceNames maps a service (as Config.Services names it) to its full gRPC service name,
// which is also its name in the health service.
var serviceNames = map[string]string{
	ServiceLiveness:  kycv1.LivenessService_ServiceDesc.ServiceName,
	ServiceFaceMatch: kycv1.FaceMatchService_ServiceDesc.ServiceName,
	ServiceOCR:       kycv1.OCRService_ServiceDesc.ServiceName,
}

// HealthName returns the name under which the health service reports service (such as
// "kyc.v1.OCRService" for ServiceOCR), or "" for an unknown service.
func HealthName(service string) string { return serviceNames[service] }

var allMethods = []string{MethodCheck, MethodCompare, MethodExtract}

// Option changes how Start builds a Stub.
type Option interface{ apply(*options) }

type options struct {
	clock      clock.Clock
	logger     *zap.Logger
	listener   net.Listener
	metricsLis net.Listener
	serverOpts []grpc.ServerOption
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithClock sets the clock that times latency, delays and outage windows. Default clock.Real.
func WithClock(c clock.Clock) Option { return optionFunc(func(o *options) { o.clock = c }) }

// WithLogger sets the logger. It receives one Debug entry per request (method, code, latency;
// never images or document fields), Info entries for fault changes, and Warn entries for the
// HTTP server's own errors (a client's failed TLS handshake on an HTTPS metrics listener).
// Default: no logging.
func WithLogger(l *zap.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

// WithListener serves gRPC on lis (a bufconn listener, say) instead of Config.Listen. The stub
// closes it on Stop.
func WithListener(lis net.Listener) Option { return optionFunc(func(o *options) { o.listener = lis }) }

// WithServerOptions adds options to the stub's gRPC server, such as TLS credentials
// (grpc.Creds): a TLS server refuses plaintext clients.
func WithServerOptions(opts ...grpc.ServerOption) Option {
	return optionFunc(func(o *options) { o.serverOpts = append(o.serverOpts, opts...) })
}

// WithMetricsListener serves the HTTP endpoints on lis instead of Config.MetricsListen; a
// listener of tls.NewListener serves them as HTTPS (mlstub does so under its -tls-* flags).
func WithMetricsListener(lis net.Listener) Option {
	return optionFunc(func(o *options) { o.metricsLis = lis })
}

// Stub is a running set of fake KYC services. Its methods are safe for concurrent use.
type Stub struct {
	// inService counts the requests between admission and the end of their injected delay,
	// for Faults.Capacity.
	inService atomic.Int64
	// outageRefused counts the requests an outage refused (before fault injection).
	outageRefused atomic.Int64

	cfg      Config
	clk      clock.Clock
	log      *zap.Logger
	srv      *grpc.Server
	lis      net.Listener
	health   *health.Server
	services []string // full gRPC service names served

	httpSrv *http.Server
	httpLis net.Listener

	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	counts   map[string]*[numCodes]atomic.Int64 // method → code → requests; read-only map

	attempts *attempts
	spiked   *attempts // spikes served in full, per (method, request id)

	mu         sync.Mutex
	faults     Faults      // Guarded by mu.
	failTable  []codeRate  // Guarded by mu: Fail in code order, cumulative rates.
	rng        *rand.Rand  // Guarded by mu.
	manualDown bool        // Guarded by mu: Down was called.
	from       time.Time   // Guarded by mu: start of the outage window.
	until      time.Time   // Guarded by mu: end of the outage window (exclusive).
	healthDown bool        // Guarded by mu: what the health service says.
	loggedDown bool        // Guarded by mu: the outage state the log last told.
	timer      clock.Timer // Guarded by mu: next window transition.
	closed     bool        // Guarded by mu.

	stopping  chan struct{} // closed when Stop begins: ends health watches
	serveDone chan struct{}
	httpDone  chan struct{}
	stopOnce  sync.Once
}

type codeRate struct {
	code grpccodes.Code
	cum  float64
}

// Start validates cfg, listens, and serves until Stop. ctx bounds only the start (listening);
// cancelling it later does not stop the stub.
func Start(ctx context.Context, cfg Config, opts ...Option) (*Stub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt.apply(&o)
	}
	if cfg.ScriptCapacity == 0 {
		cfg.ScriptCapacity = defaultScriptCapacity
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = defaultStopTimeout
	}
	if len(cfg.Services) == 0 {
		cfg.Services = AllServices()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	s := &Stub{
		cfg:       cfg,
		clk:       clock.OrReal(o.clock),
		log:       o.logger,
		reg:       prometheus.NewRegistry(),
		counts:    make(map[string]*[numCodes]atomic.Int64, len(allMethods)),
		attempts:  newAttempts(cfg.ScriptCapacity),
		spiked:    newAttempts(cfg.ScriptCapacity),
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6d6c73747562)), // "mlstub"
		stopping:  make(chan struct{}),
		serveDone: make(chan struct{}),
		httpDone:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	for _, m := range allMethods {
		s.counts[m] = new([numCodes]atomic.Int64)
	}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRequests,
		Help: "Requests the stub received, by full gRPC method and returned code (codes.Code.String form).",
	}, []string{"method", "code"})
	s.reg.MustRegister(s.requests)
	s.setFaultsLocked(cfg.Faults.clone())

	s.lis = o.listener
	if s.lis == nil {
		lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
		if err != nil {
			return nil, err
		}
		s.lis = lis
	}
	s.httpLis = o.metricsLis
	if s.httpLis == nil && cfg.MetricsListen != "" {
		lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.MetricsListen)
		if err != nil {
			_ = s.lis.Close()
			return nil, err
		}
		s.httpLis = lis
	}

	s.srv = grpc.NewServer(append(slices.Clip(o.serverOpts), grpc.ChainUnaryInterceptor(s.unary), grpc.ChainStreamInterceptor(s.stream))...)
	s.health = health.NewServer()
	for _, name := range AllServices() {
		if !slices.Contains(cfg.Services, name) {
			continue
		}
		switch name {
		case ServiceLiveness:
			kycv1.RegisterLivenessServiceServer(s.srv, livenessServer{})
		case ServiceFaceMatch:
			kycv1.RegisterFaceMatchServiceServer(s.srv, faceMatchServer{})
		case ServiceOCR:
			kycv1.RegisterOCRServiceServer(s.srv, ocrServer{})
		}
		s.services = append(s.services, serviceNames[name])
	}
	healthpb.RegisterHealthServer(s.srv, healthServer{Server: s.health, stopping: s.stopping})
	reflection.Register(s.srv)

	s.mu.Lock()
	// One reading of the clock places the window, writes the health and arms the timer: with
	// a reading each, an edge between two of them left the statuses unwritten, or no timer
	// armed for the edge that follows.
	now := s.clk.Now()
	if cfg.Outage.For > 0 {
		s.from = now.Add(cfg.Outage.After)
		s.until = s.from.Add(cfg.Outage.For)
	}
	s.healthDown = !s.isDownLocked(now) // force the first sync to write every status
	s.syncHealthLocked(now)
	if s.loggedDown = s.healthDown; s.loggedDown {
		s.log.Info("outage started", zap.Time("until", s.until))
	}
	s.scheduleLocked(now)
	s.mu.Unlock()

	go func() {
		defer close(s.serveDone)
		// Stop before Serve began is a normal stop, not an error.
		if err := s.srv.Serve(s.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("grpc serve", zap.Error(err))
		}
	}()
	if s.httpLis != nil {
		// net/http's own errors (a client's failed TLS handshake, one line per bad client)
		// go to the stub's logger as warnings, not to Go's standard logger.
		errLog, _ := zap.NewStdLogAt(s.log, zapcore.WarnLevel) // fails on an invalid level only
		s.httpSrv = &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: errLog}
		go func() {
			defer close(s.httpDone)
			if err := s.httpSrv.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http serve", zap.Error(err))
			}
		}()
	} else {
		close(s.httpDone)
	}
	s.log.Info("mlstub started", zap.String("addr", s.Addr()), zap.String("metrics_addr", s.MetricsAddr()),
		zap.Strings("services", cfg.Services))
	return s, nil
}

// Addr returns the gRPC listener's address.
func (s *Stub) Addr() string { return s.lis.Addr().String() }

// MetricsAddr returns the HTTP listener's address, or "" when there is none.
func (s *Stub) MetricsAddr() string {
	if s.httpLis == nil {
		return ""
	}
	return s.httpLis.Addr().String()
}

// Services returns the full gRPC names of the services served.
func (s *Stub) Services() []string { return slices.Clone(s.services) }

// Registry returns the stub's own Prometheus registry (it holds mlstub_requests_total only).
func (s *Stub) Registry() *prometheus.Registry { return s.reg }

// Requests returns how many requests for method (a full method name such as MethodExtract) the
// stub answered with code. It agrees with mlstub_requests_total.
func (s *Stub) Requests(method string, code grpccodes.Code) int {
	c, ok := s.counts[method]
	if !ok || int(code) >= numCodes {
		return 0
	}
	return int(c[code].Load())
}

// InService returns how many requests the stub has admitted and not yet released from their
// injected delay: the requests that have reached it and are being held.
func (s *Stub) InService() int { return int(s.inService.Load()) }

// OutageRefused returns how many requests, of every method the stub serves, an outage (Down,
// OutageFor, Config.Outage) refused with Unavailable. Requests counts them too, under
// Unavailable, with the failures Faults.Fail injected; this count tells them apart, so that a
// run can tell an outage that no request met from one that refused some.
func (s *Stub) OutageRefused() int { return int(s.outageRefused.Load()) }

// Attempts returns how many attempts the stub counted for a scripted request id on method.
func (s *Stub) Attempts(method, requestID string) int {
	return s.attempts.get(scriptKey(method, requestID))
}

// Spiked returns how many attempts of a request id (MDRequestID) on method drew a latency
// spike (Faults.SpikeRate) and waited it out in full: answers the spike delayed, as opposed to
// attempts whose caller cancelled during the wait (a hedge that won, a timeout). Requests
// without an id are not counted; ids are remembered as Attempts remembers them.
func (s *Stub) Spiked(method, requestID string) int {
	return s.spiked.get(scriptKey(method, requestID))
}

// Faults returns the current fault profile.
func (s *Stub) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.clone()
}

// SetFaults replaces the fault profile after validating it. Requests already waiting keep the
// latency they drew.
func (s *Stub) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.setFaultsLocked(f.clone())
	s.mu.Unlock()
	s.log.Info("faults changed", f.LogFields()...)
	return nil
}

// LogFields returns the profile as log fields, one per field of Faults: what mlstub logs at
// start and the stub logs when the profile changes.
func (f Faults) LogFields() []zap.Field {
	return []zap.Field{
		zap.String("fail", FormatFailSpec(f.Fail)), zap.Duration("latency", f.Latency),
		zap.Float64("spike_rate", f.SpikeRate), zap.Duration("spike", f.Spike),
		zap.Duration("pushback", f.Pushback), zap.Int("capacity", f.Capacity),
	}
}

func (s *Stub) setFaultsLocked(f Faults) {
	s.faults = f
	s.failTable = s.failTable[:0]
	cum := 0.0
	for _, c := range sortedCodes(f.Fail) {
		if f.Fail[c] == 0 {
			continue
		}
		cum += f.Fail[c]
		s.failTable = append(s.failTable, codeRate{code: c, cum: cum})
	}
	// Rates that add up to 1 fail every request, but their sum, rounded at each addition, can
	// fall just short of 1 (0.7 + 0.2 + 0.1 is 1 - 2⁻⁵³), and the highest draws then failed
	// nothing. A sum that Validate takes for 1 is 1.
	if n := len(s.failTable); n > 0 && cum >= 1-rateSumSlack {
		s.failTable[n-1].cum = 1
	}
}

// Down starts an outage that lasts until Up: every call fails with Unavailable and the health
// service reports NOT_SERVING. During an outage already under way it only makes that one last
// until Up.
func (s *Stub) Down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manualDown = true
	now := s.clk.Now()
	s.syncHealthLocked(now)
	wasDown := s.loggedDown
	s.loggedDown = true
	s.scheduleLocked(now)
	if !wasDown { // one under way goes on: it did not start again
		s.log.Info("outage started")
	}
}

// OutageFor starts an outage that lasts d by the stub's clock, replacing any other. A d ≤ 0
// starts none: it only ends the outage under way, if any, as Up does.
func (s *Stub) OutageFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manualDown = false
	now := s.clk.Now()
	s.from, s.until = time.Time{}, time.Time{}
	if d > 0 {
		s.from = now
		s.until = s.from.Add(d)
	}
	s.syncHealthLocked(now)
	wasDown := s.loggedDown
	s.loggedDown = d > 0
	s.scheduleLocked(now)
	switch {
	case d > 0:
		s.log.Info("outage started", zap.Duration("for", d))
	case wasDown:
		s.log.Info("outage ended")
	}
}

// Up ends any outage, scheduled or not.
func (s *Stub) Up() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manualDown = false
	s.from, s.until = time.Time{}, time.Time{}
	now := s.clk.Now()
	s.syncHealthLocked(now)
	wasDown := s.loggedDown
	s.loggedDown = false
	s.scheduleLocked(now)
	if wasDown { // with none under way, there is no end to tell
		s.log.Info("outage ended")
	}
}

// IsDown reports whether an outage is under way.
func (s *Stub) IsDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isDownLocked(s.clk.Now())
}

func (s *Stub) isDownLocked(now time.Time) bool {
	return s.manualDown || (!now.Before(s.from) && now.Before(s.until))
}

// outageUntilLocked returns the end of the current outage window, zero when there is none or
// the outage is manual.
func (s *Stub) outageUntilLocked(now time.Time) time.Time {
	if s.manualDown || now.Before(s.from) || !now.Before(s.until) {
		return time.Time{}
	}
	return s.until
}

// syncHealthLocked makes the health service agree with the outage state at now.
func (s *Stub) syncHealthLocked(now time.Time) {
	down := s.isDownLocked(now)
	if down == s.healthDown || s.closed {
		return
	}
	s.healthDown = down
	st := healthpb.HealthCheckResponse_SERVING
	if down {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.health.SetServingStatus("", st)
	for _, name := range s.services {
		s.health.SetServingStatus(name, st)
	}
}

// scheduleLocked arms a timer for the next edge of the outage window after now, so that the
// health service flips without waiting for a request. now is the reading the health was last
// synced at: an edge passed since then still gets its timer (due at once).
func (s *Stub) scheduleLocked(now time.Time) {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.closed || s.manualDown {
		return
	}
	var next time.Time
	switch {
	case now.Before(s.from):
		next = s.from
	case now.Before(s.until):
		next = s.until
	default:
		return
	}
	s.timer = s.clk.AfterFunc(next.Sub(now), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := s.clk.Now()
		s.syncHealthLocked(now)
		// An edge of a window no call made: say so, as Down, OutageFor and Up do for theirs.
		// Compared with what was last logged, not with the health status, which a request at
		// the edge may have flipped first.
		if down := s.healthDown; down != s.loggedDown && !s.closed {
			s.loggedDown = down
			if down {
				s.log.Info("outage started", zap.Time("until", s.until))
			} else {
				s.log.Info("outage ended")
			}
		}
		s.scheduleLocked(now)
	})
}

// decision is the fault profile's verdict on one request.
type decision struct {
	down     bool
	wait     time.Duration
	spiked   bool           // wait includes Faults.Spike
	fail     grpccodes.Code // OK: no failure
	pushback time.Duration
}

// decide draws the random faults of one request: always two draws (spike, then failure), so the
// sequence of decisions depends only on the seed and the order of requests. A request not
// refused by an outage is counted in service (inService) from here: the caller releases it.
func (s *Stub) decide() decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	s.syncHealthLocked(now)
	if s.isDownLocked(now) {
		s.outageRefused.Add(1)
		return decision{down: true}
	}
	uSpike, uFail := s.rng.Float64(), s.rng.Float64()
	d := decision{wait: s.faults.Latency, pushback: s.faults.Pushback}
	if uSpike < s.faults.SpikeRate {
		d.wait = addDelay(d.wait, s.faults.Spike)
		d.spiked = true
	}
	// In service from its decision on, under the lock that orders the decisions: counted only
	// after the attempt count, a request decided in between found one fewer than there were.
	n := s.inService.Add(1)
	if c := s.faults.Capacity; c > 0 {
		if n > int64(c) {
			d.wait = stretch(d.wait, float64(n)/float64(c))
		}
	}
	for _, cr := range s.failTable {
		if uFail < cr.cum {
			d.fail = cr.code
			break
		}
	}
	return d
}

// admit applies outage, delays and failures to one request, before its handler runs.
func (s *Stub) admit(ctx context.Context, method string) error {
	d := s.decide()
	if d.down { // first: a request with a bad script is down too
		return status.Error(grpccodes.Unavailable, "mlstub: service is down (outage)")
	}
	defer s.inService.Add(-1) // counted by decide
	md, _ := metadata.FromIncomingContext(ctx)
	sc, err := readScript(md)
	if err != nil {
		return err
	}
	attempt := 0
	if sc.id != "" {
		attempt = s.attempts.next(scriptKey(method, sc.id))
	}
	wait := d.wait
	if sc.delay > 0 && (!sc.hasDelayFirst || attempt > 0 && attempt <= sc.delayFirst) {
		wait = addDelay(wait, sc.delay)
	}
	if err := s.sleep(ctx, wait); err != nil {
		return err
	}
	if d.spiked && sc.id != "" {
		s.spiked.next(scriptKey(method, sc.id))
	}
	if attempt > 0 && attempt <= sc.failFirst {
		pb := d.pushback
		if sc.hasPushback {
			pb = sc.pushback
		}
		return injected(sc.failCode, pb, "scripted")
	}
	if d.fail != grpccodes.OK {
		return injected(d.fail, d.pushback, "injected")
	}
	return nil
}

// addDelay is a + b for non-negative delays, saturated at the longest time.Duration: the sum
// of delays the flags accept one by one may not fit, and wrapped around to a negative wait (no
// wait at all).
func addDelay(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// stretch is d × k (k ≥ 1), saturated at the longest time.Duration as addDelay is.
func stretch(d time.Duration, k float64) time.Duration {
	if v := float64(d) * k; v < math.MaxInt64 {
		return time.Duration(v)
	}
	return math.MaxInt64
}

// injected builds an injected error; a ResourceExhausted one carries RetryInfo when pushback
// is positive.
func injected(code grpccodes.Code, pushback time.Duration, how string) error {
	st := status.New(code, "mlstub: "+how+" "+CodeName(code))
	if code == grpccodes.ResourceExhausted && pushback > 0 {
		if withRI, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(pushback)}); err == nil {
			st = withRI
		}
	}
	return st.Err()
}

// sleep waits d by the stub's clock, or until ctx ends.
func (s *Stub) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := s.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// record counts one answered request and logs it (method, code, latency only).
func (s *Stub) record(method string, code grpccodes.Code, latency time.Duration) {
	if c, ok := s.counts[method]; ok && int(code) < numCodes {
		c[code].Add(1)
	}
	s.requests.WithLabelValues(method, code.String()).Inc()
	if ce := s.log.Check(zap.DebugLevel, "request"); ce != nil {
		ce.Write(zap.String("method", method), zap.String("code", code.String()), zap.Duration("latency", latency))
	}
}

func (s *Stub) isStubMethod(method string) bool {
	_, ok := s.counts[method]
	return ok
}

func (s *Stub) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !s.isStubMethod(info.FullMethod) {
		return handler(ctx, req)
	}
	start := s.clk.Now()
	resp, err := any(nil), s.admit(ctx, info.FullMethod)
	if err == nil {
		resp, err = handler(ctx, req)
	}
	s.record(info.FullMethod, status.Code(err), s.clk.Now().Sub(start))
	return resp, err
}

func (s *Stub) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !s.isStubMethod(info.FullMethod) {
		return handler(srv, ss)
	}
	start := s.clk.Now()
	err := s.admit(ss.Context(), info.FullMethod)
	if err == nil {
		err = handler(srv, ss)
	}
	s.record(info.FullMethod, streamCode(ss.Context(), err), s.clk.Now().Sub(start))
	return err
}

// streamCode is the code a stream's end is counted under. io.EOF from SendAndClose means the
// client went away before the answer: counted as the wait counts a caller that left (Canceled,
// or DeadlineExceeded when its deadline expired), not as Unknown, a fault of the stub.
func streamCode(ctx context.Context, err error) grpccodes.Code {
	if !errors.Is(err, io.EOF) {
		return status.Code(err)
	}
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Code()
	}
	return grpccodes.Canceled
}

// Stop stops the stub: the health service turns NOT_SERVING and its Watch streams end with
// Unavailable, in-flight calls get Config.StopTimeout to finish (real time), then are cut; the
// HTTP listener shuts down in what is left of the same StopTimeout, so that the whole stop
// takes about StopTimeout at most. Stop is idempotent.
func (s *Stub) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		if s.timer != nil {
			s.timer.Stop()
			s.timer = nil
		}
		s.mu.Unlock()
		s.log.Info("mlstub stopping", zap.Duration("stop_timeout", s.cfg.StopTimeout))
		s.health.Shutdown()
		close(s.stopping)

		// One StopTimeout bounds the whole stop: the HTTP listener gets what the gRPC side left.
		deadline := time.Now().Add(s.cfg.StopTimeout)
		graceful := make(chan struct{})
		go func() {
			s.srv.GracefulStop()
			close(graceful)
		}()
		t := time.NewTimer(s.cfg.StopTimeout)
		select {
		case <-graceful:
		case <-t.C:
			s.log.Warn("graceful stop timed out; cutting calls")
			s.srv.Stop()
			<-graceful
		}
		t.Stop()
		<-s.serveDone

		if s.httpSrv != nil {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			if err := s.httpSrv.Shutdown(ctx); err != nil {
				_ = s.httpSrv.Close()
			}
			cancel()
		}
		<-s.httpDone
		s.log.Info("mlstub stopped")
	})
}

// healthServer is the standard health service whose Watch streams end when the stub stops. A
// watch lasts as long as its client wants (gRPC's client-side health checking keeps one open
// per connection): left open, it held every graceful stop for the whole StopTimeout, and then
// the stop cut the calls.
type healthServer struct {
	*health.Server
	stopping <-chan struct{}
}

func (h healthServer) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-h.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := h.Server.Watch(req, watchStream{Health_WatchServer: stream, ctx: ctx})
	select {
	case <-h.stopping:
		return status.Error(grpccodes.Unavailable, "mlstub: stopping")
	default:
		return err
	}
}

// watchStream is a health watch stream with the context of healthServer.Watch.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

func (w watchStream) Context() context.Context { return w.ctx }
