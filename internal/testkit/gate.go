package testkit

import (
	"context"
	"fmt"
	"sync"

	"github.com/bulwarkrpc/bulwark/section"
	"google.golang.org/grpc"
)

// GateLog records, in order, what the Gates that share it are asked.
type GateLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *GateLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// Add records line, for the test's own events (the invoker's call) among the gates'.
func (l *GateLog) Add(line string) { l.add("%s", line) }

// Lines returns what was recorded.
func (l *GateLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// Gate is a section.Gate that records each Enter ("enter NAME", or "enter NAME refused") and
// Exit ("exit NAME pass=ID err=ERR panicked=BOOL") in Log. Its Enter gives the Pass Word ID,
// so that an Exit line shows whether the gate got its own Pass back; it refuses with Refuse
// when that is set.
type Gate struct {
	Name   string
	ID     uint64
	Log    *GateLog
	Refuse error
}

// InvokeStep is section.InvokeGate.
func (g *Gate) InvokeStep(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts []grpc.CallOption, next section.Next) error {
	return section.InvokeGate(g, ctx, method, req, reply, cc, opts, next)
}

// Enter records the call and admits it, unless Refuse is set.
func (g *Gate) Enter(context.Context, string, []grpc.CallOption) (section.Pass, error) {
	if g.Refuse != nil {
		g.Log.add("enter %s refused", g.Name)
		return section.Pass{}, g.Refuse
	}
	g.Log.add("enter %s", g.Name)
	return section.Pass{Word: g.ID}, nil
}

// Exit records the call's outcome.
func (g *Gate) Exit(_ context.Context, _ string, _ []grpc.CallOption, p section.Pass, err error, panicked bool) {
	g.Log.add("exit %s pass=%d err=%v panicked=%v", g.Name, p.Word, err, panicked)
}
