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
}

func (c *deadlineConn) Write([]byte) (int, error) {
	return 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
}

func (c *deadlineConn) Read(b []byte) (int, error) {
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
