package within

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fatalTB records the message of its Fatalf, which ends the goroutine as testing.T's does.
type fatalTB struct {
	testing.TB
	fatal string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fatalTB on a goroutine of its own and returns what it failed with, ""
// when it did not.
func run(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	tb := &fatalTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	Recv(t, done, "the wait under test did not return")
	return tb.fatal
}

// Recv returns a value sent, and the zero value of a closed channel, without failing.
func TestRecvReturnsWhatCame(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	var got int
	if msg := run(t, func(tb testing.TB) { got = recv(tb, ch, "the seven did not come", time.Millisecond) }); msg != "" {
		t.Fatalf("failed: %q", msg)
	}
	if got != 7 {
		t.Fatalf("Recv = %d, want 7", got)
	}
	close(ch)
	got = -1
	if msg := run(t, func(tb testing.TB) { got = Recv(tb, ch, "the close did not come") }); msg != "" {
		t.Fatalf("failed: %q", msg)
	}
	if got != 0 {
		t.Fatalf("Recv of a closed channel = %d, want 0", got)
	}
}

// Recv fails the test, saying what did not happen and the bound, when nothing comes.
func TestRecvFailsNamingWhatDidNotHappen(t *testing.T) {
	ch := make(chan struct{})
	msg := run(t, func(tb testing.TB) {
		recv(tb, ch, "the breaker's probe did not end", 10*time.Millisecond)
		tb.Fatalf("recv returned")
	})
	if want := "the breaker's probe did not end within 10ms"; msg != want {
		t.Fatalf("failed with %q, want %q", msg, want)
	}
}

// Wait returns once the WaitGroup is done, and fails the test when it is not within the bound.
func TestWait(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(1)
	go wg.Done()
	if msg := run(t, func(tb testing.TB) { Wait(tb, &wg, "the goroutine did not end") }); msg != "" {
		t.Fatalf("failed: %q", msg)
	}
	wg.Add(1)
	msg := run(t, func(tb testing.TB) {
		wait(tb, &wg, "the two calls did not return", 10*time.Millisecond)
		tb.Fatalf("wait returned")
	})
	if want := "the two calls did not return within 10ms"; msg != want {
		t.Fatalf("failed with %q, want %q", msg, want)
	}
	wg.Done() // ends the goroutine left waiting
}
