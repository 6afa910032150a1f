package optkit

import (
	"errors"
	"strings"
	"testing"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	"github.com/bulwarkrpc/bulwark/internal/fielderr"
	"github.com/bulwarkrpc/bulwark/observe"
)

// funcSink is an observe.Sink of a func type, whose unset variable is a nil func.
type funcSink func(observe.Event)

func (f funcSink) Observe(e observe.Event) { f(e) }

func TestTypedNil(t *testing.T) {
	var (
		p  *sink
		fn funcSink
		m  map[string]int
		ch chan int
		sl []int
	)
	for _, tt := range []struct {
		name string
		v    any
		want bool
	}{
		{"nil", nil, false},
		{"nil pointer", p, true},
		{"nil func", fn, true},
		{"nil map", m, true},
		{"nil chan", ch, true},
		{"nil slice", sl, true},
		{"a pointer", &sink{}, false},
		{"a func", funcSink(func(observe.Event) {}), false},
		{"a struct", struct{}{}, false},
		{"an int", 0, false},
	} {
		if got := TypedNil(tt.v); got != tt.want {
			t.Errorf("TypedNil(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckTypedNil(t *testing.T) {
	var clk *clocktest.Fake
	var s *sink
	var fn funcSink
	if err := CheckTypedNil(nil, nil); err != nil {
		t.Fatalf("CheckTypedNil(nil, nil) = %v, want nil", err)
	}
	if err := CheckTypedNil(clocktest.New(clock.Real.Now()), &sink{}); err != nil {
		t.Fatalf("CheckTypedNil of set values = %v, want nil", err)
	}
	err := CheckTypedNil(clk, s)
	leaves := fielderr.Flatten(err)
	if len(leaves) != 2 {
		t.Fatalf("CheckTypedNil(nil *Fake, nil *sink) = %v, want an error for each", err)
	}
	for i, want := range []struct{ path, value string }{
		{"WithClock", "a nil *clocktest.Fake"}, {"WithObserver", "a nil *optkit.sink"},
	} {
		var fe *fielderr.Error
		if !errors.As(leaves[i], &fe) || fe.Path != want.path || fe.Value != want.value || !strings.Contains(fe.Rule, "typed nil") {
			t.Errorf("error %d = %v, want %s: %s is a typed nil…", i, leaves[i], want.path, want.value)
		}
	}
	if err := (Common{Sink: fn}).CheckTypedNil(); err == nil || !strings.HasPrefix(err.Error(), "WithObserver: a nil optkit.funcSink is a typed nil") {
		t.Errorf("Common{nil func sink}.CheckTypedNil() = %v, want WithObserver's error", err)
	}
}
