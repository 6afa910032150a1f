package fallback_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/interceptors/fallback"
	"github.com/bulwarkrpc/bulwark/internal/testkit"
	"github.com/bulwarkrpc/bulwark/observe"
	kycv1 "github.com/bulwarkrpc/bulwark/proto/kyc/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var degraded = &kycv1.CompareResponse{Similarity: 0, Verdict: kycv1.FaceMatchVerdict_FACE_MATCH_VERDICT_UNSPECIFIED}

func TestNew(t *testing.T) {
	fn := fallback.Func(func(context.Context, string, any, error) proto.Message { return nil })
	tests := []struct {
		name    string
		target  string
		cfg     fallback.Config
		reply   fallback.Reply
		wantErr []string // substrings of the error; nil: no error
	}{
		{name: "method and message", target: testkit.MethodCompare, reply: fallback.Message(degraded)},
		{name: "message of the wrong type", target: testkit.MethodCompare, reply: fallback.Message(&kycv1.ExtractResponse{}),
			wantErr: []string{testkit.MethodCompare, "kyc.v1.ExtractResponse", "kyc.v1.CompareResponse"}},
		{name: "reply json", target: testkit.MethodExtract, cfg: fallback.Config{ReplyJSON: `{"confidence": 0.1, "fields": {"documentNumber": "UNKNOWN"}}`}},
		{name: "reply json that does not fit", target: testkit.MethodExtract, cfg: fallback.Config{ReplyJSON: `{"similarity": 0.5}`},
			wantErr: []string{testkit.MethodExtract, "kyc.v1.ExtractResponse", "similarity"}},
		{name: "reply json not json", target: testkit.MethodExtract, cfg: fallback.Config{ReplyJSON: `{confidence`},
			wantErr: []string{testkit.MethodExtract, "kyc.v1.ExtractResponse"}},
		{name: "reply json for unknown method", target: "/kyc.v1.OCRService/Scan", cfg: fallback.Config{ReplyJSON: `{}`},
			wantErr: []string{"/kyc.v1.OCRService/Scan", "unknown"}},
		{name: "reply json for unknown service", target: "/kyc.v9.Nope/Scan", cfg: fallback.Config{ReplyJSON: `{}`},
			wantErr: []string{"/kyc.v9.Nope/Scan", "kyc.v9.Nope"}},
		{name: "reply json for a service", target: "kyc.v1.OCRService", cfg: fallback.Config{ReplyJSON: `{}`}, wantErr: []string{"full method"}},
		{name: "message for a service", target: "kyc.v1.OCRService", reply: fallback.Message(degraded), wantErr: []string{"full method"}},
		{name: "func for a service", target: "kyc.v1.OCRService", reply: fn},
		{name: "code wins over json", target: testkit.MethodCompare, reply: fallback.Message(degraded), cfg: fallback.Config{ReplyJSON: `not json`}},
		{name: "message for an unregistered method", target: "/x.v1.Other/Call", reply: fallback.Message(degraded)},
		{name: "no reply", target: testkit.MethodCompare, wantErr: []string{"no reply"}},
		{name: "nil message", target: testkit.MethodCompare, reply: fallback.Message(nil), wantErr: []string{"Message(nil)"}},
		{name: "nil func", target: testkit.MethodCompare, reply: fallback.Func(nil), wantErr: []string{"Func(nil)"}},
		{name: "empty target", target: "", reply: fn, wantErr: []string{"neither"}},
		{name: "malformed method", target: "/Compare", reply: fn, wantErr: []string{"full method"}},
		{name: "invalid code", target: testkit.MethodCompare, reply: fn, cfg: fallback.Config{OnCodes: []string{"NOPE"}}, wantErr: []string{"on_codes[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := fallback.New(tt.target, tt.cfg, tt.reply)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("New = %v, want no error", err)
				}
				if f.Target() != tt.target {
					t.Errorf("Target = %q", f.Target())
				}
				return
			}
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

// TestUnaryServed runs Compare calls that fail with each kind of error through a fallback over a
// real connection.
func TestUnaryServed(t *testing.T) {
	rejection := &codes.Rejection{Err: errors.New("open"), Code: grpccodes.Unavailable, Reason: "CIRCUIT_OPEN", Policy: "breaker", Service: "kyc.v1.FaceMatchService"}
	tests := []struct {
		name       string
		cfg        fallback.Config
		serverErr  error // what the server answers
		inner      error // what a policy inside the fallback answers, never reaching the server
		cancel     bool
		wantServed bool
		wantCode   grpccodes.Code // of the original error, and of the event when served
		wantClass  codes.Class
	}{
		{name: "unavailable", serverErr: testkit.Status(grpccodes.Unavailable, ""), wantServed: true, wantCode: grpccodes.Unavailable, wantClass: codes.Transient},
		{name: "deadline exceeded", serverErr: testkit.Status(grpccodes.DeadlineExceeded, ""), wantServed: true, wantCode: grpccodes.DeadlineExceeded, wantClass: codes.Transient},
		{name: "throttled", serverErr: testkit.Throttled(time.Second), wantServed: true, wantCode: grpccodes.ResourceExhausted, wantClass: codes.Throttled},
		{name: "internal", serverErr: testkit.Status(grpccodes.Internal, ""), wantServed: true, wantCode: grpccodes.Internal, wantClass: codes.ServerFault},
		{name: "breaker open", inner: rejection, wantServed: true, wantCode: grpccodes.Unavailable, wantClass: codes.Rejected},
		{name: "business error", serverErr: testkit.Status(grpccodes.InvalidArgument, "DOCUMENT_UNREADABLE"), wantCode: grpccodes.InvalidArgument},
		{name: "not found", serverErr: testkit.Status(grpccodes.NotFound, ""), wantCode: grpccodes.NotFound},
		{name: "caller canceled", cancel: true, wantCode: grpccodes.Canceled},
		{name: "on code only", cfg: fallback.Config{OnCodes: []string{"NOT_FOUND"}}, serverErr: testkit.Status(grpccodes.NotFound, ""), wantServed: true, wantCode: grpccodes.NotFound, wantClass: codes.Business},
		{name: "on code excludes others", cfg: fallback.Config{OnCodes: []string{"NOT_FOUND"}}, serverErr: testkit.Status(grpccodes.Unavailable, ""), wantCode: grpccodes.Unavailable},
		{name: "on class business", cfg: fallback.Config{OnClasses: []codes.Class{codes.Business}}, serverErr: testkit.Status(grpccodes.InvalidArgument, ""), wantServed: true, wantCode: grpccodes.InvalidArgument, wantClass: codes.Business},
		{name: "on class excludes others", cfg: fallback.Config{OnClasses: []codes.Class{codes.Business}}, serverErr: testkit.Status(grpccodes.Internal, ""), wantCode: grpccodes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testkit.Start(t, &testkit.Server{CompareF: func(context.Context, int, *kycv1.CompareRequest) (*kycv1.CompareResponse, error) {
				return nil, tt.serverErr
			}})
			rec := &testkit.Recorder{}
			clk := clocktest.New(time.Time{})
			f, err := fallback.New(testkit.MethodCompare, tt.cfg, fallback.Message(degraded), fallback.WithObserver(rec), fallback.WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			inner := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
				if tt.inner != nil {
					return tt.inner
				}
				return invoker(ctx, method, req, reply, cc, opts...)
			}
			client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, grpc.WithChainUnaryInterceptor(f.Unary(), inner)))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			resp, err := client.Compare(ctx, &kycv1.CompareRequest{Selfie: []byte("face")})
			evs := rec.Events(observe.FallbackServed)
			if !tt.wantServed {
				if status.Code(err) != tt.wantCode || resp != nil {
					t.Fatalf("Compare = %v, %v; want the original %v error", resp, err, tt.wantCode)
				}
				if len(evs) != 0 || f.Served() != 0 {
					t.Errorf("events %v, Served %d; want none", evs, f.Served())
				}
				return
			}
			if err != nil {
				t.Fatalf("Compare = %v, want the fallback", err)
			}
			if !proto.Equal(resp, degraded) {
				t.Errorf("reply = %v, want %v", resp, degraded)
			}
			if f.Served() != 1 || len(evs) != 1 {
				t.Fatalf("Served %d, events %v; want 1", f.Served(), evs)
			}
			e := evs[0]
			if e.Code != tt.wantCode || e.Class != tt.wantClass || e.Policy != observe.PolicyFallback ||
				e.Method != testkit.MethodCompare || e.Service != "kyc.v1.FaceMatchService" || !e.Time.Equal(clk.Now()) {
				t.Errorf("event = %+v, want code %v class %v", e, tt.wantCode, tt.wantClass)
			}
		})
	}
}

