package stub

import (
	"context"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// do sends an HTTP request to the stub's metrics listener and returns status and body.
func do(t *testing.T, e *env, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "http://"+e.s.MetricsAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestAdminChangesFaults(t *testing.T) {
	e := start(t, Config{MetricsListen: "127.0.0.1:0", Faults: Faults{Latency: 0, Pushback: time.Second}})
	defer http.DefaultClient.CloseIdleConnections()
	ctx := context.Background()

	code, body := do(t, e, "GET", "/faults", "")
	if code != http.StatusOK || strings.TrimSpace(body) != `{"fail":{},"pushback":"1s"}` {
		t.Errorf("GET /faults = %d %s", code, body)
	}

	code, body = do(t, e, "PUT", "/faults", `{"fail":{"unavailable":1}}`)
	if code != http.StatusOK || strings.TrimSpace(body) != `{"fail":{"unavailable":1}}` {
		t.Fatalf("PUT /faults = %d %s", code, body)
	}
	if err := e.extract(ctx); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("after PUT unavailable=1: %v", err)
	}

	tests := []struct{ body, wantBody string }{
		{`{"fail":{"bogus":1}}`, `bad faults: fail: unknown code "bogus" (want a gRPC code in snake_case, such as unavailable or deadline_exceeded)`},
		{`{"fail":{"unavailable":2}}`, `bad faults: fail: rate 2 for unavailable is outside [0,1]`},
		{`{"latency":"-5ms"}`, `bad faults: latency: -5ms is negative`},
		{`not json`, `bad faults: invalid character 'o' in literal null (expecting 'u')`},
	}
	for _, tt := range tests {
		code, body := do(t, e, "PUT", "/faults", tt.body)
		if code != http.StatusBadRequest || strings.TrimSpace(body) != tt.wantBody {
			t.Errorf("PUT /faults %s = %d %q, want 400 %q", tt.body, code, body, tt.wantBody)
		}
	}
	// A rejected PUT leaves the profile alone.
	if f := e.s.Faults(); f.Fail[grpccodes.Unavailable] != 1 {
		t.Errorf("profile after rejected PUTs = %+v", f)
	}

	if code, _ := do(t, e, "PUT", "/faults", `{}`); code != http.StatusOK {
		t.Fatalf("PUT {} = %d", code)
	}
	if err := e.extract(ctx); err != nil {
		t.Errorf("after PUT {}: %v", err)
	}
	if code, _ := do(t, e, "DELETE", "/faults", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /faults = %d, want 405", code)
	}
}

func TestAdminOutage(t *testing.T) {
	fake := clocktest.New(time.Time{})
	e := start(t, Config{MetricsListen: "127.0.0.1:0"}, WithClock(fake))
	defer http.DefaultClient.CloseIdleConnections()
	ctx := context.Background()

	if code, body := do(t, e, "POST", "/down", ""); code != http.StatusOK || strings.TrimSpace(body) != `{"down":true}` {
		t.Errorf("POST /down = %d %s", code, body)
	}
	if err := e.extract(ctx); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("after /down: %v", err)
	}
	if !allHealth(t, e, healthpb.HealthCheckResponse_NOT_SERVING) {
		t.Error("not NOT_SERVING after /down")
	}
	if code, body := do(t, e, "POST", "/up", ""); code != http.StatusOK || strings.TrimSpace(body) != `{"down":false}` {
		t.Errorf("POST /up = %d %s", code, body)
	}
	if err := e.extract(ctx); err != nil {
		t.Errorf("after /up: %v", err)
	}

	code, body := do(t, e, "POST", "/outage?for=5s", "")
	want := `{"down":true,"until":"2026-01-01T00:00:05Z"}`
	if code != http.StatusOK || strings.TrimSpace(body) != want {
		t.Errorf("POST /outage?for=5s = %d %s, want %s", code, body, want)
	}
	if err := e.extract(ctx); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("during /outage: %v", err)
	}
	fake.Advance(5 * time.Second)
	if code, body := do(t, e, "GET", "/outage", ""); code != http.StatusOK || strings.TrimSpace(body) != `{"down":false}` {
		t.Errorf("GET /outage after 5s = %d %s", code, body)
	}
	if err := e.extract(ctx); err != nil {
		t.Errorf("after the outage: %v", err)
	}

	for _, q := range []string{"", "?for=soon", "?for=-1s"} {
		if code, _ := do(t, e, "POST", "/outage"+q, ""); code != http.StatusBadRequest {
			t.Errorf("POST /outage%s = %d, want 400", q, code)
		}
	}
}

