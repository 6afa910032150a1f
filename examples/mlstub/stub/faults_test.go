package stub

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	bcodes "github.com/bulwarkrpc/bulwark/codes"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	grpccodes "google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestInjectedErrorRate(t *testing.T) {
	const calls = 1000
	e := start(t, Config{Seed: 42, Faults: Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 0.2}}})
	ctx := context.Background()
	seen := map[grpccodes.Code]int{}
	for range calls {
		seen[status.Code(e.extract(ctx))]++
	}
	unavailable := seen[grpccodes.Unavailable]
	if unavailable < 150 || unavailable > 250 {
		t.Errorf("%d of %d calls failed Unavailable, want about 200", unavailable, calls)
	}
	if seen[grpccodes.OK]+unavailable != calls {
		t.Errorf("codes seen = %v, want only OK and Unavailable", seen)
	}
	for code, n := range seen {
		if got := e.s.Requests(MethodExtract, code); got != n {
			t.Errorf("Requests(Extract, %v) = %d, client saw %d", code, got, n)
		}
		if got := testutil.ToFloat64(e.s.requests.WithLabelValues(MethodExtract, code.String())); int(got) != n {
			t.Errorf("mlstub_requests_total{code=%q} = %v, client saw %d", code, got, n)
		}
	}
}

func TestInjectedCodesMix(t *testing.T) {
	const calls = 1000
	e := start(t, Config{Seed: 3, Faults: Faults{Fail: map[grpccodes.Code]float64{
		grpccodes.Unavailable: 0.3, grpccodes.DeadlineExceeded: 0.1, grpccodes.Internal: 0,
	}}})
	seen := map[grpccodes.Code]int{}
	for range calls {
		seen[status.Code(e.extract(context.Background()))]++
	}
	if n := seen[grpccodes.Unavailable]; n < 250 || n > 350 {
		t.Errorf("Unavailable %d of %d, want about 300", n, calls)
	}
	if n := seen[grpccodes.DeadlineExceeded]; n < 60 || n > 140 {
		t.Errorf("DeadlineExceeded %d of %d, want about 100", n, calls)
	}
	if n := seen[grpccodes.Internal]; n != 0 {
		t.Errorf("Internal %d, want 0 at rate 0", n)
	}
}

// TestRatesAddingUpToOneAlwaysFail: a rate of 1 fails every call, and so do rates that add up
// to 1, each code taking calls (the draws are seeded).
func TestRatesAddingUpToOneAlwaysFail(t *testing.T) {
	for _, fail := range []map[grpccodes.Code]float64{
		{grpccodes.Unavailable: 1},
		{grpccodes.Unavailable: 0.7, grpccodes.DeadlineExceeded: 0.2, grpccodes.Internal: 0.1},
	} {
		e := start(t, Config{Seed: 5, Faults: Faults{Fail: fail}})
		seen := map[grpccodes.Code]int{}
		for range 300 {
			seen[status.Code(e.extract(context.Background()))]++
		}
		if seen[grpccodes.OK] != 0 {
			t.Errorf("rates %v: %d of 300 calls succeeded, want none", fail, seen[grpccodes.OK])
		}
		for c := range fail {
			if seen[c] == 0 {
				t.Errorf("rates %v: no call failed %v", fail, c)
			}
		}
	}
}

func TestSeedMakesFaultsReproducible(t *testing.T) {
	faults := Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 0.3, grpccodes.Aborted: 0.1}}
	sequence := func(seed int64) []grpccodes.Code {
		e := start(t, Config{Seed: seed, Faults: faults})
		out := make([]grpccodes.Code, 200)
		for i := range out {
			out[i] = status.Code(e.extract(context.Background()))
		}
		return out
	}
	a, b, c := sequence(7), sequence(7), sequence(8)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different fault sequences")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same fault sequence")
	}
}