func TestReplyTypeMismatch(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{CompareF: testkit.FailFirst(1, testkit.Status(grpccodes.Unavailable, ""))})
	rec := &testkit.Recorder{}
	f, err := fallback.New("kyc.v1.FaceMatchService", fallback.Config{}, fallback.Func(func(context.Context, string, any, error) proto.Message {
		return &kycv1.ExtractResponse{Confidence: 1}
	}), fallback.WithObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	client := kycv1.NewFaceMatchServiceClient(srv.Dial(t, grpc.WithUnaryInterceptor(f.Unary())))
	_, err = client.Compare(context.Background(), &kycv1.CompareRequest{})
	var rte *fallback.ReplyTypeError
	if !errors.As(err, &rte) || !errors.Is(err, fallback.ErrReplyType) {
		t.Fatalf("err = %v, want a ReplyTypeError", err)
	}
	if rte.Want != "kyc.v1.CompareResponse" || rte.Got != "kyc.v1.ExtractResponse" || rte.Method != testkit.MethodCompare {
		t.Errorf("ReplyTypeError = %+v", rte)
	}
	if status.Code(err) != grpccodes.Unavailable {
		t.Errorf("status.Code = %v, want the original Unavailable", status.Code(err))
	}
	if f.Served() != 0 || rec.Count(observe.FallbackServed) != 0 {
		t.Errorf("Served %d, events %d; want none", f.Served(), rec.Count(observe.FallbackServed))
	}
	if resp, err := client.Compare(context.Background(), &kycv1.CompareRequest{}); err != nil || resp.GetSimilarity() == 0 {
		t.Errorf("a successful call was touched: %v, %v", resp, err)
	}
}