func TestMetricsScrape(t *testing.T) {
	e := start(t, Config{MetricsListen: "127.0.0.1:0"})
	defer http.DefaultClient.CloseIdleConnections()
	ctx := context.Background()
	_ = e.extract(ctx)
	_ = e.extract(ctx)
	_, _ = e.ocr.Extract(ctx, &kycv1.ExtractRequest{DocumentImage: DocumentImage(1, true)})
	_ = e.extract(withScript(ctx, MDRequestID, "m", MDFailFirst, "1", MDFailCode, "resource_exhausted"))
	_, _ = check(ctx, e.live, Frames(1, 3, true))

	code, body := do(t, e, "GET", "/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, line := range []string{
		"# TYPE mlstub_requests_total counter",
		`mlstub_requests_total{code="OK",method="/kyc.v1.OCRService/Extract"} 2`,
		`mlstub_requests_total{code="InvalidArgument",method="/kyc.v1.OCRService/Extract"} 1`,
		`mlstub_requests_total{code="ResourceExhausted",method="/kyc.v1.OCRService/Extract"} 1`,
		`mlstub_requests_total{code="OK",method="/kyc.v1.LivenessService/Check"} 1`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("scrape lacks %q:\n%s", line, body)
		}
	}
	// Only the stub's own metric: no Go runtime collectors, no health or reflection calls.
	for l := range strings.SplitSeq(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "# ") && !strings.HasPrefix(l, MetricRequests+"{") {
			t.Errorf("unexpected series %q", l)
		}
	}
}

func TestStubsInOneProcessCountApart(t *testing.T) {
	a, b := start(t, Config{MetricsListen: "127.0.0.1:0"}), start(t, Config{MetricsListen: "127.0.0.1:0"})
	for range 3 {
		if err := a.extract(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.extract(context.Background()); err != nil {
		t.Fatal(err)
	}
	if na, nb := a.s.Requests(MethodExtract, grpccodes.OK), b.s.Requests(MethodExtract, grpccodes.OK); na != 3 || nb != 1 {
		t.Errorf("counts = %d and %d, want 3 and 1", na, nb)
	}
}

func TestServicesSubset(t *testing.T) {
	e := start(t, Config{Services: []string{ServiceOCR}})
	ctx := context.Background()
	if got, want := e.s.Services(), []string{"kyc.v1.OCRService"}; !slices.Equal(got, want) {
		t.Errorf("Services() = %v, want %v", got, want)
	}
	if err := e.extract(ctx); err != nil {
		t.Errorf("OCR: %v", err)
	}
	_, err := e.face.Compare(ctx, &kycv1.CompareRequest{})
	if status.Code(err) != grpccodes.Unimplemented {
		t.Errorf("FaceMatch on an OCR-only stub: %v, want Unimplemented", err)
	}
	if got := healthOf(t, e, HealthName(ServiceOCR)); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health of OCR = %v", got)
	}
	_, err = healthpb.NewHealthClient(e.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: HealthName(ServiceLiveness)})
	if status.Code(err) != grpccodes.NotFound {
		t.Errorf("health of liveness on an OCR-only stub: %v, want NotFound", err)
	}
}

func TestReflectionListsServices(t *testing.T) {
	e := start(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"kyc.v1.LivenessService", "kyc.v1.FaceMatchService", "kyc.v1.OCRService", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, lacks %s", names, want)
		}
	}
	_ = stream.CloseSend()
}