func withScript(ctx context.Context, kv ...string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

func TestScriptedFailFirst(t *testing.T) {
	e := start(t, Config{})
	ctx := context.Background()
	scripted := withScript(ctx, MDRequestID, "a", MDFailFirst, "2", MDFailCode, "unavailable")
	other := withScript(ctx, MDRequestID, "b")

	var got []grpccodes.Code
	for range 4 {
		got = append(got, status.Code(e.extract(scripted)))
		if err := e.extract(other); err != nil {
			t.Fatalf("request b, unscripted: %v", err)
		}
		if err := e.extract(ctx); err != nil {
			t.Fatalf("request without id: %v", err)
		}
	}
	want := []grpccodes.Code{grpccodes.Unavailable, grpccodes.Unavailable, grpccodes.OK, grpccodes.OK}
	if !slices.Equal(got, want) {
		t.Errorf("attempts of a = %v, want %v", got, want)
	}
	if n := e.s.Attempts(MethodExtract, "a"); n != 4 {
		t.Errorf("Attempts(Extract, a) = %d, want 4", n)
	}
	if n := e.s.Requests(MethodExtract, grpccodes.Unavailable); n != 2 {
		t.Errorf("Requests(Extract, Unavailable) = %d, want 2", n)
	}

	// Attempts are counted per method: the same id on Compare starts from 1.
	_, err := e.face.Compare(withScript(ctx, MDRequestID, "a", MDFailFirst, "1", MDFailCode, "deadline_exceeded"),
		&kycv1.CompareRequest{Selfie: Selfie(1, true), DocumentFace: DocumentImage(1, false)})
	if status.Code(err) != grpccodes.DeadlineExceeded {
		t.Errorf("Compare with id a, fail first 1: %v, want DeadlineExceeded", err)
	}
}

func TestScriptedFailOnStream(t *testing.T) {
	e := start(t, Config{})
	ctx := withScript(context.Background(), MDRequestID, "v1", MDFailFirst, "1")
	frames := Frames(1, 5, true)
	if _, err := check(ctx, e.live, frames); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("first attempt: %v, want Unavailable (the default scripted code)", err)
	}
	resp, err := check(ctx, e.live, frames)
	if err != nil || resp.GetVerdict() != kycv1.LivenessVerdict_LIVENESS_VERDICT_LIVE {
		t.Fatalf("second attempt: %v, %v; want LIVE", resp, err)
	}
	// A stream of five frames is one request.
	if n := e.s.Requests(MethodCheck, grpccodes.Unavailable); n != 1 {
		t.Errorf("Requests(Check, Unavailable) = %d, want 1", n)
	}
	if n := e.s.Requests(MethodCheck, grpccodes.OK); n != 1 {
		t.Errorf("Requests(Check, OK) = %d, want 1", n)
	}
}