type ctxKey struct{}

// TestFuncSeesTheCall checks what a Func is given, and that a nil reply lets the error stand.
func TestFuncSeesTheCall(t *testing.T) {
	wantErr := testkit.Status(grpccodes.Unavailable, "")
	srv := testkit.Start(t, &testkit.Server{ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
		return nil, wantErr
	}})
	type seen struct {
		val    any
		method string
		req    *kycv1.ExtractRequest
		code   grpccodes.Code
	}
	got := make(chan seen, 2)
	decline := false
	f, _ := fallback.New("kyc.v1.OCRService", fallback.Config{}, fallback.Func(func(ctx context.Context, method string, req any, err error) proto.Message {
		r, _ := req.(*kycv1.ExtractRequest)
		got <- seen{ctx.Value(ctxKey{}), method, r, status.Code(err)}
		if decline {
			return nil
		}
		return &kycv1.ExtractResponse{Confidence: 0.01}
	}))
	client := kycv1.NewOCRServiceClient(srv.Dial(t, grpc.WithUnaryInterceptor(f.Unary())))
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	req := &kycv1.ExtractRequest{DocumentImage: []byte{1, 2}}
	resp, err := client.Extract(ctx, req)
	if err != nil || resp.GetConfidence() != 0.01 {
		t.Fatalf("Extract = %v, %v; want the fallback", resp, err)
	}
	s := <-got
	if s.val != "v" || s.method != testkit.MethodExtract || !proto.Equal(s.req, req) || s.code != grpccodes.Unavailable {
		t.Errorf("Func saw %+v", s)
	}
	decline = true
	if _, err := client.Extract(ctx, req); status.Code(err) != grpccodes.Unavailable {
		t.Errorf("declined fallback: err = %v, want the original", err)
	}
	<-got
	if f.Served() != 1 {
		t.Errorf("Served = %d, want 1", f.Served())
	}
}

