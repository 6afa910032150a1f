package tlsflags

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// deadlineConn is a connection whose writes fail as on a connection the server reset, whose
// reads return what it holds, and which records the read deadline it was last given.
type deadlineConn struct {
	net.Conn // nil: only what alertConn calls is implemented
	data     []byte
	deadline time.Time
	onRead   func() // when not nil, called once by the next Read, before it reads
}

func (c *deadlineConn) Write([]byte) (int, error) {
	return 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if f := c.onRead; f != nil {
		c.onRead = nil
		f()
	}
	n := copy(b, c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.deadline = t
	return nil
}

// TestFailedWriteLeavesNoReadDeadline: a write that fails on a reset connection reads what the
// server sent last, under a read deadline of alertWait. The deadline stayed set: when that read
// found bytes rather than an error, the caller's reads after them ended in an i/o timeout a
// second later, at a time it never chose, instead of with the connection's own end.
func TestFailedWriteLeavesNoReadDeadline(t *testing.T) {
	raw := &deadlineConn{data: []byte("frame")}
	c := newAlertConn(raw)
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("Write succeeded on a reset connection")
	}
	if !raw.deadline.IsZero() {
		t.Errorf("read deadline after a failed write = %v, want none (the zero time)", raw.deadline)
	}
	b := make([]byte, 16)
	if n, err := c.Read(b); err != nil || string(b[:n]) != "frame" {
		t.Errorf("Read after the failed write = %q, %v, want the bytes the write read, \"frame\"", b[:n], err)
	}
}

// TestFailedWriteKeepsTheCallersReadDeadline: grpc-go's transport Close gives the connection
// a read deadline of one second, so that its reader cannot hold Close. A write that failed on
// a reset connection, reading what the server sent last under its own bound, then cleared the
// read deadline: it erased the caller's, whether set before the write or while its read ran.
// The caller's deadline is the one left, whenever it was set.
func TestFailedWriteKeepsTheCallersReadDeadline(t *testing.T) {
	closeDeadline := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		before bool // the caller sets its deadline before the write; else while the write reads
	}{
		{"set before the write", true},
		{"set while the write reads", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := &deadlineConn{data: []byte("frame")}
			c := newAlertConn(raw)
			if tc.before {
				if err := c.SetReadDeadline(closeDeadline); err != nil {
					t.Fatal(err)
				}
			} else {
				raw.onRead = func() { _ = c.SetReadDeadline(closeDeadline) }
			}
			if _, err := c.Write([]byte("x")); err == nil {
				t.Fatal("Write succeeded on a reset connection")
			}
			if !raw.deadline.Equal(closeDeadline) {
				t.Errorf("read deadline after a failed write = %v, want the caller's, %v", raw.deadline, closeDeadline)
			}
		})
	}
}
