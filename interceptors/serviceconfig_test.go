package interceptors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/config"
	"github.com/bulwarkrpc/bulwark/interceptors"
	"github.com/bulwarkrpc/bulwark/interceptors/breaker"
	"github.com/bulwarkrpc/bulwark/interceptors/bulkhead"
	"github.com/bulwarkrpc/bulwark/interceptors/hedge"
	"github.com/bulwarkrpc/bulwark/interceptors/ratelimit"
	"github.com/bulwarkrpc/bulwark/interceptors/retry"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
)

// TestServiceConfig: the service config gives each unary method of a listed service its
// policy's per-attempt timeout (capped by the budget as the retry step caps it), none to a
// streaming method or a method without one, and keeps what the base has.
func TestServiceConfig(t *testing.T) {
	cfg := &config.Config{
		Budget: 8 * time.Second,
		Profiles: map[string]config.Profile{
			"ml":    {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second}},
			"long":  {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: time.Minute}},
			"fast":  {Retry: &retry.Config{MaxAttempts: 2, PerAttemptTimeout: 250 * time.Millisecond}},
			"plain": {Breaker: &breaker.Config{}},
		},
		Services: map[string]config.Service{
			svcFaceMatch: {Profile: "ml"},
			svcLiveness:  {Profile: "ml"},   // its one method streams
			svcOCR:       {Profile: "long"}, // capped by the 8 s budget
			"kyc.v1.KYCService": {Profile: "plain", Methods: map[string]config.Method{
				"Verify": {Profile: "fast"},
			}},
		},
	}
	s := suiteOf(t, cfg)

	got, err := s.ServiceConfig("")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"methodConfig":[` +
		`{"name":[{"service":"kyc.v1.FaceMatchService","method":"Compare"}],"timeout":"5s"},` +
		`{"name":[{"service":"kyc.v1.KYCService","method":"Verify"}],"timeout":"0.25s"},` +
		`{"name":[{"service":"kyc.v1.OCRService","method":"Extract"}],"timeout":"8s"}]}`
	if got != want {
		t.Errorf("ServiceConfig(\"\") =\n%s\nwant\n%s", got, want)
	}

	// A base keeps its settings: its load balancing, its method config for OCRService/Extract
	// (the timeout added), its settings for all of KYCService (copied into Verify's, with the
	// timeout), and its own timeout for FaceMatchService.
	base := `{"loadBalancingConfig":[{"round_robin":{}}],"methodConfig":[` +
		`{"name":[{"service":"kyc.v1.OCRService","method":"Extract"}],"waitForReady":true},` +
		`{"name":[{"service":"kyc.v1.KYCService"}],"maxRequestMessageBytes":1024},` +
		`{"name":[{"service":"kyc.v1.FaceMatchService"}],"timeout":"3s"}]}`
	got, err = s.ServiceConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"loadBalancingConfig":[{"round_robin":{}}],"methodConfig":[` +
		`{"name":[{"service":"kyc.v1.OCRService","method":"Extract"}],"timeout":"8s","waitForReady":true},` +
		`{"maxRequestMessageBytes":1024,"name":[{"service":"kyc.v1.KYCService"}]},` +
		`{"name":[{"service":"kyc.v1.FaceMatchService"}],"timeout":"3s"},` +
		`{"maxRequestMessageBytes":1024,"name":[{"method":"Verify","service":"kyc.v1.KYCService"}],"timeout":"0.25s"}]}`
	if !sameJSON(t, got, want) {
		t.Errorf("ServiceConfig(base) =\n%s\nwant\n%s", got, want)
	}

	// grpc accepts it.
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(got))
	if err != nil {
		t.Fatalf("grpc refuses the service config: %v", err)
	}
	_ = conn.Close()
}

