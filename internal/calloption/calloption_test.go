package calloption

import (
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type settings struct{ a, b int }

type option struct {
	grpc.EmptyCallOption
	apply func(*settings)
}

func changeOf(o option) func(*settings) { return o.apply }

func TestSettings(t *testing.T) {
	base := &settings{a: 1, b: 2}
	setA := option{apply: func(s *settings) { s.a = 10 }}
	setB := option{apply: func(s *settings) { s.b = 20 }}
	tests := []struct {
		name     string
		opts     []grpc.CallOption
		want     settings
		wantBase bool // the base itself is returned
	}{
		{name: "no options", wantBase: true, want: *base},
		{name: "other packages' options", opts: []grpc.CallOption{grpc.WaitForReady(true)}, wantBase: true, want: *base},
		{name: "an option that changes nothing", opts: []grpc.CallOption{option{}}, wantBase: true, want: *base},
		{name: "in order", opts: []grpc.CallOption{setA, grpc.WaitForReady(true), setB}, want: settings{10, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Settings(base, tt.opts, changeOf)
			if (got == base) != tt.wantBase || *got != tt.want {
				t.Fatalf("Settings = %+v (base: %v), want %+v (base: %v)", *got, got == base, tt.want, tt.wantBase)
			}
			if *base != (settings{1, 2}) {
				t.Fatalf("base changed to %+v", *base)
			}
		})
	}
	opts := []grpc.CallOption{grpc.WaitForReady(true)}
	if n := testing.AllocsPerRun(100, func() { Settings(base, opts, changeOf) }); n != 0 {
		t.Fatalf("Settings without own options: %v allocs, want 0", n)
	}
}

type flag struct {
	grpc.EmptyCallOption
	n int
}

func TestScan(t *testing.T) {
	opts := []grpc.CallOption{flag{n: 1}, grpc.WaitForReady(true), option{}, flag{n: 2}}
	var got []int
	Scan(opts, func(f flag) { got = append(got, f.n) })
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("Scan saw %v, want [1 2]", got)
	}
	Scan(nil, func(flag) { t.Fatal("called for no options") })
	last := 0
	if n := testing.AllocsPerRun(100, func() { Scan(opts, func(f flag) { last = f.n }) }); n != 0 {
		t.Fatalf("Scan allocates %.0f times, want 0", n)
	}
	if last != 2 {
		t.Fatalf("last = %d", last)
	}
}

func (f flag) value() (int, bool) { return f.n, f.n != 0 }

func TestLast(t *testing.T) {
	tests := []struct {
		name string
		opts []grpc.CallOption
		want int
	}{
		{name: "none: the default", want: 7},
		{name: "other types", opts: []grpc.CallOption{grpc.WaitForReady(true), option{}}, want: 7},
		{name: "the last that carries one", opts: []grpc.CallOption{flag{n: 1}, grpc.WaitForReady(true), flag{n: 2}, flag{}}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Last(tt.opts, 7, flag.value); got != tt.want {
				t.Fatalf("Last = %d, want %d", got, tt.want)
			}
			if n := testing.AllocsPerRun(100, func() { Last(tt.opts, 7, flag.value) }); n != 0 {
				t.Fatalf("Last allocates %.0f times, want 0", n)
			}
		})
	}
}
