package streamend

import "testing"

// Each Cause names itself; the zero Cause (an End that no end made) and a value past the last
// read "unknown", never an empty name.
func TestCauseString(t *testing.T) {
	for _, tt := range []struct {
		c    Cause
		want string
	}{
		{0, "unknown"},
		{Recv, "recv"},
		{Reply, "reply"},
		{Send, "send"},
		{Caller, "caller"},
		{Transport, "transport"},
		{Panic, "panic"},
		{Header, "header"},
		{Header + 1, "unknown"},
		{255, "unknown"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Cause(%d).String() = %q, want %q", uint8(tt.c), got, tt.want)
		}
	}
}
