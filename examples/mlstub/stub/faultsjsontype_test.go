package stub

import (
	"encoding/json"
	"testing"
)

// Regression: a value of the wrong JSON type in PUT /faults was refused in encoding/json's
// words, which name a type of the stub's own code and no rule ("json: cannot unmarshal number
// into Go struct field faultsJSON.latency of type string"), and a duration string that does not
// parse said no more than "is not a duration". Each error names the field, what it got and
// what it wants.
func TestFaultsJSONErrorsNameFieldValueAndRule(t *testing.T) {
	for _, bad := range []struct{ in, wantErr string }{
		{`{"latency":5}`, `latency: got a JSON number, want a Go duration string such as "20ms"`},
		{`{"spike":"5"}`, `spike: "5" is not a duration: want a Go duration string such as "20ms"`},
		{`{"spike_rate":"x"}`, `spike_rate: got a JSON string, want a number in [0,1]`},
		{`{"capacity":1.5}`, `capacity: got a JSON number 1.5, want a whole number`},
		{`{"fail":[1]}`, `fail: got a JSON array, want an object of rates by code such as {"unavailable": 0.2}`},
		{`{"fail":{"unavailable":"0.2"}}`, `fail: got a JSON string, want a number in [0,1] for each code`},
		{`[1]`, `faults: got a JSON array, want an object such as {"fail": {"unavailable": 0.2}, "latency": "20ms"}`},
	} {
		var f Faults
		if err := json.Unmarshal([]byte(bad.in), &f); err == nil || err.Error() != bad.wantErr {
			t.Errorf("Unmarshal(%s) error = %v\nwant %q", bad.in, err, bad.wantErr)
		}
	}
}