func TestPushbackOnResourceExhausted(t *testing.T) {
	e := start(t, Config{Faults: Faults{
		Fail:     map[grpccodes.Code]float64{grpccodes.ResourceExhausted: 1},
		Pushback: 500 * time.Millisecond,
	}})
	ctx := context.Background()
	tests := []struct {
		name      string
		ctx       context.Context
		wantDelay time.Duration
	}{
		{"injected", ctx, 500 * time.Millisecond},
		{"scripted, profile pushback", withScript(ctx, MDRequestID, "p1", MDFailFirst, "1", MDFailCode, "resource_exhausted"),
			500 * time.Millisecond},
		{"scripted, own pushback", withScript(ctx, MDRequestID, "p2", MDFailFirst, "1", MDFailCode, "resource_exhausted",
			MDPushback, "250ms"), 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.extract(tt.ctx)
			if status.Code(err) != grpccodes.ResourceExhausted {
				t.Fatalf("code = %v, want ResourceExhausted", err)
			}
			ri := retryInfo(err)
			if ri == nil {
				t.Fatal("no RetryInfo")
			}
			if got := ri.GetRetryDelay().AsDuration(); got != tt.wantDelay {
				t.Errorf("RetryInfo delay = %v, want %v", got, tt.wantDelay)
			}
			v := bcodes.Default().Classify(err)
			if v.Class != bcodes.Throttled || !v.Pushback.Set || v.Pushback.Delay != tt.wantDelay {
				t.Errorf("bulwark classifies it as %+v, want Throttled with pushback %v", v, tt.wantDelay)
			}
		})
	}

	if err := e.s.SetFaults(Faults{Fail: map[grpccodes.Code]float64{grpccodes.ResourceExhausted: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := e.extract(ctx); status.Code(err) != grpccodes.ResourceExhausted || retryInfo(err) != nil {
		t.Errorf("without pushback: %v, RetryInfo %v; want ResourceExhausted without RetryInfo", err, retryInfo(err))
	}
}

func TestBadScriptMetadata(t *testing.T) {
	e := start(t, Config{})
	tests := []struct {
		name    string
		kv      []string
		wantMsg string
	}{
		{"fail-first not a number", []string{MDRequestID, "x", MDFailFirst, "two"},
			`mlstub: metadata x-mlstub-fail-first: want a non-negative integer, got "two"`},
		{"fail-first without id", []string{MDFailFirst, "2"},
			`mlstub: metadata x-mlstub-fail-first: "2" needs x-mlstub-request-id`},
		{"bad code", []string{MDRequestID, "x", MDFailFirst, "1", MDFailCode, "oops"},
			`mlstub: metadata x-mlstub-fail-code: want a gRPC error code in snake_case such as unavailable, got "oops"`},
		{"bad delay", []string{MDDelay, "soon"},
			`mlstub: metadata x-mlstub-delay: want a non-negative Go duration such as 300ms, got "soon"`},
		{"delay-first without id", []string{MDDelay, "1s", MDDelayFirst, "1"},
			`mlstub: metadata x-mlstub-delay-first: "1" needs x-mlstub-request-id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.extract(withScript(context.Background(), tt.kv...))
			st := status.Convert(err)
			if st.Code() != grpccodes.InvalidArgument || st.Message() != tt.wantMsg {
				t.Errorf("got %v %q\nwant InvalidArgument %q", st.Code(), st.Message(), tt.wantMsg)
			}
		})
	}
}

func TestScriptMemoryIsBounded(t *testing.T) {
	e := start(t, Config{ScriptCapacity: 2})
	ctx := context.Background()
	failA := withScript(ctx, MDRequestID, "a", MDFailFirst, "1")
	if err := e.extract(failA); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("a, attempt 1: %v", err)
	}
	if err := e.extract(failA); err != nil {
		t.Fatalf("a, attempt 2: %v", err)
	}
	for _, id := range []string{"b", "c"} {
		if err := e.extract(withScript(ctx, MDRequestID, id)); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.s.attempts.len(); n != 2 {
		t.Errorf("remembered %d ids, want the capacity 2", n)
	}
	if n := e.s.Attempts(MethodExtract, "a"); n != 0 {
		t.Errorf("Attempts(a) = %d after eviction, want 0", n)
	}
	// Forgotten, a starts over.
	if err := e.extract(failA); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("a after eviction: %v, want Unavailable again", err)
	}
}

// result is the outcome of a call made in the background.
type result struct{ err error }

func goExtract(e *env, ctx context.Context) <-chan result {
	ch := make(chan result, 1)
	go func() { ch <- result{e.extract(ctx)} }()
	return ch
}

func TestDelayIsExact(t *testing.T) {
	fake := clocktest.New(time.Time{})
	e := start(t, Config{}, WithClock(fake))
	done := goExtract(e, withScript(context.Background(), MDDelay, "300ms"))
	blockUntil(t, fake, 1)
	select {
	case r := <-done:
		t.Fatalf("returned before the clock moved: %v", r.err)
	default:
	}
	if d := fake.AdvanceWhenWaiting(); d != 300*time.Millisecond {
		t.Errorf("the stub waited %v, want 300ms", d)
	}
	if r := <-done; r.err != nil {
		t.Fatalf("delayed call: %v", r.err)
	}
}

func TestLatencyAndSpikes(t *testing.T) {
	tests := []struct {
		name     string
		faults   Faults
		kv       []string
		wantWait time.Duration
	}{
		{"latency", Faults{Latency: 20 * time.Millisecond}, nil, 20 * time.Millisecond},
		{"latency and spike", Faults{Latency: 20 * time.Millisecond, SpikeRate: 1, Spike: 2 * time.Second}, nil,
			2020 * time.Millisecond},
		{"latency, spike and scripted delay", Faults{Latency: 20 * time.Millisecond, SpikeRate: 1, Spike: 2 * time.Second},
			[]string{MDDelay, "300ms"}, 2320 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clocktest.New(time.Time{})
			e := start(t, Config{Faults: tt.faults}, WithClock(fake))
			done := goExtract(e, withScript(context.Background(), tt.kv...))
			if d := fake.AdvanceWhenWaiting(); d != tt.wantWait {
				t.Errorf("the stub waited %v, want %v", d, tt.wantWait)
			}
			if r := <-done; r.err != nil {
				t.Fatal(r.err)
			}
		})
	}
}

func TestDelayFirstOnly(t *testing.T) {
	fake := clocktest.New(time.Time{})
	e := start(t, Config{}, WithClock(fake))
	ctx := withScript(context.Background(), MDRequestID, "slow", MDDelay, "1h", MDDelayFirst, "1")
	first := goExtract(e, ctx)
	blockUntil(t, fake, 1)
	// The second attempt is not delayed: it answers while the first still waits. Were it
	// delayed, the fake clock would hold it for good: a real-time guard fails it instead.
	sctx, cancel := context.WithTimeout(ctx, waitGuard)
	defer cancel()
	if err := e.extract(sctx); err != nil {
		t.Fatalf("second attempt: %v, want an answer without the delay", err)
	}
	select {
	case r := <-first:
		t.Fatalf("first attempt returned before the clock moved: %v", r.err)
	default:
	}
	fake.Advance(time.Hour)
	select {
	case r := <-first:
		if r.err != nil {
			t.Fatalf("first attempt: %v", r.err)
		}
	case <-time.After(waitGuard):
		t.Fatalf("first attempt still waits %v after the clock moved past its delay", waitGuard)
	}
}

func TestDelayHonoursCancellation(t *testing.T) {
	fake := clocktest.New(time.Time{})
	e := start(t, Config{}, WithClock(fake))

	ctx, cancel := context.WithCancel(withScript(context.Background(), MDDelay, "1h"))
	done := goExtract(e, ctx)
	blockUntil(t, fake, 1)
	cancel()
	if r := <-done; status.Code(r.err) != grpccodes.Canceled {
		t.Fatalf("cancelled call: %v, want Canceled", r.err)
	}
	eventually(t, "the stub to count the call as Canceled", func() bool {
		return e.s.Requests(MethodExtract, grpccodes.Canceled) == 1
	})
	eventually(t, "the stub to stop its timer", func() bool { return fake.Timers() == 0 })

	// A caller's deadline ends the wait as DeadlineExceeded.
	dctx, dcancel := context.WithTimeout(withScript(context.Background(), MDDelay, "1h"), 50*time.Millisecond)
	defer dcancel()
	if err := e.extract(dctx); status.Code(err) != grpccodes.DeadlineExceeded {
		t.Fatalf("call past its deadline: %v, want DeadlineExceeded", err)
	}
	// The server sees either its own deadline expire (DeadlineExceeded) or the client's reset
	// (Canceled) first; both end the wait.
	eventually(t, "the stub to count the call past its deadline", func() bool {
		return e.s.Requests(MethodExtract, grpccodes.Canceled)+e.s.Requests(MethodExtract, grpccodes.DeadlineExceeded) == 2
	})
	if n := e.s.Requests(MethodExtract, grpccodes.OK); n != 0 {
		t.Errorf("Requests(Extract, OK) = %d, want 0", n)
	}
}

func healthOf(t *testing.T, e *env, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := healthpb.NewHealthClient(e.conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("health check %q: %v", service, err)
	}
	return resp.GetStatus()
}

// allHealth reports whether "" and every served service have status want.
func allHealth(t *testing.T, e *env, want healthpb.HealthCheckResponse_ServingStatus) bool {
	t.Helper()
	for _, name := range append([]string{""}, e.s.Services()...) {
		if healthOf(t, e, name) != want {
			return false
		}
	}
	return true
}

func TestOutageWindow(t *testing.T) {
	fake := clocktest.New(time.Time{})
	e := start(t, Config{Outage: OutageWindow{After: time.Minute, For: 30 * time.Second}}, WithClock(fake))
	ctx := context.Background()
	if err := e.extract(ctx); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	if !allHealth(t, e, healthpb.HealthCheckResponse_SERVING) {
		t.Fatal("not SERVING before the outage")
	}

	fake.Advance(time.Minute)
	eventually(t, "NOT_SERVING during the outage", func() bool {
		return allHealth(t, e, healthpb.HealthCheckResponse_NOT_SERVING)
	})
	for _, call := range []func() error{
		func() error { return e.extract(ctx) },
		func() error {
			_, err := e.face.Compare(ctx, &kycv1.CompareRequest{Selfie: Selfie(1, true), DocumentFace: DocumentImage(1, false)})
			return err
		},
		func() error { _, err := check(ctx, e.live, Frames(1, 2, true)); return err },
	} {
		if err := call(); status.Code(err) != grpccodes.Unavailable {
			t.Errorf("during the outage: %v, want Unavailable", err)
		}
	}

	fake.Advance(30*time.Second - time.Nanosecond)
	if !e.s.IsDown() {
		t.Error("up before the window's end")
	}
	fake.Advance(time.Nanosecond)
	eventually(t, "SERVING after the outage", func() bool {
		return allHealth(t, e, healthpb.HealthCheckResponse_SERVING)
	})
	if err := e.extract(ctx); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	if n := e.s.Requests(MethodExtract, grpccodes.Unavailable); n != 1 {
		t.Errorf("Requests(Extract, Unavailable) = %d, want 1", n)
	}
}

func TestDownAndUp(t *testing.T) {
	e := start(t, Config{})
	ctx := withScript(context.Background(), MDRequestID, "r", MDFailFirst, "1")
	e.s.Down()
	if !allHealth(t, e, healthpb.HealthCheckResponse_NOT_SERVING) {
		t.Error("not NOT_SERVING after Down")
	}
	err := e.extract(ctx)
	if st := status.Convert(err); st.Code() != grpccodes.Unavailable || st.Message() != "mlstub: service is down (outage)" {
		t.Errorf("while down: %v", err)
	}
	if n := e.s.Attempts(MethodExtract, "r"); n != 0 {
		t.Errorf("a call refused by the outage counted as attempt %d", n)
	}
	e.s.Up()
	if !allHealth(t, e, healthpb.HealthCheckResponse_SERVING) {
		t.Error("not SERVING after Up")
	}
	if err := e.extract(ctx); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("scripted first attempt after Up: %v, want Unavailable", err)
	}
	if err := e.extract(ctx); err != nil {
		t.Errorf("second attempt after Up: %v", err)
	}
}

func TestOutageForEndsByItself(t *testing.T) {
	fake := clocktest.New(time.Time{})
	e := start(t, Config{}, WithClock(fake))
	e.s.OutageFor(5 * time.Second)
	if err := e.extract(context.Background()); status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("during OutageFor: %v", err)
	}
	if want := fake.Now().Add(5 * time.Second).UTC().Format(time.RFC3339Nano); e.s.OutageState().Until != want {
		t.Errorf("OutageState().Until = %q, want %q", e.s.OutageState().Until, want)
	}
	fake.Advance(5 * time.Second)
	if err := e.extract(context.Background()); err != nil {
		t.Fatalf("after OutageFor: %v", err)
	}
	eventually(t, "SERVING after OutageFor", func() bool {
		return allHealth(t, e, healthpb.HealthCheckResponse_SERVING)
	})
}

func TestStopCutsCallsAfterTimeout(t *testing.T) {
	fake := clocktest.New(time.Time{})
	s, err := Start(context.Background(), Config{StopTimeout: 100 * time.Millisecond}, WithClock(fake))
	if err != nil {
		t.Fatal(err)
	}
	e := connect(t, s)
	done := goExtract(e, withScript(context.Background(), MDDelay, "1h"))
	blockUntil(t, fake, 1)
	begin := time.Now()
	s.Stop()
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("Stop took %v with a 100ms timeout", took)
	}
	r := <-done
	if code := status.Code(r.err); code != grpccodes.Unavailable && code != grpccodes.Canceled {
		t.Errorf("call cut by Stop: %v, want Unavailable or Canceled", r.err)
	}
	if n := s.Requests(MethodExtract, grpccodes.OK); n != 0 {
		t.Errorf("Requests(Extract, OK) = %d after the cut, want 0", n)
	}
	s.Stop() // idempotent
}

func TestFaultDecisionIsPerRequest(t *testing.T) {
	// With one failure code at rate 0.5 and a long stream, the whole stream succeeds or fails:
	// every stream is exactly one count, whatever its frames.
	e := start(t, Config{Seed: 11, Faults: Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 0.5}}})
	for i := range 20 {
		_, err := check(context.Background(), e.live, Frames(int64(i), 10, true))
		if c := status.Code(err); c != grpccodes.OK && c != grpccodes.Unavailable {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	if n := e.s.Requests(MethodCheck, grpccodes.OK) + e.s.Requests(MethodCheck, grpccodes.Unavailable); n != 20 {
		t.Errorf("20 streams of 10 frames counted %d requests, want 20", n)
	}
}

func TestCapacityStretchesLatency(t *testing.T) {
	fake := clocktest.New(time.Time{})
	e := start(t, Config{Faults: Faults{Latency: 100 * time.Millisecond, Capacity: 2}}, WithClock(fake))
	// Admitted one at a time, the four requests find 1, 2, 3 and 4 in service: 100ms, 100ms,
	// 150ms and 200ms.
	var done []<-chan result
	for i := range 4 {
		done = append(done, goExtract(e, context.Background()))
		blockUntil(t, fake, i+1)
	}
	finished := func() int {
		n := 0
		for _, ch := range done {
			if len(ch) > 0 {
				n++
			}
		}
		return n
	}
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{99 * time.Millisecond, 0}, {time.Millisecond, 2}, {50 * time.Millisecond, 3}, {50 * time.Millisecond, 4}} {
		fake.Advance(step.advance)
		deadline := time.Now().Add(10 * time.Second) // generous: answers travel on a busy machine
		for finished() < step.want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond) // give a wrongly finished request the chance to show
		if got := finished(); got != step.want {
			t.Fatalf("at %v: %d requests finished, want %d", fake.Now().Sub(clocktest.New(time.Time{}).Now()), got, step.want)
		}
	}
	for _, ch := range done {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
}

// readCounter is a fake clock that counts its readings, so that a test can tell when a request
// has passed the stub's decision (which reads the clock) without a sleep.
type readCounter struct {
	*clocktest.Fake
	reads atomic.Int64
}

func (c *readCounter) Now() time.Time { c.reads.Add(1); return c.Fake.Now() }

// TestCapacityCountsARequestFromItsDecision: a request is in service from the moment its
// delay is decided. Before, it was counted only after the decision and the scripted attempt
// count, so a request decided in between found one fewer in service than there were and was
// not stretched: here, with capacity 1, a second request while a scripted one was being
// admitted waited 100ms, not 200ms.
func TestCapacityCountsARequestFromItsDecision(t *testing.T) {
	clk := &readCounter{Fake: clocktest.New(time.Time{})}
	e := start(t, Config{Faults: Faults{Latency: 100 * time.Millisecond, Capacity: 1}}, WithClock(clk))
	e.s.attempts.mu.Lock() // holds the scripted request A between its decision and its wait
	before := clk.reads.Load()
	a := goExtract(e, withScript(context.Background(), MDRequestID, "a"))
	// A reads the clock twice up to its decision: its start, and once in decide, under the
	// lock that orders the decisions (B's comes after it).
	eventually(t, "request A's decision", func() bool { return clk.reads.Load() >= before+2 })
	b := goExtract(e, context.Background())
	blockUntil(t, clk, 1) // B waits
	e.s.attempts.mu.Unlock()
	blockUntil(t, clk, 2) // A waits too
	clk.Advance(100 * time.Millisecond)
	if r := <-a; r.err != nil {
		t.Fatal(r.err)
	}
	if n := clk.Timers(); n != 1 {
		t.Fatalf("at 100ms %d requests still wait, want 1: the second request, admitted while the first was in service, waits 200ms", n)
	}
	clk.Advance(100 * time.Millisecond)
	if r := <-b; r.err != nil {
		t.Fatal(r.err)
	}
}
