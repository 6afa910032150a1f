package app

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

// TestListenFailureNamesItsFlag: an address that -serve or -metrics cannot listen on (in use)
// is named by its flag, as -config's unreadable file is and mlstub's -listen is. The error
// read "serve: listen tcp ..." and "metrics: listen tcp ...", which named no flag.
func TestListenFailureNamesItsFlag(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-serve", addr}, "-serve: listen tcp " + addr + ": "},
		{[]string{"-metrics", addr, "-n", "0"}, "-metrics: listen tcp " + addr + ": "},
	} {
		err := Run(context.Background(), tt.args, new(bytes.Buffer), new(bytes.Buffer))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%v with %s taken: %v, want an error beginning %q", tt.args, addr, err, tt.want)
		}
	}
}
