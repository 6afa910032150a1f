package streamend

import (
	"context"
	"io"
	"slices"
	"testing"

	"google.golang.org/grpc"
)

// logEnder is an Ender that logs its id and the end it saw, and panics when told to.
type logEnder struct {
	id    int
	panic bool
	log   *[]layerEnd
}

func (l *logEnder) StreamEnded(e End) {
	*l.log = append(*l.log, layerEnd{string(rune('0' + l.id)), e})
	if l.panic {
		panic("ender")
	}
}

// TestOnEndOfRunsInOrderWithOnEnd: Enders and funcs run once each, in the order they were
// registered, inline and past the inline room, with the same end; a panicking Ender stops
// none of the others; a Cancel releases its context; one registered after the end runs at
// once.
func TestOnEndOfRunsInOrderWithOnEnd(t *testing.T) {
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake(caller)
	defer f.finish()
	w := Watch(caller, &grpc.StreamDesc{ServerStreams: true}, f)
	var log []layerEnd
	fn := func(id int) func(End) {
		return func(e End) { log = append(log, layerEnd{string(rune('0' + id)), e}) }
	}
	held, release := context.WithCancel(context.Background())
	defer release()
	w.OnEnd(fn(1))
	w.OnEndOf(&logEnder{id: 2, panic: true, log: &log})
	w.OnEndOf(Cancel(release))
	w.OnEnd(fn(3))
	w.OnEndOf(&logEnder{id: 4, log: &log}) // Past the inline room.
	w.OnEndOf(&logEnder{id: 5, panic: true, log: &log})
	w.OnEnd(fn(6))
	f.recv <- io.EOF
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("RecvMsg did not pass the Ender's panic on")
			}
		}()
		_ = w.RecvMsg(nil)
	}()
	w.OnEndOf(&logEnder{id: 7, log: &log})
	end := End{Cause: Recv}
	want := []layerEnd{{"1", end}, {"2", end}, {"3", end}, {"4", end}, {"5", end}, {"6", end}, {"7", end}}
	if !slices.Equal(log, want) {
		t.Fatalf("ran %+v, want %+v", log, want)
	}
	if held.Err() == nil {
		t.Fatal("the Cancel registered with OnEndOf did not release its context")
	}
}

// TestOnEndOfAllocs: registering a value the layer holds anyway, or a cancel func, costs no
// allocation (a method value or a closure handed to OnEnd costs one).
func TestOnEndOfAllocs(t *testing.T) {
	caller, cancel := context.WithCancel(context.Background())
	defer cancel()
	desc := &grpc.StreamDesc{}
	f := newFake(caller)
	defer f.finish()
	e := &logEnder{log: new([]layerEnd)}
	_, release := context.WithCancel(context.Background())
	defer release()
	var w *Stream
	with := testing.AllocsPerRun(100, func() {
		w = Watch(caller, desc, f)
		w.OnEndOf(e)
		w.OnEndOf(Cancel(release))
		w.stop()
	})
	without := testing.AllocsPerRun(100, func() {
		w = Watch(caller, desc, f)
		w.stop()
	})
	if with != without {
		t.Fatalf("a stream with two Enders costs %.0f allocations, want %.0f, as one with none", with, without)
	}
}