// suiteOf returns a suite of cfg, closed when t ends.
func suiteOf(t *testing.T, cfg *config.Config, opts ...interceptors.Option) *interceptors.Suite {
	t.Helper()
	s, err := interceptors.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// serviceConfigOption is s.ServiceConfigOption(base), failing t on an error.
func serviceConfigOption(t *testing.T, s *interceptors.Suite, base string) grpc.DialOption {
	t.Helper()
	o, err := s.ServiceConfigOption(base)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

// TestServiceConfigDefaultProfile: with a default profile, every unary method of the linked
// services gets its timeout, and no streaming method does.
func TestServiceConfigDefaultProfile(t *testing.T) {
	cfg := &config.Config{Profiles: map[string]config.Profile{
		config.DefaultProfile: {Retry: &retry.Config{MaxAttempts: 2, PerAttemptTimeout: 2 * time.Second}},
	}}
	s := suiteOf(t, cfg)
	got, err := s.ServiceConfig("")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{`"service":"kyc.v1.FaceMatchService","method":"Compare"}],"timeout":"2s"`, `"service":"kyc.v1.OCRService","method":"Extract"}],"timeout":"2s"`} {
		if !strings.Contains(got, m) {
			t.Errorf("ServiceConfig lacks %s: %s", m, got)
		}
	}
	if strings.Contains(got, svcLiveness) {
		t.Errorf("the streaming LivenessService.Check got a timeout: %s", got)
	}
}

// A base that is not a service config is an error that says what is wrong with it.
func TestServiceConfigBadBase(t *testing.T) {
	s := suiteOf(t, &config.Config{})
	for base, want := range map[string]string{
		`[1, 2]`:                           "is not a JSON object",
		`{"methodConfig": 3}`:              "methodConfig is a number, want a list",
		`{"methodConfig": [3]}`:            "methodConfig[0] is a number, want an object",
		`{"methodConfig": [{"name":[1]}]}`: "methodConfig[0].name[0] is a number, want an object",
		`{`:                                "is not a JSON object", `null`: "is not a JSON object",
		// grpc refuses these at dial; read as "", they would be the entry of every method.
		`{"methodConfig": [{"name":[{"service": 5}]}]}`:                     "methodConfig[0].name[0].service is a number, want a string",
		`{"methodConfig": [{"name":[{"service": "a.B", "method": true}]}]}`: "methodConfig[0].name[0].method is a boolean, want a string",
	} {
		if _, err := s.ServiceConfig(base); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ServiceConfig(%s) = %v, want an error saying %q", base, err, want)
		}
		if _, err := s.ServiceConfigOption(base); err == nil {
			t.Errorf("ServiceConfigOption(%s) gave no error", base)
		}
	}
}

// keptCase is a suite dialed in some way, and whether grpc keeps its per-attempt deadline.
type keptCase struct {
	name     string
	profile  config.Profile
	base     string // the base of the service config; "-": dial without one
	opts     []interceptors.Option
	callOpts []grpc.CallOption
	kept     bool
	server   time.Duration // the time left the server sees, about
}

// TestServiceConfigKeepsTheAttemptDeadline: dialed with its service config, the suite leaves
// an attempt's deadline to grpc (the rest of the chain gets the caller's context, not one of
// the suite's) when nothing on the attempt's way can wait, and makes its own otherwise; the
// server sees the same deadline either way.
func TestServiceConfigKeepsTheAttemptDeadline(t *testing.T) {
	full := config.Profile{
		Retry:     &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second},
		Breaker:   &breaker.Config{},
		Bulkhead:  &bulkhead.Config{MaxConcurrent: 8},
		RateLimit: &ratelimit.Config{Rate: 1e6, Burst: 1e6},
	}
	waiting := full
	waiting.Bulkhead = &bulkhead.Config{MaxConcurrent: 8, MaxWait: time.Second}
	hedged := full
	hedged.Hedge = &hedge.Config{Idempotent: true, Delay: time.Minute}
	cases := []keptCase{
		{name: "service config", profile: full, kept: true, server: 5 * time.Second},
		{name: "no service config", profile: full, base: "-", server: 5 * time.Second},
		{name: "a bulkhead that waits", profile: waiting, server: 5 * time.Second},
		{name: "a hedging policy", profile: hedged, server: 5 * time.Second},
		{name: "a call that may wait", profile: full, callOpts: []grpc.CallOption{bulkhead.WithMaxWait(time.Second)}, server: 5 * time.Second},
		{name: "grpc's own call options", profile: full, kept: true, server: 5 * time.Second,
			callOpts: []grpc.CallOption{grpc.MaxCallRecvMsgSize(1 << 20), grpc.Header(new(metadata.MD)), grpc.WaitForReady(false)}},
		{name: "another timeout in the base", profile: full, server: 3 * time.Second,
			base: `{"methodConfig":[{"name":[{"service":"kyc.v1.FaceMatchService"}],"timeout":"3s"}]}`},
		{name: "a fake clock", profile: full, opts: []interceptors.Option{interceptors.WithClock(clocktest.New(time.Now()))}, server: 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := make(chan time.Duration, 1)
			srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, _ int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
				dl, _ := ctx.Deadline()
				seen <- time.Until(dl)
				return &kycv1.CompareResponse{}, nil
			}})
			cfg := &config.Config{Budget: 8 * time.Second, Profiles: map[string]config.Profile{"p": tc.profile},
				Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
			s := suiteOf(t, cfg, tc.opts...)
			inner := make(chan time.Duration, 1)
			probe := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				dl, _ := ctx.Deadline()
				inner <- time.Until(dl)
				return invoker(ctx, method, req, reply, cc, opts...)
			}
			opts := append(s.DialOptions(), grpc.WithChainUnaryInterceptor(probe))
			if tc.base != "-" {
				opts = append(opts, serviceConfigOption(t, s, tc.base))
			}
			client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, opts...))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for i := range 2 { // the first call may come before grpc has its service config
				if _, err := client.Compare(ctx, &kycv1.CompareRequest{}, tc.callOpts...); err != nil {
					t.Fatal(err)
				}
				in, srvLeft := <-inner, <-seen
				if i == 0 {
					continue
				}
				// The caller's minute, or the suite's attempt context of 5 s.
				if kept := in > 30*time.Second; kept != tc.kept {
					t.Errorf("the chain under the suite got a context with %v left: kept by grpc %v, want %v", in, kept, tc.kept)
				}
				if srvLeft > tc.server || srvLeft < tc.server-time.Second {
					t.Errorf("the server saw %v left, want about %v", srvLeft, tc.server)
				}
			}
		})
	}
}

