package retry

import (
	"testing"
	"time"
	"unsafe"
)

// TestUnaryCallLoopLast checks that a pooled unaryCall keeps what a call that succeeds at its
// first attempt through InvokeGated uses before its loop (and its CutOvertaken timer), which
// such a call neither sets up nor clears: it touches the struct's first cache lines only.
func TestUnaryCallLoopLast(t *testing.T) {
	var u unaryCall
	if end := unsafe.Offsetof(u.loop) + unsafe.Sizeof(u.loop); end != unsafe.Offsetof(u.cut) || end+unsafe.Sizeof(u.cut) != unsafe.Sizeof(u) {
		t.Errorf("unaryCall.loop ends at byte %d of %d: it must be the last field but the cut timer", end, unsafe.Sizeof(u))
	}
	const line = 64
	if lines := (unsafe.Offsetof(u.loop) + line - 1) / line; lines > 6 {
		t.Errorf("a first attempt's state spans %d cache lines (the loop starts at byte %d), want at most 6", lines, unsafe.Offsetof(u.loop))
	}
}

// TestReleaseClearsALoopSetUp checks that release clears the loop of a call that set it up,
// and leaves the pooled state holding nothing of the call either way.
func TestReleaseClearsALoopSetUp(t *testing.T) {
	p, err := New(Config{MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	u := new(unaryCall)
	p.initLoop(&u.loop, t.Context(), p.method("/a.S/M"), &u.c, nil, time.Time{}, time.Time{})
	u.loop.sent = 2
	u.release()
	if l := &u.loop; l.p != nil || l.m != nil || l.sent != 0 || l.limit != 0 || !l.start.IsZero() {
		t.Errorf("release left the loop of a call that set it up: p %p, m %p, sent %d, limit %d, start %v", l.p, l.m, l.sent, l.limit, l.start)
	}
}
