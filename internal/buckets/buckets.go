// Package buckets is the one way bulwark's sliding windows (the breaker's time window, the
// adaptive throttle's window) move: a ring of buckets, one per epoch, whose oldest buckets
// expire as the newest epoch moves forward.
package buckets

// Expire moves the newest epoch of a ring of n buckets (epoch i in bucket i % n) from head to
// e, and returns the new newest epoch. It calls expire with the index of each bucket that
// leaves the window, oldest first: the buckets of the epochs after head up to e, or, when e
// is n or more epochs ahead, each bucket once. An e at or before head (a clock read earlier
// than another, or one that went backwards) changes nothing. Epochs are not negative.
//
// A caller keeps running totals by subtracting the expiring bucket in expire and zeroing it;
// expire does not escape, so a func literal passed to Expire allocates nothing.
func Expire(head, e int64, n int, expire func(i int)) int64 {
	if e <= head {
		return head
	}
	k := min(e-head, int64(n))
	for j := e - k + 1; j <= e; j++ {
		expire(int(j % int64(n)))
	}
	return e
}