func TestServesOnBufconn(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	s, err := Start(context.Background(), Config{}, WithListener(lis))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := kycv1.NewOCRServiceClient(conn).Extract(context.Background(), &kycv1.ExtractRequest{DocumentImage: DocumentImage(2, false)})
	if err != nil || resp.GetFields().GetDocumentNumber() == "" {
		t.Fatalf("Extract over bufconn: %v, %v", resp, err)
	}
	if s.MetricsAddr() != "" {
		t.Errorf("MetricsAddr() = %q without a metrics listener", s.MetricsAddr())
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	_, err := Start(context.Background(), Config{Faults: Faults{SpikeRate: 2}})
	if err == nil || err.Error() != "faults: spike_rate: 2 is outside [0,1]" {
		t.Errorf("Start with a bad config: %v", err)
	}
	_, err = Start(context.Background(), Config{Listen: "127.0.0.1:notaport"})
	if err == nil {
		t.Error("Start on a bad address succeeded")
	}
}

// TestScheduledOutageIsLogged: a scheduled window (-outage-after, -outage-for) and the end of
// a timed one (POST /outage?for=) were silent: the logs said nothing when the service went
// down or came back, only the health status changed. Each edge is now an info line.
func TestScheduledOutageIsLogged(t *testing.T) {
	fake := clocktest.New(time.Time{})
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := Start(context.Background(), Config{Outage: OutageWindow{After: time.Minute, For: 10 * time.Second}},
		WithClock(fake), WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	// The timer's function runs on a goroutine of its own: wait for its line, however long.
	waitFor := func(msg string, n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); logs.FilterMessage(msg).Len() < n; {
			if time.Now().After(deadline) {
				t.Fatalf("no %q line; logged: %v", msg, logs.All())
			}
			time.Sleep(time.Millisecond)
		}
	}
	fake.Advance(time.Minute)
	waitFor("outage started", 1)
	fake.Advance(10 * time.Second)
	waitFor("outage ended", 1)
	if s.IsDown() {
		t.Error("still down after the window")
	}
	s.OutageFor(time.Second) // logs its start itself
	fake.Advance(time.Second)
	waitFor("outage ended", 2)
}

// TestOutageFromStartIsLogged: a window that starts with the stub (-outage-for alone) is
// logged when it starts and when it ends.
func TestOutageFromStartIsLogged(t *testing.T) {
	fake := clocktest.New(time.Time{})
	core, logs := observer.New(zapcore.InfoLevel)
	s, err := Start(context.Background(), Config{Outage: OutageWindow{For: 10 * time.Second}}, WithClock(fake), WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if logs.FilterMessage("outage started").Len() != 1 {
		t.Errorf("no \"outage started\" line at start: %v", logs.All())
	}
	fake.Advance(10 * time.Second)
	for deadline := time.Now().Add(10 * time.Second); logs.FilterMessage("outage ended").Len() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no \"outage ended\" line: %v", logs.All())
		}
	}
}

// TestFaultsChangedLogsEveryField: the "faults changed" line of a PUT /faults left out the
// capacity, so a log reader could not tell that a change made the service saturate. The line
// now carries every field of the admin endpoint's format, by its JSON name.
func TestFaultsChangedLogsEveryField(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	e := start(t, Config{MetricsListen: "127.0.0.1:0"}, WithLogger(zap.New(core)))
	defer http.DefaultClient.CloseIdleConnections()
	if code, body := do(t, e, "PUT", "/faults", `{"fail":{"unavailable":0.5},"latency":"2ms","capacity":3}`); code != http.StatusOK {
		t.Fatalf("PUT /faults = %d %s", code, body)
	}
	lines := logs.FilterMessage("faults changed").All()
	if len(lines) != 1 {
		t.Fatalf("%d \"faults changed\" lines, want 1: %v", len(lines), logs.All())
	}
	got := lines[0].ContextMap()
	ft := reflect.TypeFor[faultsJSON]()
	for i := range ft.NumField() {
		name, _, _ := strings.Cut(ft.Field(i).Tag.Get("json"), ",")
		if _, ok := got[name]; !ok {
			t.Errorf("the line lacks %q: %v", name, got)
		}
	}
	if len(got) != ft.NumField() {
		t.Errorf("the line has %d fields, the format %d: %v", len(got), ft.NumField(), got)
	}
	if got["capacity"] != int64(3) || got["fail"] != "unavailable=0.5" {
		t.Errorf("capacity %v, fail %v; want 3, unavailable=0.5", got["capacity"], got["fail"])
	}
}
