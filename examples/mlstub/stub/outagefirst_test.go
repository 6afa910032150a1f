package stub

import (
	"context"
	"testing"

	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Regression: the outage check is the first of the faults (see the package doc), but a request
// with malformed scripting metadata got InvalidArgument during an outage, a business error no
// policy retries, where every other request got Unavailable.
func TestOutageComesBeforeTheScript(t *testing.T) {
	e := start(t, Config{})
	e.s.Down()
	err := e.extract(withScript(context.Background(), MDFailFirst, "two"))
	if status.Code(err) != grpccodes.Unavailable {
		t.Fatalf("a request with a bad script during an outage: %v, want Unavailable", err)
	}
}