// keptClient returns a client of srv through a suite whose FaceMatchService retries 3 times
// with millisecond backoffs, perAttempt per attempt under budget, dialed with its service
// config, and a caller context of a minute (canceled when t ends), after a first call, which
// gets grpc its service config (the server's call 1).
func keptClient(t *testing.T, srv *testkit.Server, budget, perAttempt time.Duration, opts ...interceptors.Option) (kycv1.FaceMatchServiceClient, context.Context) {
	t.Helper()
	cfg := &config.Config{Budget: budget,
		Profiles: map[string]config.Profile{"p": {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: perAttempt,
			InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Jitter: retry.JitterNone}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	s := suiteOf(t, cfg, opts...)
	cc := srv.Dial(t, append(s.DialOptions(), serviceConfigOption(t, s, ""))...)
	client := kycv1.NewFaceMatchServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	// Connected first: the warming call's attempts have perAttempt each, which a loaded
	// machine's connection set-up alone once outlasted ("deadline exceeded while waiting for
	// connections to become ready").
	cc.Connect()
	for st := cc.GetState(); st != connectivity.Ready; st = cc.GetState() {
		if !cc.WaitForStateChange(ctx, st) {
			t.Fatalf("the connection never became ready (%v)", st)
		}
	}
	if _, err := client.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatal(err)
	}
	return client, ctx
}

// TestKeptAttemptTimesOut: an attempt whose deadline grpc keeps ends at the per-attempt timeout
// on the client although the server never answers it, counts as DeadlineExceeded, and is
// retried.
func TestKeptAttemptTimesOut(t *testing.T) {
	const perAttempt = 500 * time.Millisecond
	hung := make(chan error, 1)
	srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, n int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if n == 2 {
			<-ctx.Done() // never answers: only the deadline ends it
			hung <- ctx.Err()
			return nil, ctx.Err()
		}
		return &kycv1.CompareResponse{}, nil
	}})
	rec := &testkit.Recorder{}
	client, ctx := keptClient(t, srv, 8*time.Second, perAttempt, interceptors.WithObserver(rec))
	rec.Reset()
	start := time.Now()
	if _, err := client.Compare(ctx, &kycv1.CompareRequest{}); err != nil {
		t.Fatalf("the call failed: %v", err)
	}
	if took := time.Since(start); took < perAttempt {
		t.Errorf("the call took %v, less than the hung attempt's %v", took, perAttempt)
	}
	// The hung attempt, then the answered one (on a loaded machine a second attempt may time
	// out too before a third is answered).
	att := rec.Events(observe.AttemptFinished)
	if len(att) < 2 || att[0].Code != grpccodes.DeadlineExceeded || att[len(att)-1].Code != grpccodes.OK {
		t.Errorf("attempts = %+v, want DeadlineExceeded, then OK", att)
	}
	// The client's deadline cancels the stream, or the server's own (the same) ends it first.
	if err := <-hung; err != context.Canceled && err != context.DeadlineExceeded {
		t.Errorf("the hung attempt's server context ended with %v", err)
	}
}

