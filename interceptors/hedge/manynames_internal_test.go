package hedge

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/internal/cowmap"
)

// A generic proxy forwarding the :path it is sent can name any number of methods. Past
// cowmap.MaxKeys names the Policy keeps none, and makes what it knows of a new one on every
// call: the names it does not keep share one hedge allowance, as the names too long to keep do.
// A fresh allowance, full at HedgeBurst, on every call of such a name would let each of its
// calls send a hedge that loses, however many did before.
func TestNamesPastTheTableShareTheHedgeAllowance(t *testing.T) {
	p, err := New(Config{MaxAttempts: 2, Delay: 10 * time.Millisecond, Idempotent: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cowmap.MaxKeys {
		p.method("/svc" + strconv.Itoa(i) + ".S/M")
	}
	const past = "/past.the.Table/M"
	taken := 0
	// A proxy's names come from the request: a new string each call.
	for p.method(strings.Clone(past)).hedges.take() {
		if taken++; taken > 2*HedgeBurst {
			break
		}
	}
	if taken > HedgeBurst {
		t.Fatalf("a name past the %d kept paid %d hedges with no call counted, want at most HedgeBurst (%d): each call made it a fresh allowance", cowmap.MaxKeys, taken, HedgeBurst)
	}
	if other := p.method("/past.the.Table/Other"); other.hedges.take() {
		t.Errorf("another name past the table has an allowance of its own, want the one the names not kept share (spent)")
	}
	if kept := p.method("/svc1.S/M"); kept.hedges == p.method(strings.Clone(past)).hedges || !kept.hedges.take() {
		t.Errorf("a kept name's allowance is not its own")
	}
}