func TestReplyJSONServed(t *testing.T) {
	srv := testkit.Start(t, &testkit.Server{ExtractF: func(context.Context, int, *kycv1.ExtractRequest) (*kycv1.ExtractResponse, error) {
		return nil, testkit.Status(grpccodes.Internal, "")
	}})
	f, err := fallback.New(testkit.MethodExtract, fallback.Config{ReplyJSON: `{"confidence": 0.25, "fields": {"documentNumber": "UNREAD"}}`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := kycv1.NewOCRServiceClient(srv.Dial(t, grpc.WithUnaryInterceptor(f.Unary())))
	resp, err := client.Extract(context.Background(), &kycv1.ExtractRequest{})
	want := &kycv1.ExtractResponse{Confidence: 0.25, Fields: &kycv1.DocumentFields{DocumentNumber: "UNREAD"}}
	if err != nil || !proto.Equal(resp, want) {
		t.Fatalf("Extract = %v, %v; want %v", resp, err, want)
	}
}

// TestCovers: a fallback for one method leaves every other method alone.
func TestCovers(t *testing.T) {
	fn := fallback.Func(func(context.Context, string, any, error) proto.Message { return nil })
	tests := []struct {
		target string
		method string
		want   bool
	}{
		{target: testkit.MethodCompare, method: testkit.MethodCompare, want: true},
		{target: testkit.MethodCompare, method: testkit.MethodExtract},
		{target: "kyc.v1.OCRService", method: testkit.MethodExtract, want: true},
		{target: "kyc.v1.OCRService", method: "/kyc.v1.OCRService/Other", want: true},
		{target: "kyc.v1.OCRService", method: testkit.MethodCompare},
		{target: "kyc.v1.OCR", method: testkit.MethodExtract},
		// "*" names no method: "/<service>/*" covers every method of the service.
		{target: "/kyc.v1.OCRService/*", method: testkit.MethodExtract, want: true},
		{target: "/kyc.v1.OCRService/*", method: "/kyc.v1.OCRService/Other", want: true},
		{target: "/kyc.v1.OCRService/*", method: testkit.MethodCompare},
		{target: "/kyc.v1.OCR/*", method: testkit.MethodExtract},
	}
	for _, tt := range tests {
		f, err := fallback.New(tt.target, fallback.Config{}, fn)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Covers(tt.method); got != tt.want {
			t.Errorf("New(%q).Covers(%q) = %v, want %v", tt.target, tt.method, got, tt.want)
		}
	}
}

// TestRecoverWithoutGRPC uses the policy directly, and a chain of per-method fallbacks.
func TestRecoverWithoutGRPC(t *testing.T) {
	face, _ := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded))
	ocr, _ := fallback.New(testkit.MethodExtract, fallback.Config{}, fallback.Message(&kycv1.ExtractResponse{Confidence: 0.5}))
	down := testkit.Status(grpccodes.Unavailable, "")
	tests := []struct {
		name    string
		method  string
		reply   proto.Message
		err     error
		wantErr bool
		want    proto.Message
	}{
		{name: "compare", method: testkit.MethodCompare, reply: &kycv1.CompareResponse{Similarity: 0.7}, err: down, want: degraded},
		{name: "extract", method: testkit.MethodExtract, reply: &kycv1.ExtractResponse{Fields: &kycv1.DocumentFields{Surname: "x"}}, err: down, want: &kycv1.ExtractResponse{Confidence: 0.5}},
		{name: "uncovered", method: testkit.MethodVerify, reply: &kycv1.VerifyResponse{}, err: down, wantErr: true},
		{name: "no error", method: testkit.MethodCompare, reply: &kycv1.CompareResponse{Similarity: 0.7}, want: &kycv1.CompareResponse{Similarity: 0.7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err
			for _, f := range []*fallback.Fallback{face, ocr} {
				err = f.Recover(context.Background(), tt.method, nil, tt.reply, err)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Recover = %v, want error %v", err, tt.wantErr)
			}
			if tt.want != nil && !proto.Equal(tt.reply, tt.want) {
				t.Errorf("reply = %v, want %v (reset, then merged)", tt.reply, tt.want)
			}
		})
	}
	// The fixed message is a copy: changing a served reply does not change the next one.
	r := &kycv1.CompareResponse{}
	_ = face.Recover(context.Background(), testkit.MethodCompare, nil, r, down)
	r.Similarity = 42
	r2 := &kycv1.CompareResponse{}
	_ = face.Recover(context.Background(), testkit.MethodCompare, nil, r2, down)
	if !proto.Equal(r2, degraded) {
		t.Errorf("second reply = %v, want %v", r2, degraded)
	}
}

