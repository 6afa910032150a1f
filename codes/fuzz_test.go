package codes_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

// FuzzClassify feeds arbitrary google.rpc.Status protos (code, message, details of any type,
// including broken Any payloads) and pushback trailers to the classifier: it must never panic,
// and its answer must be consistent with the table.
func FuzzClassify(f *testing.F) {
	seed := func(code int32, trailer string, details ...proto.Message) {
		p := &spb.Status{Code: code, Message: "m"}
		for _, d := range details {
			a, err := anypb.New(d)
			if err != nil {
				f.Fatal(err)
			}
			p.Details = append(p.Details, a)
		}
		b, err := proto.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, trailer)
	}
	seed(14, "")
	seed(8, "100", &errdetails.RetryInfo{RetryDelay: durationpb.New(1e9)})
	seed(3, "", &errdetails.ErrorInfo{Reason: "DOCUMENT_UNREADABLE", Domain: "ocr"})
	seed(14, "-5", &errdetails.ErrorInfo{Reason: "CIRCUIT_OPEN", Domain: codes.Domain})
	seed(8, "x", &errdetails.RetryInfo{RetryDelay: &durationpb.Duration{Seconds: -1, Nanos: 5}})
	seed(99, "")
	f.Add([]byte{0x1a, 0x03, 0x0a, 0x01, 0x78}, "12")

	kyc, err := codes.Default().With(codes.Overrides{Reasons: map[string]codes.Class{"DOCUMENT_UNREADABLE": codes.Business}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte, trailer string) {
		p := &spb.Status{}
		if err := proto.Unmarshal(raw, p); err != nil {
			return
		}
		st := status.FromProto(p)
		var md metadata.MD
		if trailer != "" {
			md = metadata.Pairs(codes.PushbackKey, trailer)
		}
		for _, c := range []*codes.Classifier{codes.Default(), kyc} {
			v := c.ClassifyTrailer(st.Err(), md)
			if st.Code() == grpccodes.OK {
				if v.Class != codes.Success {
					t.Fatalf("OK status classified %v", v.Class)
				}
				continue
			}
			if v.Code != st.Code() {
				t.Fatalf("verdict code %v, status code %v", v.Code, st.Code())
			}
			if !v.Class.Valid() {
				t.Fatalf("invalid class %v", v.Class)
			}
			if v.Retryable() && !v.Class.Retryable() {
				t.Fatalf("retryable verdict of non-retryable class %v", v.Class)
			}
			if v.Pushback.Stop && v.Retryable() {
				t.Fatal("stop pushback but retryable")
			}
			if v.Pushback.Set && (v.Pushback.Delay < 0 || v.Pushback.Stop) {
				t.Fatalf("bad pushback %+v", v.Pushback)
			}
		}
	})
}

// FuzzPushback checks that any trailer value parses without panicking to either a non-negative
// delay or a request to stop, and that a delay is given exactly for A6's format (the canonical
// decimal form of an int32 ≥ 0: strconv.Itoa of the value gives the input back).
func FuzzPushback(f *testing.F) {
	for _, s := range []string{"0", "100", "-1", "", "1e3", "9223372036854775807", " 5", "+7", "0x10", "007", "2147483647", "2147483648"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := codes.ParsePushbackValue(s)
		if p.Set == p.Stop {
			t.Fatalf("%q: Set=%v Stop=%v, want exactly one", s, p.Set, p.Stop)
		}
		if p.Delay < 0 || p.Delay > 24*time.Hour {
			t.Fatalf("%q: delay %v out of [0, 24h]", s, p.Delay)
		}
		n, err := strconv.ParseInt(s, 10, 32)
		valid := err == nil && n >= 0 && strconv.FormatInt(n, 10) == s
		if p.Set != valid {
			t.Fatalf("%q: Set=%v, want %v (A6 format)", s, p.Set, valid)
		}
		if valid && p.Delay != min(time.Duration(n)*time.Millisecond, 24*time.Hour) {
			t.Fatalf("%q: delay %v", s, p.Delay)
		}
	})
}

