package promobs

import (
	"testing"

	"github.com/bulwarkrpc/bulwark/codes"
	"github.com/bulwarkrpc/bulwark/observe"
	"github.com/prometheus/client_golang/prometheus"
	grpccodes "google.golang.org/grpc/codes"
)

// learn keeps nothing of another method's event: the race where another goroutine made its
// method the kept one between Observe's look at kept and learn's lock.
func TestLearnKeepsOnlyTheKeptMethod(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := m.ForMethod("kyc.v1.OCRService", "/kyc.v1.OCRService/Extract").(*methodSink)
	ok := observe.Event{Kind: observe.CallFinished, Service: "kyc.v1.OCRService", Code: grpccodes.OK, Class: codes.Success}
	a, b := ok, ok
	a.Method, b.Method = "/kyc.v1.OCRService/Extract", "/kyc.v1.OCRService/Other"
	first := a
	first.Kind = observe.AttemptFinished
	if !s.learn(first, keptAttempt) { // the first learned event makes a's method the kept one
		t.Fatal("learn of the first event kept nothing")
	}
	if s.learn(b, keptCall) {
		t.Fatal("learn kept the series of another method's event")
	}
	if k := s.kept.Load(); k&keptCall != 0 || s.method != a.Method {
		t.Fatalf("kept bits %b, method %q; want no call series and %q", k, s.method, a.Method)
	}
	if !s.learn(a, keptCall) || s.learn(a, keptCall) {
		t.Fatal("learn of the kept method's call: want it kept once")
	}
}