func TestConcurrentServed(t *testing.T) {
	f, _ := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded), fallback.WithObserver(&testkit.Recorder{}))
	down := testkit.Status(grpccodes.Unavailable, "")
	const workers, each = 8, 100
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				r := &kycv1.CompareResponse{}
				if err := f.Recover(context.Background(), testkit.MethodCompare, nil, r, down); err != nil || !proto.Equal(r, degraded) {
					t.Errorf("Recover = %v, %v", r, err)
				}
			}
		}()
	}
	wg.Wait()
	if f.Served() != workers*each {
		t.Errorf("Served = %d, want %d", f.Served(), workers*each)
	}
}

// A reply served is the call's own event: it reaches the call's sink (observe.WithCallSink) as
// well as the policy's observer, even with no observer, so that a tracer tells a call a
// fallback answered from one that succeeded (before, only the policy's observer heard of it).
func TestServedReachesTheCallSink(t *testing.T) {
	down := testkit.Status(grpccodes.Unavailable, "")
	for _, withObserver := range []bool{false, true} {
		rec, call := &testkit.Recorder{}, &testkit.Recorder{}
		opts := []fallback.Option{}
		if withObserver {
			opts = append(opts, fallback.WithObserver(rec))
		}
		f, err := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded), opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := observe.WithCallSink(context.Background(), call)
		if err := f.Recover(ctx, testkit.MethodCompare, nil, &kycv1.CompareResponse{}, down); err != nil {
			t.Fatal(err)
		}
		evs := call.Events(observe.FallbackServed)
		if len(evs) != 1 || evs[0].Method != testkit.MethodCompare || evs[0].Code != grpccodes.Unavailable {
			t.Errorf("observer %v: the call's sink got %+v, want one FallbackServed for Unavailable", withObserver, evs)
		}
		if n := len(rec.Events(observe.FallbackServed)); withObserver && n != 1 {
			t.Errorf("the observer got %d FallbackServed, want 1", n)
		}
	}
}

// The call's sink gets the reply's FallbackServed even when the policy's observer panics on it
// (observe.Multi's promise): the observer's bug must not leave a tracer's record of the call
// short of the event. The panic goes on to the caller.
func TestServedReachesTheCallSinkPastAPanickingObserver(t *testing.T) {
	down := testkit.Status(grpccodes.Unavailable, "")
	bad := observe.SinkFunc(func(observe.Event) { panic("observer bug") })
	f, err := fallback.New(testkit.MethodCompare, fallback.Config{}, fallback.Message(degraded), fallback.WithObserver(bad))
	if err != nil {
		t.Fatal(err)
	}
	call := &testkit.Recorder{}
	ctx := observe.WithCallSink(context.Background(), call)
	func() {
		defer func() {
			if r := recover(); r != "observer bug" {
				t.Errorf("recovered %v, want the observer's panic", r)
			}
		}()
		_ = f.Recover(ctx, testkit.MethodCompare, nil, &kycv1.CompareResponse{}, down)
	}()
	if evs := call.Events(observe.FallbackServed); len(evs) != 1 {
		t.Errorf("the call's sink got %+v, want one FallbackServed", evs)
	}
}