// FuzzRejectionWire checks that a Rejection reads the same after a trip over the wire (its
// status marshalled as a grpc server sends it, which drops every detail of a status that does
// not marshal, then classified by the caller): class Rejected,
// its code and reason, and its RetryAfter as pushback (capped at 24 h), with retry_after_ms in
// whole milliseconds rounded up.
func FuzzRejectionWire(f *testing.F) {
	f.Add(uint32(14), "CIRCUIT_OPEN", "breaker", "a.v1.S", int64(1500*time.Millisecond))
	f.Add(uint32(8), "RATE_LIMITED", "rate_limit", "b.S", int64(1))
	f.Add(uint32(0), "", "", "", int64(0))
	f.Add(uint32(99), "X", "p", "s", int64(-5))
	f.Add(uint32(14), "BULKHEAD_FULL", "bulkhead", "pkg.Svc", int64(1<<62))
	f.Fuzz(func(t *testing.T, code uint32, reason, policy, service string, retryAfter int64) {
		r := &codes.Rejection{Code: grpccodes.Code(code), Reason: reason, Policy: policy, Service: service, RetryAfter: time.Duration(retryAfter)}
		sent := r.GRPCStatus().Proto()
		p := &spb.Status{}
		if b, err := proto.Marshal(sent); err != nil {
			// What grpc-go's server does: code and message in their own trailers, no details.
			p = &spb.Status{Code: sent.GetCode(), Message: sent.GetMessage()}
		} else if err := proto.Unmarshal(b, p); err != nil {
			t.Fatal(err)
		}
		v := codes.Default().Classify(status.FromProto(p).Err())
		wantCode := grpccodes.Code(code)
		if wantCode == grpccodes.OK {
			wantCode = grpccodes.Unavailable
		}
		// A protobuf string holds UTF-8 only: bytes that are not are sent as U+FFFD.
		if v.Class != codes.Rejected || v.Code != wantCode || v.Reason != strings.ToValidUTF8(reason, "\uFFFD") {
			t.Fatalf("%+v over the wire: %+v", r, v)
		}
		if want := r.RetryAfter > 0; v.Pushback.Set != want || v.Pushback.Stop ||
			want && v.Pushback.Delay != min(r.RetryAfter, 24*time.Hour) {
			t.Fatalf("%+v over the wire: pushback %+v", r, v.Pushback)
		}
		for _, d := range status.FromProto(p).Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok && r.RetryAfter > 0 {
				ms, err := strconv.ParseInt(info.GetMetadata()["retry_after_ms"], 10, 64)
				want := int64(r.RetryAfter / time.Millisecond)
				if r.RetryAfter%time.Millisecond != 0 {
					want++
				}
				if err != nil || ms != want {
					t.Fatalf("%+v: retry_after_ms %q", r, info.GetMetadata()["retry_after_ms"])
				}
			}
		}
	})
}

// FuzzParseClass checks that any name parses without panicking to either the class whose
// String (and MarshalText) gives the name back, or an error that quotes the name and the
// rule; UnmarshalText, which the configuration's decoder calls, answers as ParseClass does.
func FuzzParseClass(f *testing.F) {
	for _, c := range codes.Classes() {
		f.Add(c.String())
	}
	for _, s := range []string{"", "Business", "server-fault", " transient", "transient\x00", "class(7)", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, err := codes.ParseClass(name)
		var u codes.Class
		uerr := u.UnmarshalText([]byte(name))
		if (err == nil) != (uerr == nil) || u != c {
			t.Fatalf("%q: ParseClass = %v, %v; UnmarshalText = %v, %v", name, c, err, u, uerr)
		}
		if err != nil {
			if msg := err.Error(); !strings.Contains(msg, strconv.Quote(name)) || !strings.Contains(msg, "is not a class") {
				t.Fatalf("%q: error %q does not quote the name and the rule", name, msg)
			}
			return
		}
		if !c.Valid() || c.String() != name {
			t.Fatalf("%q: parsed to %v (valid %v)", name, c, c.Valid())
		}
		if b, err := c.MarshalText(); err != nil || string(b) != name {
			t.Fatalf("%q: MarshalText = %q, %v", name, b, err)
		}
	})
}
