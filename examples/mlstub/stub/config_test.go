package stub

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	grpccodes "google.golang.org/grpc/codes"
)

func TestParseFailSpec(t *testing.T) {
	tests := []struct {
		spec    string
		want    map[grpccodes.Code]float64
		wantErr string
	}{
		{spec: "", want: map[grpccodes.Code]float64{}},
		{spec: "unavailable=0.2", want: map[grpccodes.Code]float64{grpccodes.Unavailable: 0.2}},
		{spec: "unavailable=0.2,deadline_exceeded=0.05", want: map[grpccodes.Code]float64{
			grpccodes.Unavailable: 0.2, grpccodes.DeadlineExceeded: 0.05}},
		{spec: " resource_exhausted = 1 ", want: map[grpccodes.Code]float64{grpccodes.ResourceExhausted: 1}},
		{spec: "UNAVAILABLE=0,internal=0.5", want: map[grpccodes.Code]float64{grpccodes.Unavailable: 0, grpccodes.Internal: 0.5}},
		{spec: "unavailable", wantErr: `fail spec entry "unavailable": want CODE=RATE`},
		{spec: "unavailable=0.1,", wantErr: `fail spec: empty entry (a stray comma?)`},
		{spec: "bogus=0.1", wantErr: `fail spec entry "bogus=0.1": unknown code "bogus" (want a gRPC code in snake_case, such as unavailable or deadline_exceeded)`},
		{spec: "Unavailable=0.1,deadlineexceeded=0.1", wantErr: `fail spec entry "deadlineexceeded=0.1": unknown code "deadlineexceeded" (want a gRPC code in snake_case, such as unavailable or deadline_exceeded)`},
		{spec: "ok=0.1", wantErr: `fail spec entry "ok=0.1": ok is not an error code`},
		{spec: "unavailable=x", wantErr: `fail spec entry "unavailable=x": rate "x" is not a number`},
		{spec: "unavailable=1.5", wantErr: `fail spec entry "unavailable=1.5": rate 1.5 is outside [0,1]`},
		{spec: "unavailable=-0.1", wantErr: `fail spec entry "unavailable=-0.1": rate -0.1 is outside [0,1]`},
		{spec: "unavailable=NaN", wantErr: `fail spec entry "unavailable=NaN": rate NaN is outside [0,1]`},
		{spec: "unavailable=0.1,unavailable=0.2", wantErr: `fail spec entry "unavailable=0.2": code unavailable given twice`},
		{spec: "unavailable=0.7,internal=0.5", wantErr: `fail spec: rates add up to 1.2, more than 1`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseFailSpec(tt.spec)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseFailSpec(%q) = %v, want error %q", tt.spec, got, tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("error = %q\nwant    %q", err, tt.wantErr)
				}
				var fse *FailSpecError
				if !errors.As(err, &fse) {
					t.Errorf("error is %T, want *FailSpecError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFailSpec(%q): %v", tt.spec, err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("ParseFailSpec(%q) = %v, want %v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestFormatFailSpecRoundTrips(t *testing.T) {
	m := map[grpccodes.Code]float64{grpccodes.Unavailable: 0.2, grpccodes.DeadlineExceeded: 0.05, grpccodes.ResourceExhausted: 0.1}
	s := FormatFailSpec(m)
	if want := "deadline_exceeded=0.05,resource_exhausted=0.1,unavailable=0.2"; s != want {
		t.Errorf("FormatFailSpec = %q, want %q", s, want)
	}
	back, err := ParseFailSpec(s)
	if err != nil || !maps.Equal(back, m) {
		t.Errorf("ParseFailSpec(FormatFailSpec(m)) = %v, %v; want %v", back, err, m)
	}
}

func TestCodeNamesCoverEveryCode(t *testing.T) {
	for c := grpccodes.Canceled; c <= grpccodes.Unauthenticated; c++ {
		name := CodeName(c)
		got, err := ParseCode(name)
		if err != nil || got != c {
			t.Errorf("ParseCode(CodeName(%v) = %q) = %v, %v", c, name, got, err)
		}
	}
	if CodeName(grpccodes.Code(99)) != "" {
		t.Error("CodeName of an unknown code is not empty")
	}
}

func TestParseServices(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "liveness,facematch,ocr", want: []string{"liveness", "facematch", "ocr"}},
		{in: "ocr", want: []string{"ocr"}},
		{in: " ocr , liveness ", want: []string{"ocr", "liveness"}},
		{in: "", wantErr: "no service given (want one or more of liveness, facematch, ocr)"},
		{in: " , ", wantErr: "no service given (want one or more of liveness, facematch, ocr)"},
		{in: "ocr,ocr", wantErr: `service "ocr" given twice`},
		{in: "ocr,kyc", wantErr: `unknown service "kyc" (want one of liveness, facematch, ocr)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseServices(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseServices(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParseServices(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "zero", cfg: Config{}},
		{name: "mild", cfg: Config{Faults: DefaultMildFaults()}},
		{name: "unknown service", cfg: Config{Services: []string{"kyc"}},
			wantErr: `services: unknown service "kyc" (want one of liveness, facematch, ocr)`},
		// As -services refuses it: the stub serves each once, so a list naming one twice
		// (logged as given at start) was taken as it read.
		{name: "service twice", cfg: Config{Services: []string{"ocr", "liveness", "ocr"}},
			wantErr: `services: service "ocr" given twice`},
		{name: "rate", cfg: Config{Faults: Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 2}}},
			wantErr: "faults: fail: rate 2 for unavailable is outside [0,1]"},
		{name: "ok code", cfg: Config{Faults: Faults{Fail: map[grpccodes.Code]float64{grpccodes.OK: 0.1}}},
			wantErr: "faults: fail: OK is not an error code"},
		{name: "sum", cfg: Config{Faults: Faults{Fail: map[grpccodes.Code]float64{grpccodes.Unavailable: 0.6, grpccodes.Aborted: 0.6}}},
			wantErr: "faults: fail: rates add up to 1.2, more than 1"},
		{name: "latency", cfg: Config{Faults: Faults{Latency: -time.Second}}, wantErr: "faults: latency: -1s is negative"},
		{name: "spike rate", cfg: Config{Faults: Faults{SpikeRate: 1.1}}, wantErr: "faults: spike_rate: 1.1 is outside [0,1]"},
		{name: "spike", cfg: Config{Faults: Faults{Spike: -1}}, wantErr: "faults: spike: -1ns is negative"},
		{name: "pushback", cfg: Config{Faults: Faults{Pushback: -1}}, wantErr: "faults: pushback: -1ns is negative"},
		{name: "outage after alone", cfg: Config{Outage: OutageWindow{After: time.Second}}, wantErr: "outage: after is set but for is zero"},
		{name: "outage for negative", cfg: Config{Outage: OutageWindow{For: -time.Second}}, wantErr: "outage: for -1s is negative"},
		{name: "script capacity", cfg: Config{ScriptCapacity: -1}, wantErr: "script_capacity: -1 is negative"},
		{name: "outage after negative", cfg: Config{Outage: OutageWindow{After: -time.Second, For: time.Second}}, wantErr: "outage: after -1s is negative"},
		// A negative StopTimeout would cut every call at once on Stop: no graceful part at all.
		{name: "stop timeout", cfg: Config{StopTimeout: -time.Second}, wantErr: "stop_timeout: -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Validate error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestFaultsJSON(t *testing.T) {
	f := Faults{
		Fail:      map[grpccodes.Code]float64{grpccodes.Unavailable: 0.2, grpccodes.DeadlineExceeded: 0.05},
		Latency:   20 * time.Millisecond,
		SpikeRate: 0.05,
		Spike:     2 * time.Second,
		Pushback:  500 * time.Millisecond,
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"fail":{"deadline_exceeded":0.05,"unavailable":0.2},"latency":"20ms","spike_rate":0.05,"spike":"2s","pushback":"500ms"}`
	if string(b) != want {
		t.Errorf("Marshal = %s\nwant      %s", b, want)
	}
	var back Faults
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(back.Fail, f.Fail) || back.Latency != f.Latency || back.SpikeRate != f.SpikeRate ||
		back.Spike != f.Spike || back.Pushback != f.Pushback {
		t.Errorf("round trip = %+v, want %+v", back, f)
	}

	for _, bad := range []struct{ in, wantErr string }{
		{`{"fail":{"bogus":0.1}}`, `fail: unknown code "bogus" (want a gRPC code in snake_case, such as unavailable or deadline_exceeded)`},
		{`{"latency":"soon"}`, `latency: "soon" is not a duration: want a Go duration string such as "20ms"`},
		{`{"latenc":"1s"}`, `json: unknown field "latenc"`},
	} {
		var f Faults
		if err := json.Unmarshal([]byte(bad.in), &f); err == nil || err.Error() != bad.wantErr {
			t.Errorf("Unmarshal(%s) error = %v, want %q", bad.in, err, bad.wantErr)
		}
	}
}

func TestDefaultMildFaults(t *testing.T) {
	f := DefaultMildFaults()
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if f.Fail[grpccodes.Unavailable] != 0.02 || len(f.Fail) != 1 || f.Latency != 20*time.Millisecond ||
		f.SpikeRate != 0.01 || f.Spike != 300*time.Millisecond {
		t.Errorf("DefaultMildFaults() = %+v", f)
	}
	// Each call returns its own map.
	f.Fail[grpccodes.Internal] = 1
	if _, ok := DefaultMildFaults().Fail[grpccodes.Internal]; ok {
		t.Error("DefaultMildFaults shares its map")
	}
}