// TestKeptAttemptThenBudget: with grpc keeping the first attempt's deadline and the call's
// budget ending before a second attempt's timeout would, the second attempt gets the suite's
// own context at the budget's end: a service that never answers costs the budget, not the
// caller's minute.
func TestKeptAttemptThenBudget(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CompareF: func(ctx context.Context, n int, _ *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
		if n == 1 {
			return &kycv1.CompareResponse{}, nil // gets grpc its service config
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	client, ctx := keptClient(t, srv, 500*time.Millisecond, 300*time.Millisecond)
	start := time.Now()
	_, err := client.Compare(ctx, &kycv1.CompareRequest{})
	took := time.Since(start)
	if status.Code(err) != grpccodes.DeadlineExceeded {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	// At least the first attempt's 300 ms; far less than the caller's minute (a generous bound,
	// for a loaded machine).
	if took < 300*time.Millisecond || took > 10*time.Second {
		t.Errorf("the call took %v, want the budget's 500 ms or so", took)
	}
	if n := srv.Calls(testkit.MethodCompare) - 1; n < 1 || n > 2 {
		t.Errorf("%d attempts reached the server, want 1 or 2", n)
	}
}

// A base's method config that names m among other methods is not given m's timeout: grpc would
// apply it to the others too.
func TestServiceConfigSharedEntry(t *testing.T) {
	cfg := &config.Config{
		Profiles: map[string]config.Profile{"ml": {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "ml"}},
	}
	base := `{"methodConfig":[{"name":[{"service":"kyc.v1.FaceMatchService","method":"Compare"},{"service":"kyc.v1.OCRService","method":"Extract"}],"waitForReady":true}]}`
	got, err := suiteOf(t, cfg).ServiceConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	if !sameJSON(t, got, base) {
		t.Errorf("ServiceConfig(base) = %s, want base unchanged", got)
	}
}

// FuzzServiceConfig: no base makes ServiceConfig panic, and what it returns without an error is
// a JSON object that grpc accepts when base is one grpc accepts.
func FuzzServiceConfig(f *testing.F) {
	for _, seed := range []string{``, `{}`, `null`, `[1]`, `{"methodConfig":3}`, `{"methodConfig":[{"name":[{}]}]}`,
		`{"loadBalancingConfig":[{"round_robin":{}}],"methodConfig":[{"name":[{"service":"kyc.v1.FaceMatchService"}],"timeout":"1s"}]}`,
		`{"methodConfig":[{"name":[{"service":"kyc.v1.OCRService","method":"Extract"},{"service":"x"}]}]}`} {
		f.Add(seed)
	}
	cfg := &config.Config{
		Profiles: map[string]config.Profile{config.DefaultProfile: {Retry: &retry.Config{MaxAttempts: 2, PerAttemptTimeout: time.Second}}},
		Services: map[string]config.Service{svcFaceMatch: {}},
	}
	s, err := interceptors.New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	valid := func(sc string) error {
		conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultServiceConfig(sc))
		if err == nil {
			_ = conn.Close()
		}
		return err
	}
	f.Fuzz(func(t *testing.T, base string) {
		got, err := s.ServiceConfig(base)
		if err != nil {
			return
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(got), &doc); err != nil || doc == nil {
			t.Fatalf("ServiceConfig(%q) = %q, not a JSON object: %v", base, got, err)
		}
		if strings.TrimSpace(base) == "" || valid(base) == nil {
			if err := valid(got); err != nil {
				t.Fatalf("grpc accepts base %q but not ServiceConfig's %q: %v", base, got, err)
			}
		}
	})
}

// TestKeptTimeoutFollowsTheServiceConfig: the suite reads grpc's timeout for a method from the
// connection at most once a second (per chain, connection and method) while it is set, follows
// a service config the resolver changes within that second, and never remembers its absence
// (a connection's first calls come before its resolver has given grpc the config).
func TestKeptTimeoutFollowsTheServiceConfig(t *testing.T) {
	cfg := &config.Config{Budget: 8 * time.Second,
		Profiles: map[string]config.Profile{"p": {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	s := suiteOf(t, cfg)
	r := manual.NewBuilderWithScheme("kept")
	dial := func() *grpc.ClientConn {
		cc, err := grpc.NewClient(r.Scheme()+":///faces", grpc.WithResolvers(r), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		return cc
	}
	cc := dial()
	cc.Connect() // builds the resolver
	push := func(timeout string) {
		sc := `{}`
		if timeout != "" {
			sc = `{"methodConfig":[{"name":[{"service":"` + svcFaceMatch + `"}],"timeout":"` + timeout + `"}]}`
		}
		r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: "faces.invalid:1"}}, ServiceConfig: r.CC().ParseServiceConfig(sc)})
	}
	const m = "/" + svcFaceMatch + "/Compare"
	t0 := time.Now()
	at := func(d time.Duration) time.Duration { return interceptors.KeptTimeout(s, cc, m, t0.Add(d)) }
	if got := at(0); got != 0 {
		t.Fatalf("before any service config: %v, want 0", got)
	}
	push("5s")
	if got := at(0); got != 5*time.Second {
		t.Fatalf("its absence was remembered: %v, want 5s", got)
	}
	push("3s")
	if got := at(500 * time.Millisecond); got != 5*time.Second {
		t.Errorf("half a second after the read: %v, want the 5s read (not read again)", got)
	}
	if got := at(time.Second); got != 3*time.Second {
		t.Errorf("a second after the read: %v, want the resolver's new 3s", got)
	}
	push("")
	if got := at(2 * time.Second); got != 0 {
		t.Errorf("a second after the timeout went: %v, want 0", got)
	}
	push("5s")
	if got := at(2 * time.Second); got != 5*time.Second {
		t.Errorf("the absence was remembered: %v, want 5s at once", got)
	}
	// Another connection while the memo is fresh: its own config, read every time.
	other := dial()
	if got := interceptors.KeptTimeout(s, other, m, t0.Add(2*time.Second)); got != 0 {
		t.Errorf("another connection without a service config: %v, want 0 (not the memo's 5s)", got)
	}
}

// TestKeptTimeoutOfMethodsCalledInTurn: a chain shared by a service's methods remembers grpc's
// timeout for each of them, so that methods called in turn read the connection once a second
// each; it remembered one, and the others read the connection (its lock, its maps) at every
// call, for as long as that one was called within the second.
func TestKeptTimeoutOfMethodsCalledInTurn(t *testing.T) {
	cfg := &config.Config{Budget: 8 * time.Second,
		Profiles: map[string]config.Profile{"p": {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	s := suiteOf(t, cfg)
	r := manual.NewBuilderWithScheme("turns")
	cc, err := grpc.NewClient(r.Scheme()+":///faces", grpc.WithResolvers(r), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	push := func(timeout string) {
		sc := `{"methodConfig":[{"name":[{"service":"` + svcFaceMatch + `"}],"timeout":"` + timeout + `"}]}`
		r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: "faces.invalid:1"}}, ServiceConfig: r.CC().ParseServiceConfig(sc)})
	}
	methods := make([]string, interceptors.KeptMethods+1)
	for i := range methods {
		methods[i] = fmt.Sprintf("/%s/M%d", svcFaceMatch, i)
	}
	t0 := time.Now()
	push("5s")
	for i, m := range methods[:interceptors.KeptMethods] {
		if got := interceptors.KeptTimeout(s, cc, m, t0.Add(time.Duration(i)*time.Millisecond)); got != 5*time.Second {
			t.Fatalf("%s: %v, want 5s", m, got)
		}
	}
	push("3s")
	// Within the second, every method called in turn answers from the memo: no read.
	for i, m := range methods[:interceptors.KeptMethods] {
		if got := interceptors.KeptTimeout(s, cc, m, t0.Add(500*time.Millisecond+time.Duration(i)*time.Millisecond)); got != 5*time.Second {
			t.Errorf("%s half a second after its read: %v, want the 5s read (not read again)", m, got)
		}
	}
	// One more method than the memo holds is read, and takes the place of the oldest entry.
	last := methods[interceptors.KeptMethods]
	if got := interceptors.KeptTimeout(s, cc, last, t0.Add(600*time.Millisecond)); got != 3*time.Second {
		t.Errorf("%s: %v, want the resolver's 3s", last, got)
	}
	second := methods[interceptors.KeptMethods-1]
	if got := interceptors.KeptTimeout(s, cc, second, t0.Add(700*time.Millisecond)); got != 5*time.Second {
		t.Errorf("%s, still held: %v, want the 5s read", second, got)
	}
	if got := interceptors.KeptTimeout(s, cc, methods[0], t0.Add(700*time.Millisecond)); got != 3*time.Second {
		t.Errorf("%s, the oldest entry, after it made way: %v, want the 3s read again", methods[0], got)
	}
}

// TestKeptTimeoutKeepsNoLongName: the memo of grpc's timeouts keeps no method name longer than
// 1024 bytes (a proxy forwards the :path it is sent, which may be megabytes), else a chain
// shared by a service's methods would keep keptMethods of them: their calls read the
// connection each time, and get its timeout as any call does.
func TestKeptTimeoutKeepsNoLongName(t *testing.T) {
	cfg := &config.Config{Budget: 8 * time.Second,
		Profiles: map[string]config.Profile{"p": {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second}}},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "p"}}}
	s := suiteOf(t, cfg)
	r := manual.NewBuilderWithScheme("longkept")
	cc, err := grpc.NewClient(r.Scheme()+":///faces", grpc.WithResolvers(r), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()
	sc := `{"methodConfig":[{"name":[{"service":"` + svcFaceMatch + `"}],"timeout":"5s"}]}`
	r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: "faces.invalid:1"}}, ServiceConfig: r.CC().ParseServiceConfig(sc)})
	t0 := time.Now()
	for i := range 100 {
		m := "/" + svcFaceMatch + "/" + testkit.LongName("M", i, 64<<10)
		if got := interceptors.KeptTimeout(s, cc, m, t0.Add(time.Duration(i)*time.Millisecond)); got != 5*time.Second {
			t.Fatalf("long name %d: %v, want 5s", i, got)
		}
	}
	m := "/" + svcFaceMatch + "/" + testkit.LongName("M", 0, 64<<10)
	for _, kept := range interceptors.KeptNames(s, m) {
		if len(kept) > 1024 {
			t.Fatalf("the memo of the chain of long names holds a name of %d bytes", len(kept))
		}
	}
}

// A per-attempt timeout that cuts overtaken attempts only is no method config's timeout, which
// grpc would apply to every attempt; one that cuts every attempt beside it still is.
func TestServiceConfigLeavesOvertakenOut(t *testing.T) {
	cfg := &config.Config{
		Budget: 8 * time.Second,
		Profiles: map[string]config.Profile{
			"ml":  {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 5 * time.Second, PerAttemptCut: retry.CutOvertaken}},
			"ocr": {Retry: &retry.Config{MaxAttempts: 3, PerAttemptTimeout: 2 * time.Second, PerAttemptCut: retry.CutAlways}},
		},
		Services: map[string]config.Service{svcFaceMatch: {Profile: "ml"}, svcOCR: {Profile: "ocr"}},
	}
	got, err := suiteOf(t, cfg).ServiceConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "FaceMatch") || !strings.Contains(got, `"timeout":"2s"`) {
		t.Errorf("service config %s: want OCR's 2s timeout and none for face match", got)
	}
}
